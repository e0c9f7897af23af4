"""Data on disk and in batches: manifests, pools, the text pool, preparation.

- ``manifests``: reading SpeechBrain CSV manifests.
- ``pools``: the datasets of the three pools (labeled speech, unpaired text
  and speech); ``batches``: mixed batches, samplers and loaders.
- ``text_pool``: the text pool, the character vocabulary and the held-out
  (dev and test) sentences.
- ``aishell_prepare``: AISHELL-1 manifests; ``unpaired``: the unpaired
  speech manifest and the S2C quantizer's fitting.
- ``fileio``: all-or-nothing file writes and CSV writing.
"""
