"""MMSpeech for SpeechBrain: speech and text pre-training bridged by pinyin.

The package holds the MMSpeech network (``encoder``, ``decoder``, ``model``),
its tokenizers, front end, training tasks and decoding glue, each importable
from HyperPyYAML as ``!new:speechbrain_mmspeech.<module>.<Class>``.
"""

__version__ = "0.1.0"
