"""From a wav to its text: the interfaces and the transcription command.

- ``ASR``: ``MMSpeechASR``, SpeechBrain's ``EncoderDecoderASR`` with file
  checks, N-best rescoring and details.
- ``vad``, ``segmentation``, ``segment_decoding``: long audio cut at its
  pauses and decoded segment by segment.
- ``alignment``: character times; ``results``: result objects.
- ``quantization``: int8 loading.
- ``cli``: ``mmspeech-transcribe``; ``inputs``: what it reads (files,
  folders, ``wav.scp``, CSV); ``writers``: what it writes (text, JSON lines,
  SRT).
"""

from speechbrain_mmspeech._redirects import moved_names

__getattr__ = moved_names("inference")  # the names of the old module
