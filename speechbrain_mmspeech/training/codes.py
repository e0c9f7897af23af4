"""Pseudo-codes for speech-to-code (S2C): k-means units, then BPE.

MMSpeech's S2C targets "follow wav2seq": frame features are clustered with
k-means, each frame becomes its cluster id (a *unit*), consecutive
duplicates are merged, units are written as characters and a BPE over those
strings gives the final code sequence. The official model has 30,000 codes
after its text vocabulary. Here everything runs offline on a CPU:

- ``UnitFeatures``: the base of the frame features (fbank in, frames to
  cluster out); ``FbankUnitFeatures``: the model's own input, utterance-normalised 80-dim
  fbank, average-pooled to the encoder's frame rate (4x, 40 ms);
- ``EncoderUnitFeatures``: the states of an MMSpeech encoder loaded from a
  checkpoint (HuBERT-style second iteration);
- ``KMeans`` (``training.kmeans``): k-means++ initialisation and Lloyd
  iterations in torch, seeded;
- ``UnitBPE``: SentencePiece BPE over unit strings (unit ``k`` is the
  character ``chr(UNIT_CHAR_OFFSET + k)``);
- ``PseudoCodeQuantizer``: features -> units -> merged units -> codes, fitted
  once (``fit``) and saved/loaded as a SpeechBrain checkpoint object.

Authors
 * MMSpeech plugin contributors 2026
"""

import io
import logging

import sentencepiece as spm
import torch
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    mark_as_transfer,
    register_checkpoint_hooks,
)

from speechbrain_mmspeech.training.kmeans import KMEANS_ITERATIONS, KMeans

logger = logging.getLogger(__name__)

ENCODER_FRAME_RATE_FACTOR = 4  # the encoder's 4x subsampling (40 ms frames)
UNIT_CHAR_OFFSET = 0x4E00  # unit k is written as chr(0x4E00 + k), a Han char
BPE_MAX_SENTENCE_LENGTH = 1 << 16  # bytes; unit strings can be long
BPE_UNK_ID = 0


def merge_duplicates(units):
    """Merges runs of the same unit into one.

    Arguments
    ---------
    units : torch.Tensor or list of int
        A unit sequence.

    Returns
    -------
    list of int
        The sequence without consecutive duplicates.

    Example
    -------
    >>> merge_duplicates([3, 3, 1, 1, 1, 3, 2, 2])
    [3, 1, 3, 2]
    """
    units = torch.as_tensor(units, dtype=torch.long)
    if len(units) == 0:
        return []
    return torch.unique_consecutive(units).tolist()


def units_to_string(units):
    """Writes units as characters (``chr(UNIT_CHAR_OFFSET + unit)``).

    Arguments
    ---------
    units : list of int
        Units.

    Returns
    -------
    str
        One character per unit.

    Example
    -------
    >>> string_to_units(units_to_string([0, 5, 99]))
    [0, 5, 99]
    """
    return "".join(chr(UNIT_CHAR_OFFSET + int(unit)) for unit in units)


def string_to_units(text):
    """Reads units back from ``units_to_string`` characters.

    Arguments
    ---------
    text : str
        Unit characters.

    Returns
    -------
    list of int
        The units.
    """
    return [ord(char) - UNIT_CHAR_OFFSET for char in text]


class UnitFeatures:
    """Base of the frame features that k-means clusters into units.

    Normalises one utterance's fbank (sentence mean and variance, as the
    model's input) and hands it to ``frames``, which subclasses implement.

    Arguments
    ---------
    description : dict
        What the features are (saved with the quantizer, checked on load).
    """

    def __init__(self, description):
        self.description = description
        self.normalize = InputNormalization(norm_type="sentence")

    def frames(self, feats):
        """Frames to cluster, from ``[1, frames, n_mels]`` normalised fbank."""
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, fbank):
        """Features of one utterance.

        Arguments
        ---------
        fbank : torch.Tensor
            ``[frames, n_mels]`` unnormalised fbank.

        Returns
        -------
        torch.Tensor
            ``[time, dim]`` frames to cluster (``frames``).
        """
        return self.frames(self.normalize(fbank[None].float(), torch.ones(1)))


class FbankUnitFeatures(UnitFeatures):
    """Utterance-normalised fbank, average-pooled to the encoder frame rate.

    Frames are ``[ceil(frames / pool), n_mels]``.

    Arguments
    ---------
    pool : int
        Frames averaged into one (4: 40 ms, the encoder's frame rate).

    Example
    -------
    >>> FbankUnitFeatures()(torch.rand(100, 80)).shape
    torch.Size([25, 80])
    """

    def __init__(self, pool=ENCODER_FRAME_RATE_FACTOR):
        super().__init__({"type": "fbank", "pool": pool})
        self.pool = pool

    def frames(self, feats):
        """Average-pooled ``feats`` (see ``UnitFeatures.frames``)."""
        pooled = torch.nn.functional.avg_pool1d(
            feats[0].t()[None], self.pool, self.pool, ceil_mode=True
        )
        return pooled[0].t()


class EncoderUnitFeatures(UnitFeatures):
    """States of a trained MMSpeech encoder (a second, HuBERT-like pass).

    Frames are the ``[time, d_model]`` final encoder states. The encoder is
    put in eval mode; if ``checkpoint`` is given, its ``encoder.*`` tensors
    (an MMSpeech ``model.ckpt``) are loaded into it.

    Arguments
    ---------
    encoder : speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder
        The encoder (same architecture as the checkpoint).
    checkpoint : str or pathlib.Path
        Optional MMSpeech state dict to load.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import (
    ...     build_speech_encoder,
    ... )
    >>> encoder = build_speech_encoder(getfixture("tiny_architecture"))
    >>> EncoderUnitFeatures(encoder)(torch.rand(100, 80)).shape
    torch.Size([24, 16])
    """

    def __init__(self, encoder, checkpoint=None):
        if checkpoint is not None:
            state = torch.load(checkpoint, map_location="cpu")
            prefix = "encoder."
            encoder.load_state_dict(
                {
                    key[len(prefix) :]: value
                    for key, value in state.items()
                    if key.startswith(prefix)
                }
            )
        self.encoder = encoder.eval()
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        super().__init__({"type": "encoder", "checkpoint": self.checkpoint})

    def frames(self, feats):
        """Encoder states of ``feats`` (see ``UnitFeatures.frames``)."""
        device = next(self.encoder.parameters()).device
        encoded = self.encoder(feats.to(device), torch.ones(1, device=device))
        return encoded.hidden[0].cpu()


class UnitBPE:
    """SentencePiece BPE over unit strings: merged units <-> code ids.

    Code 0 is SentencePiece's ``<unk>`` (a unit never seen in training);
    there are no ``<s>``/``</s>``/``<pad>`` pieces. With little data the
    BPE may stop below ``vocab_size`` (``actual_size`` tells).

    Example
    -------
    >>> bpe = UnitBPE()
    >>> bpe.train([[1, 2, 3, 1, 2], [1, 2, 4]] * 10, vocab_size=8)
    >>> ids = bpe.encode([1, 2, 3])
    >>> bpe.decode(ids)
    [1, 2, 3]
    """

    def __init__(self):
        self.processor = None

    def train(self, unit_sequences, vocab_size):
        """Trains the BPE on merged unit sequences.

        Arguments
        ---------
        unit_sequences : iterable of list of int
            One merged unit sequence per utterance.
        vocab_size : int
            Largest number of codes (``<unk>`` included).
        """
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=(
                units_to_string(units) for units in unit_sequences if units
            ),
            model_writer=model,
            model_type="bpe",
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            character_coverage=1.0,
            add_dummy_prefix=False,
            normalization_rule_name="identity",
            split_by_unicode_script=False,
            max_sentence_length=BPE_MAX_SENTENCE_LENGTH,
            unk_id=BPE_UNK_ID,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            minloglevel=2,
            num_threads=1,
        )
        self.load_bytes(model.getvalue())

    def load_bytes(self, serialized):
        """Loads a serialized SentencePiece model.

        Arguments
        ---------
        serialized : bytes
            What ``to_bytes`` returned.
        """
        self.processor = spm.SentencePieceProcessor(model_proto=serialized)

    def to_bytes(self):
        """The serialized SentencePiece model.

        Returns
        -------
        bytes
            The model proto.
        """
        return self.processor.serialized_model_proto()

    @property
    def actual_size(self):
        """Number of codes the BPE really has."""
        return self.processor.get_piece_size()

    def encode(self, units):
        """Codes of one merged unit sequence.

        Arguments
        ---------
        units : list of int
            Merged units.

        Returns
        -------
        list of int
            Code ids.
        """
        return self.processor.encode(units_to_string(units), out_type=int)

    def decode(self, ids):
        """Units back from code ids.

        Arguments
        ---------
        ids : list of int
            Code ids.

        Returns
        -------
        list of int
            The merged units.
        """
        pieces = "".join(self.processor.id_to_piece(int(i)) for i in ids)
        return string_to_units(pieces)


@register_checkpoint_hooks
class PseudoCodeQuantizer:
    """Speech features -> S2C pseudo-codes (k-means units + BPE).

    ``fit`` learns the k-means centroids on (a seeded subset of) the frames
    and the BPE on the merged unit strings; ``__call__`` turns one
    utterance's fbank into its codes. ``save``/``load`` are SpeechBrain
    checkpoint hooks (the centroids and the BPE model in one file).

    Arguments
    ---------
    features : callable
        fbank ``[frames, n_mels]`` -> frames ``[time, dim]`` to cluster
        (``FbankUnitFeatures`` or ``EncoderUnitFeatures``).
    n_clusters : int
        Number of k-means units.
    code_vocab_size : int
        Largest number of codes (the decoder's code block).
    n_iterations : int
        Lloyd iterations.
    max_fit_frames : int
        k-means sees at most this many frames (a seeded random subset).
    seed : int
        Seed of the subset and of the k-means initialisation.

    Example
    -------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> fbanks = [torch.randn(200, 80) for _ in range(4)]
    >>> quantizer = PseudoCodeQuantizer(
    ...     FbankUnitFeatures(), n_clusters=8, code_vocab_size=30
    ... )
    >>> stats = quantizer.fit(fbanks)
    >>> codes = quantizer(fbanks[0])
    >>> 0 < len(codes) <= 50 and max(codes) < 30
    True
    """

    def __init__(
        self,
        features,
        n_clusters=100,
        code_vocab_size=1000,
        n_iterations=KMEANS_ITERATIONS,
        max_fit_frames=500_000,
        seed=0,
    ):
        self.features = features
        self.code_vocab_size = code_vocab_size
        self.max_fit_frames = max_fit_frames
        self.seed = seed
        self.kmeans = KMeans(n_clusters, n_iterations, seed)
        self.bpe = UnitBPE()

    def fit(self, fbanks):
        """Fits k-means then the BPE on a collection of utterances.

        Arguments
        ---------
        fbanks : iterable of torch.Tensor
            ``[frames, n_mels]`` fbank of each utterance.

        Returns
        -------
        dict
            Statistics: frames, inertia per frame, units per utterance
            before and after merging, codes per utterance, BPE size.
        """
        frames = [self.features(fbank) for fbank in fbanks]
        data = torch.cat(frames)
        fit_data = data
        if len(data) > self.max_fit_frames:
            generator = torch.Generator().manual_seed(self.seed)
            subset = torch.randperm(len(data), generator=generator)
            fit_data = data[subset[: self.max_fit_frames]]
        self.kmeans.fit(fit_data)
        units = [merge_duplicates(self.kmeans.predict(x)) for x in frames]
        self.bpe.train(units, self.code_vocab_size)
        codes = [self.bpe.encode(u) for u in units]
        n_utts = max(len(frames), 1)
        return {
            "utterances": len(frames),
            "frames": len(data),
            "kmeans_frames": len(fit_data),
            "inertia_per_frame": self.kmeans.inertia(data),
            "frames_per_utterance": len(data) / n_utts,
            "merged_units_per_utterance": sum(map(len, units)) / n_utts,
            "codes_per_utterance": sum(map(len, codes)) / n_utts,
            "bpe_size": self.bpe.actual_size,
        }

    def units(self, fbank):
        """Merged k-means units of one utterance.

        Arguments
        ---------
        fbank : torch.Tensor
            ``[frames, n_mels]``, as ``features`` takes it.

        Returns
        -------
        list of int
            The units, consecutive duplicates merged.
        """
        return merge_duplicates(self.kmeans.predict(self.features(fbank)))

    def __call__(self, fbank):
        """Pseudo-codes of one utterance: the BPE codes of ``units(fbank)``.

        Returns
        -------
        list of int
            Codes in ``[0, code_vocab_size)``.
        """
        return self.bpe.encode(self.units(fbank))

    @mark_as_saver
    def save(self, path):
        """Writes the centroids and the BPE model.

        Arguments
        ---------
        path : str or pathlib.Path
            Destination file.
        """
        bpe = torch.frombuffer(
            bytearray(self.bpe.to_bytes()), dtype=torch.uint8
        )
        torch.save(
            {
                "centroids": self.kmeans.centroids,
                "bpe_model": bpe,
                "code_vocab_size": self.code_vocab_size,
                "features": self.features.description,
            },
            path,
        )

    @mark_as_transfer
    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Reads what ``save`` wrote.

        Arguments
        ---------
        path : str or pathlib.Path
            Source file.
        end_of_epoch : bool
            Unused (the quantizer does not change during training).
        """
        del end_of_epoch
        state = torch.load(path, map_location="cpu")
        saved = {
            "codes": state["code_vocab_size"],
            "clusters": len(state["centroids"]),
            "features": state["features"],
        }
        configured = {
            "codes": self.code_vocab_size,
            "clusters": self.kmeans.n_clusters,
            "features": self.features.description,
        }
        if saved != configured:
            raise ValueError(
                f"{path} was built with {saved}, but the configuration asks "
                f"for {configured}: build the codes again"
            )
        self.kmeans.centroids = state["centroids"]
        self.bpe.load_bytes(state["bpe_model"].numpy().tobytes())
