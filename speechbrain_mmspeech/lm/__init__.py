"""Language models fitted on text: the character n-gram LM and its scorer.

The Transformer LM is a network: ``lobes.models.transformer_lm``.
"""

from speechbrain_mmspeech._redirects import moved_names

__getattr__ = moved_names("lm")  # the names of the old ``lm`` module
