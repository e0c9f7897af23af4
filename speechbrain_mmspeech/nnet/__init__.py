"""Building blocks of the MMSpeech network (no I/O).

- ``attention``: multi-head attention with the official position biases.
- ``layers``: embedding initialisation, DropPath, channel LayerNorm.
- ``masking``: padding masks and the span masks of MSP and P2T.
"""
