"""Data on disk: audio, manifests, pools, the text pool, preparation.

- ``fileio``: all-or-nothing file writes and CSV writing.
- ``aishell_prepare``: AISHELL-1 manifests; ``unpaired``: the unpaired
  speech manifest and the S2C quantizer's fitting.
"""
