"""Model folders: the core files, the CTC folder, the hub.

- ``folders``: every file name of a folder, the inference template,
  ``write_model_folder``.
- ``ctc``: the character-CTC folder for SpeechBrain's ``EncoderASR``.
- ``hub``: publishing a folder to the Hugging Face hub.
"""

from speechbrain_mmspeech._redirects import moved_names

__getattr__ = moved_names("export")  # the names of the old module
