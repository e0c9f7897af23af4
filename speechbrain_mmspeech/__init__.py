"""MMSpeech for SpeechBrain: speech and text pre-training bridged by pinyin.

The subpackages follow SpeechBrain's own: ``nnet`` (building blocks),
``lobes`` (front end, networks, the encoder lobe), ``decoders`` (beam search
and scorers), ``lm`` (the n-gram LM), ``dataio``, ``training``,
``inference`` and ``export`` (model folders); ``tokenizers``, ``pinyin`` and
``text`` sit at the top. Every class is importable from HyperPyYAML as
``!new:speechbrain_mmspeech.<subpackage>.<module>.<Class>``; the module
paths from before the subpackages still load, with a ``DeprecationWarning``.
"""

from speechbrain_mmspeech._redirects import redirect_moved_modules

__version__ = "0.1.0"

redirect_moved_modules()
