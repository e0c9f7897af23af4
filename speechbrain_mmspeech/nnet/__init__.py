"""Building blocks of the MMSpeech network (no I/O).

- ``attention``: multi-head attention with the official position biases.
- ``layers``: embedding initialisation, DropPath, channel LayerNorm.
- ``masking``: padding masks and the span masks of MSP and P2T.
- ``precision``: bf16 Linear layers and convolutions in an fp32 network,
  and the warning for bf16 on a CPU without bf16 kernels.
"""
