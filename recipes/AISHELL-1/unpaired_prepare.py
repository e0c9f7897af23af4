"""Unpaired speech for pre-training: ``speechbrain_mmspeech.unpaired``.

``prepare_unpaired_speech`` lives in the package (``build_codes.py`` uses it
from there); ``pretrain.py`` still imports it by this name.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.unpaired import prepare_unpaired_speech

__all__ = ["prepare_unpaired_speech"]
