"""Language models fitted on text: the character n-gram LM and its scorer.

- ``ngram``: ``NgramLM`` (its tables, queries and adaptation) and
  ``NgramLMScorer``, its beam-search scorer;
- ``kneser_ney``: counting sentences and smoothing the counts into the
  tables ``NgramLM.fit`` sets.

The Transformer LM is a network: ``lobes.models.transformer_lm``.
"""

from speechbrain_mmspeech._redirects import moved_names

__getattr__ = moved_names("lm")  # the names of the old ``lm`` module
