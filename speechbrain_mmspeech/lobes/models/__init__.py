"""The networks: ``encoder``, ``decoder``, ``mmspeech`` and ``transformer_lm``."""
