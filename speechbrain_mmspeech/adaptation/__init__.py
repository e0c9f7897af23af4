"""Text-only domain adaptation of a model folder (``mmspeech-adapt``).

One file per step:

- ``domain_text``: reading and checking the domain text files, and the
  held-out part that chooses the n-gram's interpolation weight;
- ``vocabulary``: the domain's new characters get new ids (new embedding
  and output rows, every old id and row unchanged);
- ``ngram``: the folder's character n-gram interpolated with one of the
  domain text, the weight chosen by held-out perplexity;
- ``p2t``: the decoder trained further with P2T on the domain text mixed
  with the original text pool (encoder frozen);
- ``adapt``: ``adapt_model_folder``, the whole run from a folder to a new
  folder; ``cli``: the console script.

Settings live in ``hparams/adapt.yaml``.

Authors
 * MMSpeech plugin contributors 2026
"""
