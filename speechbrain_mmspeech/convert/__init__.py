"""Official MMSpeech checkpoints -> SpeechBrain model folders.

Two official layouts are read: a ModelScope model folder and a fairseq
checkpoint from the OFA release (with its vocabulary files). The
architecture is read from the checkpoint's own configuration, the weights
are renamed to our (ModelScope) names and matched strictly against a model
built from it, and the folder is written with the checkpoint's own
vocabularies, its front end and its official decoding settings.

One file per step, in the order a conversion runs:

- ``reading.py``: reading files safely (no pickled code runs), and
  ``ConversionError``;
- ``modelscope.py``, ``fairseq.py``: the two layouts, each read into an
  ``OfficialCheckpoint``;
- ``official.py``: the official file and tensor names, the renames, the
  tensors ASR never uses;
- ``settings.py``: configuration values -> our hyperparameters;
- ``vocabulary.py``: ``vocab.txt`` and ``phone_dict.txt`` -> tokenizers;
- ``fbank.py``: ``fbank_config.yaml`` -> the front end (CMVN);
- ``weights.py``: building the model and matching the weights strictly;
- ``folder.py``: writing the model folder and ``conversion.json``;
- ``cli.py``: the ``mmspeech-convert`` command line (also publishing).

Example
-------
>>> from speechbrain_mmspeech.convert import convert_fairseq
>>> convert_fairseq(
...     "ofa_mmspeech_base1_aishell1.pt",
...     "vocab.txt",
...     "phone_dict.txt",
...     "fbank_config.yaml",
...     "models/mmspeech-base1-aishell1",
... )  # doctest: +SKIP

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.convert.fairseq import convert_fairseq, read_fairseq
from speechbrain_mmspeech.convert.folder import OfficialCheckpoint, write_folder
from speechbrain_mmspeech.convert.modelscope import (
    convert_modelscope,
    read_modelscope,
)
from speechbrain_mmspeech.convert.reading import ConversionError

__all__ = [
    "ConversionError",
    "OfficialCheckpoint",
    "convert_fairseq",
    "convert_modelscope",
    "read_fairseq",
    "read_modelscope",
    "write_folder",
]
