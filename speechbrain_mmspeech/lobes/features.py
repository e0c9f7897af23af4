"""The MMSpeech front end: audio -> fbank features -> CMVN.

The official pipeline reads any audio as 16 kHz mono (``dataio.audio``),
peak-normalises it to 0 dBFS (sox ``gain -n``), scales it to the int16
range and computes 80 Kaldi-compatible log-mel filterbanks (25 ms window,
10 ms shift, Povey window, no dither). ``MMSpeechFbank`` does exactly that on
a padded batch, so it can stand where SpeechBrain recipes put ``Fbank`` (as
``compute_features`` in an inference YAML). ``FeatureNormalization`` then
applies the official CMVN: per utterance (fairseq ``utterance_cmvn``) or
with fixed global statistics (fairseq ``global_cmvn``).

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
import torchaudio.compliance.kaldi as kaldi
from speechbrain.processing.features import InputNormalization

from speechbrain_mmspeech.dataio.audio import SAMPLE_RATE, is_silent
from speechbrain_mmspeech.lobes.models.sizes import N_MELS

# Kaldi fbank takes samples in the int16 range.
INT16_SCALE = 2**15
SENTENCE_NORM = "sentence"
GLOBAL_NORM = "global"


class MMSpeechFbank(torch.nn.Module):
    """The official MMSpeech features: peak-normalised Kaldi fbank.

    Arguments
    ---------
    n_mels : int
        Number of mel bins (80).
    sample_rate : int
        Sampling rate of the input (16000).
    frame_length : float
        Window length in milliseconds.
    frame_shift : float
        Hop in milliseconds.
    dither : float
        Kaldi dither (0 in the official pipeline).
    peak_normalize : bool
        Scale each utterance to a peak of 1 before fbank (sox ``gain -n``).
        Digital silence is left as it is.

    Example
    -------
    >>> fbank = MMSpeechFbank()
    >>> wavs = torch.rand(2, 16000) - 0.5
    >>> fbank(wavs, torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 98, 80])
    """

    def __init__(
        self,
        n_mels=N_MELS,
        sample_rate=SAMPLE_RATE,
        frame_length=25.0,
        frame_shift=10.0,
        dither=0.0,
        peak_normalize=True,
    ):
        super().__init__()
        self.n_mels = n_mels
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_shift = frame_shift
        self.dither = dither
        self.peak_normalize = peak_normalize

    def utterance_fbank(self, signal):
        """Features of one unpadded waveform.

        Arguments
        ---------
        signal : torch.Tensor
            ``[time]`` samples in [-1, 1].

        Returns
        -------
        torch.Tensor
            ``[frames, n_mels]``, fp32 under any autocast (bf16 training):
            the mel filterbank is a matmul, which autocast would run in
            bf16.
        """
        if self.peak_normalize and not is_silent(signal):
            signal = signal / signal.abs().max()
        with torch.autocast(signal.device.type, enabled=False):
            return kaldi.fbank(
                signal.unsqueeze(0) * INT16_SCALE,
                num_mel_bins=self.n_mels,
                sample_frequency=self.sample_rate,
                frame_length=self.frame_length,
                frame_shift=self.frame_shift,
                dither=self.dither,
            )

    @torch.no_grad()
    def forward(self, wavs, wav_lens=None):
        """Computes padded features for a batch.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` waveforms.
        wav_lens : torch.Tensor
            Relative lengths (default: all full).

        Returns
        -------
        torch.Tensor
            ``[batch, frames, n_mels]``. Shorter utterances are padded by
            repeating their last frame, not with zeros: relative lengths
            cannot map exactly onto Kaldi frames (``1 + (n - 400) // 160``),
            and SpeechBrain modules round them differently (the padding mask
            of ``InputNormalization`` takes one frame more than ``round``),
            so a zero frame, far out of the log-mel range, would leak into
            an utterance's statistics and make its result depend on the
            batch. A repeated frame is harmless.
        """
        return stack_frames(
            [self.utterance_fbank(wav) for wav in unpad(wavs, wav_lens)]
        )


class FeatureCache(torch.nn.Module):
    """Each utterance's features computed once, then looked up by its id.

    Fine-tuning reads every utterance once per epoch; its fbank does not
    change from one epoch to the next unless the waveform is augmented, so
    it is computed the first time and kept (in memory: 80 floats per 10 ms,
    about 115 MB per hour of speech). Feature-domain augmentation goes after
    the cache. The padded batch is exactly ``compute_features(wavs,
    wav_lens)``.

    Arguments
    ---------
    compute_features : MMSpeechFbank
        The front end (its ``utterance_fbank``).

    Example
    -------
    >>> cache = FeatureCache(MMSpeechFbank())
    >>> wavs, lens = torch.rand(2, 16000) - 0.5, torch.tensor([1.0, 0.5])
    >>> feats = cache(["a", "b"], wavs, lens)
    >>> torch.equal(feats, MMSpeechFbank()(wavs, lens)), len(cache)
    (True, 2)
    >>> torch.equal(
    ...     cache(["b"], wavs[1:, :8000], torch.ones(1)), feats[1:, :48]
    ... )
    True
    """

    def __init__(self, compute_features):
        super().__init__()
        self.compute_features = compute_features
        self.features = {}

    def __len__(self):
        return len(self.features)

    @torch.no_grad()
    def forward(self, ids, wavs, wav_lens=None):
        """Padded features of a batch, computing only the unseen ones.

        Arguments
        ---------
        ids : list of str
            The utterances' ids.
        wavs, wav_lens : torch.Tensor
            As ``MMSpeechFbank.forward`` takes them.

        Returns
        -------
        torch.Tensor
            What ``MMSpeechFbank.forward`` returns.
        """
        feats = []
        for utt, wav in zip(ids, unpad(wavs, wav_lens)):
            if utt not in self.features:
                self.features[utt] = self.compute_features.utterance_fbank(wav)
            feats.append(self.features[utt])
        return stack_frames(feats).to(wavs.device)


def unpad(wavs, wav_lens=None):
    """The unpadded float waveforms of a padded batch.

    Arguments
    ---------
    wavs : torch.Tensor
        ``[batch, time]``.
    wav_lens : torch.Tensor
        Relative lengths (default: all full).

    Returns
    -------
    list of torch.Tensor

    Example
    -------
    >>> [len(w) for w in unpad(torch.zeros(2, 10), torch.tensor([1.0, 0.45]))]
    [10, 4]
    """
    if wav_lens is None:
        wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
    n_samples = torch.round(wav_lens * wavs.shape[1]).long().tolist()
    return [wav[:length].float() for wav, length in zip(wavs, n_samples)]


def stack_frames(feats):
    """Pads ``[frames, n_mels]`` features to the longest and stacks them.

    Shorter ones repeat their last frame (``fit_frames``).

    Arguments
    ---------
    feats : list of torch.Tensor
        ``[frames, n_mels]`` each.

    Returns
    -------
    torch.Tensor
        ``[batch, frames, n_mels]``.

    Example
    -------
    >>> stack_frames([torch.ones(2, 1), torch.zeros(1, 1)]).squeeze(2).tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    n_frames = max(len(utterance) for utterance in feats)
    return torch.stack([fit_frames(f, n_frames) for f in feats])


def fit_frames(feats, n_frames):
    """Trims or edge-pads ``[frames, n_mels]`` features to ``n_frames``.

    Arguments
    ---------
    feats : torch.Tensor
        ``[frames, n_mels]``.
    n_frames : int
        Wanted number of frames (at least 1).

    Returns
    -------
    torch.Tensor
        ``[n_frames, n_mels]``; missing frames repeat the last one.

    Example
    -------
    >>> fit_frames(torch.arange(3.0).unsqueeze(1), 4).squeeze(1).tolist()
    [0.0, 1.0, 2.0, 2.0]
    """
    n_frames = max(n_frames, 1)
    if len(feats) >= n_frames:
        return feats[:n_frames]
    repeated = feats[-1:].expand(n_frames - len(feats), -1)
    return torch.cat([feats, repeated])


class FeatureNormalization(InputNormalization):
    """SpeechBrain's ``InputNormalization`` with optional fixed global stats.

    ``norm_type="sentence"`` normalises each utterance by its own mean and
    (biased) standard deviation, as fairseq's ``utterance_cmvn``.
    ``norm_type="global"`` computes ``(x - mean) / std`` with the statistics
    given here (fairseq's ``global_cmvn`` with its ``stats_npz_path``); they
    are never updated, not even in training mode.

    Arguments
    ---------
    norm_type : str
        ``"sentence"`` or ``"global"``.
    mean : list of float
        Global per-channel means (``"global"`` only).
    std : list of float
        Global per-channel standard deviations (``"global"`` only).

    Example
    -------
    >>> norm = FeatureNormalization("global", mean=[1.0, 2.0], std=[2.0, 4.0])
    >>> norm(torch.tensor([[[3.0, 6.0]]]), torch.ones(1))
    tensor([[[1., 1.]]])
    """

    def __init__(self, norm_type=SENTENCE_NORM, mean=None, std=None):
        super().__init__(norm_type=norm_type)
        has_stats = mean is not None or std is not None
        if norm_type != GLOBAL_NORM:
            if has_stats:
                raise ValueError(f"{norm_type} normalisation takes no stats")
            return
        if mean is None or std is None or len(mean) != len(std):
            raise ValueError("global normalisation needs mean and std lists")
        # Buffers (not saved) so that the stats follow the module's device.
        del self.glob_mean, self.glob_std
        self.register_buffer("glob_mean", torch.tensor(mean), persistent=False)
        self.register_buffer("glob_std", torch.tensor(std), persistent=False)
        self.count = 1

    def _should_update(self, epoch):
        """Fixed statistics are never updated."""
        return False
