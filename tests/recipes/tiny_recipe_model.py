"""The tiny model size shared by the recipe tests, as command-line overrides.

Pre-training and fine-tuning tests pass the same overrides, so that a
checkpoint of one loads into the other. The test files import this module by
name (pytest's default ``prepend`` import mode puts ``tests/recipes`` on
``sys.path``).

Authors
 * MMSpeech plugin contributors 2026
"""

TEXT_VOCAB = 120
TINY_MODEL = [
    "--d_model=32",
    "--nhead=2",
    "--num_encoder_layers=2",
    "--num_decoder_layers=1",
    "--d_ffn=64",
    "--subsample_channels=8",
    "--context_layer=1",
    "--pos_conv_depth=2",
    "--pos_conv_kernel=5",
    "--pos_conv_groups=4",
    f"--text_vocab_size={TEXT_VOCAB}",
    "--max_positions=64",
    "--rel_pos_bucket_size=16",
]
