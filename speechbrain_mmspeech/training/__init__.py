"""Training: the Brains, the five tasks, S2C codes, DDP, checkpoints.

- ``brain``: ``MMSpeechBrain`` and ``ScheduledBrain``; ``settings``: a
  recipe's hyperparameters, with renamed settings refused by name.
- ``tasks``: P2T, S2C, MSP, PP and S2T, batch construction and loss;
  ``decoder_losses``: the teacher-forced decoding and summed
  cross-entropy they share.
- ``codes``: the S2C pseudo-codes; ``distributed``: samplers and metrics
  under DDP; ``checkpoints``: checkpoints a kill cannot leave half-written.
"""

from speechbrain_mmspeech._redirects import moved_names

__getattr__ = moved_names("training")  # the names of the old module
