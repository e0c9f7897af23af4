"""The networks: ``encoder``, ``decoder``, ``mmspeech`` and ``transformer_lm``
(``sizes``: their official Base defaults)."""
