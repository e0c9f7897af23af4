"""Beam search and the scorers it adds up.

- ``seq2seq``: ``MMSpeechBeamSearcher``, SpeechBrain's Transformer beam
  search with the MMSpeech rules and the decoder's key/value cache.
- ``phone_ctc``: phone-aware scoring, the CTC prefix score of each
  hypothesis' pinyin phones under the phone head.
"""
