"""The MMSpeech speech encoder of a model folder, as a SpeechBrain lobe.

SpeechBrain recipes use a pre-trained speech encoder through a *lobe*: a
module built in YAML from ``source=`` that takes raw waveforms and relative
lengths and returns ``[batch, time, d]`` states (``Wav2Vec2``, ``HuBERT``,
``Whisper`` in ``speechbrain.integrations.huggingface``). This module holds:

- ``MMSpeechEncoder``: that lobe for MMSpeech. It loads any MMSpeech model
  folder (written by the recipe or the converter, local or a hub id):
  the folder's ``hyperparams.yaml`` is instantiated as is and its
  ``pretrainer`` loads ``model.ckpt``; the lobe keeps the front end
  (``compute_features``, ``normalize``) and the speech encoder, frozen or
  fine-tuned, and returns the unpacked encoder states (the last layer's, or
  every layer's), and on request the phone head's log-posteriors;
- ``load_model_folder``: that loading step on its own.

The pieces for mixing MMSpeech and SpeechBrain parts are beside it:
``memory_head.MemoryHead`` (a SpeechBrain ``CTCScorer`` head in MMSpeech's
beam search) and ``foreign_encoder.ForeignEncoder`` (MMSpeech's decoder on
a SpeechBrain encoder).

Authors
 * MMSpeech plugin contributors 2026
"""

import itertools
import re
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.fetching import FetchConfig, fetch

from speechbrain_mmspeech.export.folders import HPARAMS_FILE, MODEL_FILE

# What a model folder's hyperparams must define for the lobe.
FOLDER_KEYS = ("model", "compute_features", "normalize", "pretrainer")
# ``org/name``: what SpeechBrain's fetching sends to the Hugging Face hub.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def check_source(source):
    """Fails with a clear message when ``source`` cannot be a model folder.

    A local folder must hold ``hyperparams.yaml`` and ``model.ckpt``. A
    path that does not exist is accepted only if it reads as a hub id
    (``org/name``), which the hub then has to resolve.

    Arguments
    ---------
    source : str or pathlib.Path
        A model folder or a hub id.

    Raises
    ------
    FileNotFoundError
        Naming the folder and what is missing.

    Example
    -------
    >>> check_source("org/name")  # a hub id: checked when fetched
    >>> check_source("/no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: /no/such/folder: no such MMSpeech model folder (and not a hub id org/name)
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "hyperparams.yaml").write_text("a: 1")
    >>> check_source(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...: not an MMSpeech model folder: model.ckpt is missing
    """
    path = Path(source)
    if path.is_dir():
        missing = [
            name
            for name in (HPARAMS_FILE, MODEL_FILE)
            if not (path / name).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"{source}: not an MMSpeech model folder: "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'}"
                " missing"
            )
        return
    if path.exists():
        raise FileNotFoundError(f"{source} is a file, not a model folder")
    if not HUB_ID.fullmatch(str(source)):
        raise FileNotFoundError(
            f"{source}: no such MMSpeech model folder (and not a hub id "
            "org/name)"
        )


def instantiate_folder_hparams(text, origin):
    """Instantiates the text of a model folder's ``hyperparams.yaml``.

    Arguments
    ---------
    text : str
        The YAML text.
    origin : str
        Where it comes from, for the error messages.

    Returns
    -------
    dict
        The objects it defines (weights as initialised).

    Raises
    ------
    ValueError
        If it lacks one of ``FOLDER_KEYS`` (the file is not an MMSpeech
        model folder's).

    Example
    -------
    >>> instantiate_folder_hparams("model: 1", "a.yaml")
    Traceback (most recent call last):
    ...
    ValueError: a.yaml: not an MMSpeech model folder's hyperparams: no compute_features, normalize, pretrainer
    """
    hparams = load_hyperpyyaml(text)
    missing = [key for key in FOLDER_KEYS if key not in hparams]
    if missing:
        raise ValueError(
            f"{origin}: not an MMSpeech model folder's hyperparams: no "
            + ", ".join(missing)
        )
    return hparams


def load_model_folder(source, savedir=None, fetch_config=None):
    """Instantiates a model folder's hyperparams and loads its weights.

    The folder's own ``pretrainer`` fetches and loads ``model.ckpt`` (and
    the tokenizer, and any language model), as
    ``EncoderDecoderASR.from_hparams`` does, so local folders and hub ids
    load alike; nothing is read from the YAML by key but the objects.

    Arguments
    ---------
    source : str or pathlib.Path
        A model folder or a hub id (``org/name``).
    savedir : str or pathlib.Path
        Where fetched files (or links to local ones) are collected; None
        reads local files where they are and hub files from the hub cache.
    fetch_config : speechbrain.utils.fetching.FetchConfig
        How hub files are fetched (offline, cache folder, revision, token);
        None: SpeechBrain's defaults.

    Returns
    -------
    hparams : dict
        The folder's objects (``model``, ``compute_features``,
        ``normalize``, ``tokenizer``, ...), weights loaded.
    text : str
        The text of its ``hyperparams.yaml``.

    Example
    -------
    >>> load_model_folder("/no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: /no/such/folder: no such MMSpeech model folder (and not a hub id org/name)
    """
    source = str(source)
    check_source(source)
    fetch_config = fetch_config or FetchConfig()
    try:
        hparams_path = fetch(
            HPARAMS_FILE,
            source=source,
            savedir=savedir,
            fetch_config=fetch_config,
        )
    except Exception as error:  # the hub raises many kinds of errors
        raise FileNotFoundError(
            f"{source}: not a local model folder, and its {HPARAMS_FILE} "
            f"could not be fetched from the hub: {error}"
        ) from error
    text = Path(hparams_path).read_text(encoding="utf-8")
    hparams = instantiate_folder_hparams(text, f"{source}/{HPARAMS_FILE}")
    pretrainer = hparams["pretrainer"]
    if savedir is not None:
        pretrainer.set_collect_in(savedir)
    try:
        pretrainer.collect_files(
            default_source=source, fetch_config=fetch_config
        )
    except Exception as error:
        raise FileNotFoundError(
            f"{source}: could not fetch the files its {HPARAMS_FILE} loads "
            f"(model.ckpt ...): {error}"
        ) from error
    pretrainer.load_collected()
    return hparams, text


class MMSpeechEncoder(torch.nn.Module):
    """The MMSpeech speech encoder as a SpeechBrain lobe.

    Waveforms go through the model folder's front end (``MMSpeechFbank``
    and its feature normalisation) and speech encoder. The output is
    ``[batch, time, d_model]`` (one frame per 40 ms), the states after the
    encoder's final LayerNorm, which are those MMSpeech's decoder and phone
    head read; frames past an utterance's length are zero.

    Like SpeechBrain's SSL lobes, a frozen lobe runs without gradients;
    unlike them, it also stays in eval mode (no dropout) when ``Brain``
    puts the modules in training mode, so that its states are the same in
    training and evaluation. Parameters that the forward pass never uses
    (the phone positions of phone-to-text pre-training; the phone table
    without ``apply_phone_head``) are frozen too, so that DDP needs no
    ``find_unused_parameters``.

    Arguments
    ---------
    source : str or pathlib.Path
        An MMSpeech model folder (from the recipe or the converter) or a hub
        id, loaded with ``load_model_folder``.
    savedir : str or pathlib.Path
        Where fetched files are collected (see ``load_model_folder``).
    fetch_config : speechbrain.utils.fetching.FetchConfig
        How hub files are fetched (see ``load_model_folder``).
    freeze : bool
        No training of the encoder (no gradients, eval mode).
    freeze_feature_extractor : bool
        With ``freeze=False``: keep the convolutional subsampling (and its
        projection) frozen, train the Transformer layers.
    output_all_hiddens : bool
        Return ``[num_layers + 1, batch, time, d_model]``: the states
        entering the first layer, then leaving each layer (the last entry is
        the default output), as ``Wav2Vec2(output_all_hiddens=True)``.
    apply_phone_head : bool
        Also return the phone head's log-posteriors ``[batch, time,
        num_phone_classes]`` (pinyin phone CTC classes, blank 0; see
        ``speechbrain_mmspeech.tokenizers.PinyinTokenizer``).
    time_mask_prob : float
        With ``freeze=False``, in training: the probability of masking a
        frame (spans of the encoder's ``mask_span`` frames are replaced by
        its learned mask embedding, as in MMSpeech fine-tuning).
    folder_hparams : str
        Instead of ``source``: the text of a model folder's
        ``hyperparams.yaml``. The encoder is built from it with initial
        weights; a folder exported by ``train_ctc.py`` carries it and loads
        the trained weights from its own checkpoint.

    Attributes
    ----------
    d_model : int
        Size of the output states.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The folder's character vocabulary (that of its decoder).
    folder_hparams : str
        The text of the folder's ``hyperparams.yaml``.

    Example
    -------
    A tiny model folder, then the lobe on it:

    >>> from speechbrain_mmspeech.convert.weights import build_model
    >>> from speechbrain_mmspeech.export.folders import write_model_folder
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> values = getfixture("tiny_template_values")  # 7 layers, d_model 16
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(
    ...     ["今天天气很好"], values["architecture"]["text_vocab_size"]
    ... )
    >>> folder = write_model_folder(
    ...     getfixture("tmp_path") / "model",
    ...     build_model(values),
    ...     tokenizer,
    ...     values,
    ... )
    >>> lobe = MMSpeechEncoder(folder)
    >>> wavs, lens = torch.rand(2, 16000) - 0.5, torch.tensor([1.0, 0.5])
    >>> lobe(wavs, lens).shape
    torch.Size([2, 23, 16])
    >>> lobe.output_all_hiddens = True  # the input, then 7 layers
    >>> lobe(wavs, lens).shape
    torch.Size([8, 2, 23, 16])
    >>> lobe = MMSpeechEncoder(folder, apply_phone_head=True)
    >>> states, phone_log_probs = lobe(wavs, lens)
    >>> phone_log_probs.shape
    torch.Size([2, 23, 121])
    """

    def __init__(
        self,
        source=None,
        savedir=None,
        fetch_config=None,
        freeze=True,
        freeze_feature_extractor=False,
        output_all_hiddens=False,
        apply_phone_head=False,
        time_mask_prob=0.0,
        folder_hparams=None,
    ):
        super().__init__()
        if (source is None) == (folder_hparams is None):
            raise ValueError(
                "MMSpeechEncoder takes either source (a model folder or hub "
                "id) or folder_hparams (the text of its hyperparams.yaml)"
            )
        if source is not None:
            hparams, folder_hparams = load_model_folder(
                source, savedir, fetch_config
            )
        else:
            hparams = instantiate_folder_hparams(
                folder_hparams, "folder_hparams"
            )
        self.folder_hparams = folder_hparams
        self.compute_features = hparams["compute_features"]
        self.normalize = hparams["normalize"]
        self.encoder = hparams["model"].encoder
        self.tokenizer = hparams.get("tokenizer")
        self.d_model = self.encoder.d_model
        self.freeze = freeze
        self.freeze_feature_extractor = freeze_feature_extractor
        self.output_all_hiddens = output_all_hiddens
        self.apply_phone_head = apply_phone_head
        self.time_mask_prob = time_mask_prob

        unused = list(self.encoder.encoder.phone_pos_conv.parameters())
        if not apply_phone_head:
            unused.extend(self.encoder.phone_item_embedding.parameters())
        frozen = self.parameters() if freeze else unused
        if not freeze and freeze_feature_extractor:
            frozen = itertools.chain(
                unused,
                self.encoder.subsample.parameters(),
                self.encoder.post_subsample_proj.parameters(),
            )
        for parameter in frozen:
            parameter.requires_grad = False
        self.train()

    def train(self, mode=True):
        """Sets the training mode; a frozen encoder always stays in eval.

        Arguments
        ---------
        mode : bool
            Training (True) or evaluation (False) mode.

        Returns
        -------
        MMSpeechEncoder
            This module.
        """
        super().train(mode)
        if self.freeze:
            self.encoder.eval()
        return self

    def forward(self, wav, wav_lens=None):
        """Encodes a batch of 16 kHz waveforms.

        Arguments
        ---------
        wav : torch.Tensor
            ``[batch, time]`` waveforms at 16 kHz (the folder's front end
            expects that rate; SpeechBrain's audio loading and the recipes'
            ``load_audio`` resample to it).
        wav_lens : torch.Tensor
            ``[batch]`` relative lengths (default: all 1).

        Returns
        -------
        states : torch.Tensor
            ``[batch, time, d_model]``, or ``[num_layers + 1, batch, time,
            d_model]`` with ``output_all_hiddens``.
        phone_log_probs : torch.Tensor
            Only with ``apply_phone_head``: ``[batch, time,
            num_phone_classes]`` log-posteriors of the last layer.
        """
        if wav.dim() != 2:
            raise ValueError(
                "MMSpeechEncoder takes [batch, time] waveforms, got shape "
                f"{tuple(wav.shape)}"
            )
        if wav_lens is None:
            wav_lens = torch.ones(wav.shape[0], device=wav.device)
        if self.freeze:
            with torch.no_grad():
                return self.extract_features(wav, wav_lens)
        return self.extract_features(wav, wav_lens)

    def extract_features(self, wav, wav_lens):
        """``forward`` without the gradient switch (see there)."""
        feats = self.compute_features(wav, wav_lens)
        feats = self.normalize(feats, wav_lens)
        train_masking = self.training and not self.freeze
        encoded = self.encoder(
            feats,
            wav_lens,
            time_mask_prob=self.time_mask_prob if train_masking else 0.0,
            output_all_hiddens=self.output_all_hiddens,
        )
        valid = (~encoded.padding_mask).unsqueeze(-1).to(encoded.hidden.dtype)
        if self.output_all_hiddens:
            states = encoded.layer_states * valid
        else:
            states = encoded.hidden * valid
        if not self.apply_phone_head:
            return states
        phone_logits = self.encoder.phone_logits(encoded.hidden)
        return states, torch.log_softmax(phone_logits, dim=-1)
