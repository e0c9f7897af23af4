"""The five MMSpeech pre-training tasks: batch construction and loss.

One small class per task, as in the official code (OFA
``data/s2t_data/unify_dataset.py`` builds the inputs,
``criterions/speech_pretrain_loss.py`` computes the losses):

- ``PhoneToTextTask`` (P2T, unpaired text): 30% of the pinyin phones are
  masked (10% of those replaced by a random phone), the phones enter the
  encoder at its context layer with no speech, and the decoder predicts the
  original characters; the output is restricted to the text vocabulary.
- ``SpeechToCodeTask`` (S2C, unpaired speech): speech masked in time
  (probability 0.7, spans of 10 frames) is decoded into its pseudo-code
  sequence (see ``speechbrain_mmspeech.training.codes``); codes follow the text ids
  in the decoder vocabulary.
- ``MaskedSpeechPredictionTask`` (MSP, same forward pass as S2C): the phone
  posteriors of the masked input (student) are pulled towards those of the
  same encoder run on the unmasked input in eval mode without gradients
  (teacher), at the masked frames.
- ``PhonePredictionTask`` (PP, labeled speech): CTC on the encoder's phone
  head.
- ``SpeechToTextTask`` (S2T, labeled speech, same forward pass as PP):
  speech masked with probability 0.3 is decoded into its characters.

Every loss is a **sum** (over target tokens, frames or utterances); the
recipe divides the weighted sum of all tasks by the number of sentences of
the batch, as the official ``--sentence-avg`` criterion does. The
teacher-forced decoding and the cross-entropy of the decoding tasks live in
``speechbrain_mmspeech.training.decoder_losses`` (importable from here too).

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import math

import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

# The ids of the official phone inventory (phones at 4..123, <mask> at 124),
# the phone CTC blank and the text specials.
from speechbrain_mmspeech.tokenizers import (
    BOS_INDEX,
    CTC_BLANK_INDEX,
    EOS_INDEX,
    PHONE_MASK_INDEX,
    PHONE_OFFSET,
)

# restrict_to_vocabulary is imported for the code that imports it from here.
from speechbrain_mmspeech.training.decoder_losses import (  # noqa: F401
    TextTargetTask,
    restrict_to_vocabulary,
    summed_nll,
    teacher_forced_logits,
)

P2T_MASK_RATIO = 0.3  # ceil(0.3 * length) phones are masked
P2T_RANDOM_RATIO = 0.1  # ... and 10% of those become a random phone
S2C_TIME_MASK_PROB = 0.7  # the official audio_mask_prob of ofa_speech_base
S2T_TIME_MASK_PROB = 0.3


class PhoneToTextTask(TextTargetTask):
    """P2T: masked pinyin phones (no speech) -> the original characters.

    ``mask_phones`` builds the input of one sentence, as the official
    ``add_noise_to_phone``: ``ceil(mask_ratio * length)`` positions drawn
    without replacement become ``<mask>``, and each of them becomes a random
    phone instead with probability ``random_ratio`` (there is no "keep"
    case). ``forward`` feeds the phones alone: the encoder skips the layers
    below its context layer. ``loss`` restricts the softmax to the text
    vocabulary.

    Arguments
    ---------
    text_vocab_size : int
        Number of text ids (codes, if any, come after them).
    mask_index : int
        Id of the phone ``<mask>``; random phones are drawn in
        ``[phone_offset, mask_index)``.
    phone_offset : int
        Id of the first phone.
    mask_ratio : float
        Fraction of positions masked (rounded up).
    random_ratio : float
        Probability that a masked position gets a random phone instead.

    Example
    -------
    >>> task = PhoneToTextTask(text_vocab_size=10)
    >>> phones = torch.arange(4, 14)
    >>> masked = task.mask_phones(phones, torch.Generator().manual_seed(0))
    >>> int((masked != phones).sum())  # ceil(0.3 * 10) positions
    3
    """

    def __init__(
        self,
        text_vocab_size,
        mask_index=PHONE_MASK_INDEX,
        phone_offset=PHONE_OFFSET,
        mask_ratio=P2T_MASK_RATIO,
        random_ratio=P2T_RANDOM_RATIO,
    ):
        super().__init__(text_vocab_size)
        self.mask_index = mask_index
        self.phone_offset = phone_offset
        self.mask_ratio = mask_ratio
        self.random_ratio = random_ratio

    def mask_phones(self, phones, generator=None):
        """Masks the phone ids of one sentence.

        Arguments
        ---------
        phones : torch.Tensor or list of int
            Phone ids of the sentence.
        generator : torch.Generator
            Optional source of randomness.

        Returns
        -------
        torch.Tensor
            A new LongTensor of the same length.
        """
        phones = torch.as_tensor(phones, dtype=torch.long).clone()
        n_masked = math.ceil(len(phones) * self.mask_ratio)
        if n_masked == 0:
            return phones
        positions = torch.randperm(len(phones), generator=generator)
        positions = positions[:n_masked]
        phones[positions] = self.mask_index
        randomised = positions[
            torch.rand(n_masked, generator=generator) < self.random_ratio
        ]
        phones[randomised] = torch.randint(
            self.phone_offset,
            self.mask_index,
            (len(randomised),),
            generator=generator,
        )
        return phones

    def forward(self, model, phones, phone_lens, tokens_bos):
        """Encodes the phones alone and decodes with teacher forcing.

        Arguments
        ---------
        model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
            The network.
        phones : torch.Tensor
            ``[batch, n_phones]`` masked phone ids.
        phone_lens : torch.Tensor
            Relative lengths of ``phones``.
        tokens_bos : torch.Tensor
            ``[batch, length]`` decoder inputs.

        Returns
        -------
        torch.Tensor
            ``[batch, length, vocab]`` logits.
        """
        encoded = model.encoder(
            None, None, phones=phones, phone_lens=phone_lens
        )
        return teacher_forced_logits(model, tokens_bos, encoded)


class SpeechToCodeTask:
    """S2C: time-masked speech -> its pseudo-code sequence.

    Code ``k`` is decoder id ``text_vocab_size + k`` (the official layout
    appends the audio codes after the text vocabulary). As in the official
    code the loss is over the full vocabulary.

    Arguments
    ---------
    text_vocab_size : int
        Number of text ids before the first code.
    time_mask_prob : float
        Span-masking probability of the speech frames.
    bos_index : int
        Id of ``<s>``.
    eos_index : int
        Id of ``</s>``.

    Example
    -------
    >>> task = SpeechToCodeTask(text_vocab_size=10)
    >>> tokens_bos, tokens_eos = task.targets([0, 5])
    >>> tokens_bos.tolist(), tokens_eos.tolist()
    ([0, 10, 15], [10, 15, 2])
    """

    def __init__(
        self,
        text_vocab_size,
        time_mask_prob=S2C_TIME_MASK_PROB,
        bos_index=BOS_INDEX,
        eos_index=EOS_INDEX,
    ):
        self.text_vocab_size = text_vocab_size
        self.time_mask_prob = time_mask_prob
        self.bos_index = bos_index
        self.eos_index = eos_index

    def targets(self, codes):
        """Decoder input and target of one utterance's code sequence.

        Arguments
        ---------
        codes : list of int
            Pseudo-codes in ``[0, code_vocab_size)``.

        Returns
        -------
        tokens_bos : torch.Tensor
            ``<s>`` then the code ids.
        tokens_eos : torch.Tensor
            The code ids then ``</s>``.
        """
        ids = [self.text_vocab_size + int(code) for code in codes]
        return (
            torch.LongTensor([self.bos_index, *ids]),
            torch.LongTensor([*ids, self.eos_index]),
        )

    def forward(self, model, feats, feat_lens, tokens_bos):
        """Encodes time-masked speech and decodes with teacher forcing.

        Arguments
        ---------
        model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
            The network.
        feats : torch.Tensor
            ``[batch, frames, n_mels]`` normalised features.
        feat_lens : torch.Tensor
            Relative lengths.
        tokens_bos : torch.Tensor
            ``[batch, length]`` decoder inputs.

        Returns
        -------
        logits : torch.Tensor
            ``[batch, length, vocab]``.
        encoder_output : speechbrain_mmspeech.lobes.models.encoder.EncoderOutput
            The student states and the time mask (for MSP).
        """
        encoded = model.encoder(
            feats, feat_lens, time_mask_prob=self.time_mask_prob
        )
        return teacher_forced_logits(model, tokens_bos, encoded), encoded

    def loss(self, logits, tokens_eos, token_lens):
        """Cross-entropy over the full vocabulary, summed over tokens.

        Arguments and result as ``TextTargetTask.loss``, but the targets
        are the codes then ``</s>`` and no id is excluded.
        """
        return summed_nll(logits, tokens_eos, token_lens)


class MaskedSpeechPredictionTask:
    """MSP: phone posteriors of masked frames follow the unmasked teacher.

    The teacher is the same encoder, switched to eval mode (no dropout, no
    layer drop) and run without gradients on the unmasked input; its
    training mode is restored afterwards. The loss is
    ``KL(teacher || student)`` of the 121-way phone posteriors, summed over
    the masked frames. The student scores its states with the phone table
    detached, so MSP trains the encoder but never the phone table.

    The official code scores the teacher's states *before* the encoder's
    final LayerNorm and the student's after it; ``teacher_final_norm=False``
    (the default) does the same.

    Arguments
    ---------
    teacher_final_norm : bool
        Apply the final LayerNorm to the teacher's states too.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import (
    ...     build_speech_encoder,
    ... )
    >>> encoder = build_speech_encoder(getfixture("tiny_architecture"))
    >>> feats, lens = torch.rand(2, 100, 80), torch.ones(2)
    >>> task = MaskedSpeechPredictionTask()
    >>> teacher = task.teacher_logits(encoder, feats, lens)
    >>> student = encoder(feats, lens, time_mask_prob=0.7)
    >>> loss = task.loss(encoder, student, teacher)
    >>> teacher.requires_grad, bool(loss >= 0), encoder.training
    (False, True, True)
    """

    def __init__(self, teacher_final_norm=False):
        self.teacher_final_norm = teacher_final_norm

    def teacher_logits(self, encoder, feats, feat_lens):
        """Phone-head scores of the unmasked input, in eval mode, no grad.

        Arguments
        ---------
        encoder : speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder
            The (shared) encoder.
        feats : torch.Tensor
            ``[batch, frames, n_mels]`` normalised features.
        feat_lens : torch.Tensor
            Relative lengths.

        Returns
        -------
        torch.Tensor
            ``[batch, time, phone_classes]`` logits (no gradient).
        """
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                encoded = encoder(
                    feats, feat_lens, final_norm=self.teacher_final_norm
                )
                return encoder.phone_logits(encoded.hidden)
        finally:
            encoder.train(was_training)

    def loss(self, encoder, student_output, teacher_logits):
        """KL divergence at the masked frames, summed.

        Arguments
        ---------
        encoder : speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder
            The encoder (its phone head scores the student states).
        student_output : speechbrain_mmspeech.lobes.models.encoder.EncoderOutput
            The encoder run on the masked input (S2C's forward pass).
        teacher_logits : torch.Tensor
            From ``teacher_logits``.

        Returns
        -------
        torch.Tensor
            ``sum over masked frames of KL(teacher || student)``.
        """
        mask = student_output.time_mask
        hidden = student_output.hidden[:, : mask.shape[1]]
        student = encoder.phone_logits(hidden, detach_weights=True)
        divergence = torch.nn.functional.kl_div(
            torch.log_softmax(student.float(), dim=-1),
            torch.log_softmax(teacher_logits.float(), dim=-1),
            reduction="none",
            log_target=True,
        ).sum(dim=-1)
        return divergence[mask].sum()


class PhonePredictionTask:
    """PP: CTC on the encoder's phone head (labeled speech).

    Targets are CTC classes (``PinyinTokenizer.ids_to_ctc_targets``: phone
    id - 3; class 0 is the blank). The input lengths are the real speech
    frames; the loss is summed over utterances (``zero_infinity``).

    Arguments
    ---------
    blank_index : int
        CTC blank class.

    Example
    -------
    >>> task = PhonePredictionTask()
    >>> phone_logits = torch.zeros(2, 20, 121)
    >>> loss = task.loss(
    ...     phone_logits,
    ...     torch.tensor([20, 10]),
    ...     torch.tensor([[5, 6, 7], [8, 0, 0]]),
    ...     torch.tensor([1.0, 1 / 3]),
    ... )
    >>> bool(torch.isfinite(loss))
    True
    """

    def __init__(self, blank_index=CTC_BLANK_INDEX):
        self.blank_index = blank_index

    def loss(self, phone_logits, speech_lengths, targets, target_lens):
        """Summed phone CTC.

        Arguments
        ---------
        phone_logits : torch.Tensor
            ``[batch, time, phone_classes]`` phone-head scores.
        speech_lengths : torch.Tensor
            Absolute numbers of real speech frames.
        targets : torch.Tensor
            ``[batch, n_phones]`` CTC classes.
        target_lens : torch.Tensor
            Their relative lengths.

        Returns
        -------
        torch.Tensor
            The summed loss.
        """
        input_lens = speech_lengths.float() / phone_logits.shape[1]
        return sb.nnet.losses.ctc_loss(
            torch.log_softmax(phone_logits.float(), dim=-1),
            targets,
            input_lens,
            target_lens,
            blank_index=self.blank_index,
            reduction="sum",
        )


class SpeechToTextTask(TextTargetTask):
    """S2T: time-masked speech -> its characters (labeled speech).

    ``forward`` is ``MMSpeech.forward`` with masking probability
    ``time_mask_prob``; it also returns the phone-head scores for PP.
    ``loss`` restricts the softmax to the text vocabulary.

    Arguments
    ---------
    text_vocab_size : int
        Number of text ids.
    time_mask_prob : float
        Span-masking probability of the speech frames.

    Example
    -------
    >>> task = SpeechToTextTask(text_vocab_size=3, time_mask_prob=0.5)
    >>> logits = torch.tensor([[[0.0, 0.0, 0.0, 9.0]]])  # id 3 is a code
    >>> loss = task.loss(logits, torch.tensor([[1]]), torch.ones(1))
    >>> round(loss.item(), 4) == round(math.log(3), 4)  # the code is ignored
    True
    """

    def __init__(self, text_vocab_size, time_mask_prob=S2T_TIME_MASK_PROB):
        super().__init__(text_vocab_size)
        self.time_mask_prob = time_mask_prob

    def forward(self, model, feats, feat_lens, tokens_bos):
        """``model``'s forward pass, with this task's ``time_mask_prob``.

        Arguments
        ---------
        model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
            The network.
        feats, feat_lens, tokens_bos : torch.Tensor
            Normalised features, their relative lengths and the decoder
            inputs (``feats``, ``feat_lens`` and ``tokens`` of
            ``MMSpeech.forward``).

        Returns
        -------
        logits, phone_logits, encoder_output
            What ``MMSpeech.forward`` returns (``phone_logits`` for PP).
        """
        return model(
            feats, feat_lens, tokens_bos, time_mask_prob=self.time_mask_prob
        )


@register_checkpoint_hooks
class TaskLossTracker:
    """Per-task running averages of the loss per sentence, for the log.

    A checkpoint recoverable, so that an epoch interrupted and resumed still
    reports the averages over all its batches.

    Example
    -------
    >>> tracker = TaskLossTracker()
    >>> tracker.update("p2t", torch.tensor(6.0), 3)
    >>> tracker.update("p2t", torch.tensor(2.0), 1)
    >>> tracker.summarize()
    {'p2t': 2.0}
    """

    def __init__(self):
        self.totals = {}
        self.sentences = {}

    def update(self, task, total, n_sentences):
        """Adds a summed loss covering ``n_sentences`` sentences.

        Arguments
        ---------
        task : str
            Task name.
        total : torch.Tensor or float
            The summed loss.
        n_sentences : int
            Sentences it covers.
        """
        self.totals[task] = self.totals.get(task, 0.0) + float(total)
        self.sentences[task] = self.sentences.get(task, 0) + n_sentences

    def summarize(self):
        """Average loss per sentence of each task since the last reset.

        Returns
        -------
        dict
            Task name -> average.
        """
        return {
            task: self.totals[task] / max(self.sentences[task], 1)
            for task in self.totals
        }

    def reset(self):
        """Forgets everything (at the start of an epoch)."""
        self.totals, self.sentences = {}, {}

    @mark_as_saver
    def save(self, path):
        """Writes the running sums as JSON.

        Arguments
        ---------
        path : str or pathlib.Path
            Destination.
        """
        state = {"totals": self.totals, "sentences": self.sentences}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(state, f)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Reads what ``save`` wrote.

        Arguments
        ---------
        path : str or pathlib.Path
            Source.
        end_of_epoch : bool
            Whether the checkpoint was taken at the end of an epoch.
        """
        del end_of_epoch  # The sums are reset when an epoch starts anyway.
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        self.totals, self.sentences = state["totals"], state["sentences"]
