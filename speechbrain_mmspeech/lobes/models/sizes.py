"""The official MMSpeech-Base sizes, the keyword defaults of the networks.

``MMSpeechFbank``, ``SpeechEncoder``, ``TextDecoder`` and
``Conv2dSubsampling`` default to the Base model; its full preset, which the
recipes and model folders read, is ``hparams/base.yaml``.

Example
-------
>>> BASE_D_MODEL // BASE_NHEAD, BASE_D_FFN // BASE_D_MODEL
(64, 4)

Authors
 * MMSpeech plugin contributors 2026
"""

# Filterbank channels of the official front end (also MMSpeech-Large).
N_MELS = 80
BASE_D_MODEL = 768
BASE_NHEAD = 12
BASE_D_FFN = 3072
