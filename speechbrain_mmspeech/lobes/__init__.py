"""The front end, the networks and the encoder as a SpeechBrain lobe.

- ``features``: the official Kaldi fbank (``MMSpeechFbank``) and CMVN.
- ``models/``: ``encoder``, ``decoder``, ``mmspeech`` (the two joined,
  built from one ``architecture``), ``transformer_lm``.
- ``wrappers``: ``MMSpeechEncoder`` (a model folder as a lobe);
- ``memory_head``, ``foreign_encoder``: ``MemoryHead`` and
  ``ForeignEncoder``, for mixing with SpeechBrain parts.
"""

from speechbrain_mmspeech._redirects import moved_names

__getattr__ = moved_names("lobes")  # the names of the old ``lobes`` module
