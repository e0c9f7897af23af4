"""Language models in the beam search: shallow fusion and N-best rescoring.

The language models (``lobes.models.transformer_lm.TransformerLM`` and the
character n-gram ``lm.ngram.NgramLM``, both over the MMSpeech character
vocabulary: the decoder's text ids) reach the beam search through
SpeechBrain's own interfaces:

- shallow fusion: ``TransformerLMScorer`` or ``NgramLMScorer`` in a
  ``ScorerBuilder`` passed as ``scorer=`` to ``MMSpeechBeamSearcher``; at
  every step the searcher adds ``weight * log p_LM(next | prefix)`` to the
  decoder's log-probabilities, after the decoder's own restrictions (text
  ids only, no ``<s>``/``<pad>``, no repeated n-grams), as the official
  MMSpeech decoding does;
- N-best rescoring: the searcher returns its top-k hypotheses
  (``return_topk=True``), ``rescore_nbest`` turns them into texts and a
  ``RescorerBuilder`` holding ``TransformerLMRescorer`` re-ranks them by
  ``beam score + weight * LM score``.

The classes here are the glue MMSpeech needs on top of the upstream ones.
``ScorerBuilder`` and ``RescorerBuilder`` key scorers by class name, so
the Transformer LM's keep their upstream names (``transformerlm``); the
n-gram's, ``lm.ngram.NgramLMScorer``, lives with its LM (``ngramlm``):

- ``PaddedLMScorer``, the base of both scorers, pads the LM's
  log-probabilities to the decoder's vocabulary when the decoder has more
  ids (the audio codes of speech-to-code pre-training follow the text ids),
  with ``minus_inf`` as the official code masks ids outside the text range;
  with a scorer, ``MMSpeechBeamSearcher`` scores that whole vocabulary too
  (its ``n_out``), so the widths agree;
- ``TransformerLMRescorer`` reads texts with the ``CharTokenizer`` (no upper
  casing), runs on the CPU unless told otherwise, and can divide the LM score
  by the number of scored tokens, so that it is on the same per-token scale
  as the length-normalised beam score.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
from speechbrain.decoders import scorer as sb_scorer
from speechbrain.utils.data_utils import undo_padding

from speechbrain_mmspeech.tokenizers import BOS_INDEX, EOS_INDEX, PAD_INDEX

LM_MODE_NONE = "none"
LM_MODE_FUSION = "fusion"
LM_MODE_RESCORING = "rescoring"
LM_MODES = (LM_MODE_NONE, LM_MODE_FUSION, LM_MODE_RESCORING)
MINUS_INF = -1e20  # the value SpeechBrain's searchers use for "never"


def pad_to_vocabulary(log_probs, vocab_size, minus_inf=MINUS_INF):
    """Extends an LM's scores to the decoder's ids (the others ``minus_inf``).

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[hyps, lm_ids]`` scores of the LM's ids, the decoder's first ids.
    vocab_size : int
        The decoder's number of ids.
    minus_inf : float
        Score of the ids the LM does not cover.

    Returns
    -------
    torch.Tensor
        ``[hyps, vocab_size]``.

    Example
    -------
    >>> padded = pad_to_vocabulary(torch.zeros(1, 2), 3)
    >>> padded.shape, bool(padded[0, 2] == MINUS_INF)
    (torch.Size([1, 3]), True)
    """
    missing = vocab_size - log_probs.shape[-1]
    if missing < 0:
        raise ValueError(
            f"The LM has {log_probs.shape[-1]} ids, more than the "
            f"decoder's {vocab_size}"
        )
    if missing:
        log_probs = torch.nn.functional.pad(
            log_probs, (0, missing), value=minus_inf
        )
    return log_probs


class PaddedLMScorer(sb_scorer.BaseScorerInterface):
    """A full scorer for an LM of the decoder's first ids, padded to all.

    Subclasses give ``lm_scores``: the LM's log-probabilities after each
    hypothesis and the scorer's new memory.

    Arguments
    ---------
    vocab_size : int
        The decoder's number of ids; the ids the LM does not cover get
        ``minus_inf``. None: the LM covers the whole decoder vocabulary.
    minus_inf : float
        Score of the ids the LM does not cover (finite, so that a weight of
        0 gives 0).
    """

    def __init__(self, vocab_size=None, minus_inf=MINUS_INF):
        self.vocab_size = vocab_size
        self.minus_inf = minus_inf

    def lm_scores(self, inp_tokens, memory):
        """The LM's part of ``score``: its own ids only."""
        raise NotImplementedError

    def score(self, inp_tokens, memory, candidates, attn):
        """LM log-probabilities of every decoder id after each hypothesis.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` the newest token of each hypothesis (``<s>`` at the
            first step).
        memory : torch.Tensor
            What the LM needs of each hypothesis before ``inp_tokens`` (see
            the subclass; None at the first step).
        candidates, attn : torch.Tensor
            Unused (the LM scores the whole vocabulary).

        Returns
        -------
        log_probs : torch.Tensor
            ``[hyps, vocab_size]`` next-token log-probabilities.
        memory : torch.Tensor
            The memory, ``inp_tokens`` included.
        """
        log_probs, memory = self.lm_scores(inp_tokens, memory)
        vocab_size = self.vocab_size or log_probs.shape[-1]
        return pad_to_vocabulary(log_probs, vocab_size, self.minus_inf), memory


class TransformerLMScorer(PaddedLMScorer, sb_scorer.TransformerLMScorer):
    """SpeechBrain's ``TransformerLMScorer``, padded to the decoder vocabulary.

    The class name is the upstream one on purpose: ``ScorerBuilder`` finds
    scorers by class name, so this scorer takes the weight key
    ``transformerlm``. Its memory is the prefix of each hypothesis.

    Arguments
    ---------
    language_model : torch.nn.Module
        ``lm(tokens[B, T]) -> logits[B, T, V]`` over the decoder's first
        ``V`` ids.
    vocab_size, minus_inf
        As in ``PaddedLMScorer``.
    temperature : float
        Softmax temperature of the LM.

    Example
    -------
    >>> from speechbrain.decoders.scorer import ScorerBuilder
    >>> from speechbrain_mmspeech.lobes.models.transformer_lm import (
    ...     TransformerLM,
    ... )
    >>> lm = TransformerLM(
    ...     vocab=10, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ... )
    >>> lm_scorer = TransformerLMScorer(lm, vocab_size=13)
    >>> builder = ScorerBuilder(
    ...     full_scorers=[lm_scorer], weights={"transformerlm": 0.3}
    ... )
    >>> list(builder.full_scorers)
    ['transformerlm']
    >>> scores, memory = lm_scorer.score(torch.tensor([0, 0]), None, None, None)
    >>> scores.shape, memory.tolist()
    (torch.Size([2, 13]), [[0.0], [0.0]])
    >>> bool((scores[:, 10:] == -1e20).all())
    True
    """

    def __init__(
        self,
        language_model,
        vocab_size=None,
        temperature=1.0,
        minus_inf=MINUS_INF,
    ):
        sb_scorer.TransformerLMScorer.__init__(
            self, language_model, temperature=temperature
        )
        PaddedLMScorer.__init__(self, vocab_size, minus_inf)

    def lm_scores(self, inp_tokens, memory):
        """The upstream scores: the LM run on the prefixes.

        Arguments
        ---------
        inp_tokens, memory : torch.Tensor
            As in ``score``; ``memory`` is ``[hyps, steps]``.

        Returns
        -------
        log_probs, memory : torch.Tensor
            ``[hyps, V]`` and ``[hyps, steps + 1]``.
        """
        return sb_scorer.TransformerLMScorer.score(
            self, inp_tokens, memory, None, None
        )


class TransformerLMRescorer(sb_scorer.TransformerLMRescorer):
    """SpeechBrain's ``TransformerLMRescorer`` for MMSpeech character texts.

    The class name is the upstream one on purpose: ``RescorerBuilder`` finds
    rescorers by class name (weight key ``transformerlm``). Differences from
    upstream: texts are encoded as they are (the ``CharTokenizer``
    normalises them; upstream upper-cases, which would turn Latin letters
    into ``<unk>``), the defaults are the MMSpeech special ids and the CPU,
    and ``length_normalization`` divides each hypothesis' LM log-probability
    by its number of scored tokens (characters plus ``</s>``), the scale of
    the length-normalised beam scores. An ``<unk>`` in a hypothesis (decoded
    as U+2047) is dropped by the tokenizer and so not scored.

    Arguments
    ---------
    language_model : torch.nn.Module
        ``lm(tokens[B, T]) -> logits[B, T, V]`` over the tokenizer's ids.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The decoder's tokenizer (``encode_as_ids``).
    device : str
        Where ``RescorerBuilder.move_rescorers_to_device()`` puts the LM.
    temperature : float
        Softmax temperature of the LM.
    bos_index : int
        ``<s>``, the LM's first input.
    eos_index : int
        ``</s>``, scored at the end of each hypothesis.
    pad_index : int
        ``<pad>``.
    length_normalization : bool
        Divide each LM score by the number of scored tokens.

    Example
    -------
    >>> from speechbrain.decoders.scorer import RescorerBuilder
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["你好", "您好"], vocab_size=8)
    >>> from speechbrain_mmspeech.lobes.models.transformer_lm import (
    ...     TransformerLM,
    ... )
    >>> lm = TransformerLM(
    ...     vocab=8, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ... )
    >>> rescorer = RescorerBuilder(
    ...     rescorers=[TransformerLMRescorer(lm, tokenizer)],
    ...     weights={"transformerlm": 0.5},
    ... )
    >>> texts, scores = rescorer.rescore([["你好", "您好"]], [[-0.1, -0.2]])
    >>> list(rescorer.rescorers), len(texts[0]), len(scores[0])
    (['transformerlm'], 2, 2)
    """

    def __init__(
        self,
        language_model,
        tokenizer,
        device="cpu",
        temperature=1.0,
        bos_index=BOS_INDEX,
        eos_index=EOS_INDEX,
        pad_index=PAD_INDEX,
        length_normalization=True,
    ):
        super().__init__(
            language_model,
            tokenizer,
            device=device,
            temperature=temperature,
            bos_index=bos_index,
            eos_index=eos_index,
            pad_index=pad_index,
        )
        self.length_normalization = length_normalization

    def normalize_text(self, text):
        """Returns the text unchanged (the tokenizer normalises it).

        Arguments
        ---------
        text : str
            A hypothesis.

        Returns
        -------
        str
            The same text.
        """
        return text

    @torch.no_grad()
    def rescore_hyps(self, topk_hyps):
        """LM log-probability of each hypothesis (per token if normalised).

        Arguments
        ---------
        topk_hyps : list of list of str
            ``[batch][k]`` hypotheses.

        Returns
        -------
        torch.Tensor
            ``[batch * k]`` scores, in reading order.
        """
        scores = super().rescore_hyps(topk_hyps)
        if not self.length_normalization:
            return scores
        lengths = [
            len(self.tokenizer.encode_as_ids(self.normalize_text(text))) + 1
            for hyps in topk_hyps
            for text in hyps
        ]
        return scores / torch.tensor(lengths, device=scores.device)


def rescore_nbest(rescorer, tokenizer, topk_hyps, topk_lengths, topk_scores):
    """Re-ranks a searcher's top-k hypotheses with a ``RescorerBuilder``.

    Arguments
    ---------
    rescorer : speechbrain.decoders.scorer.RescorerBuilder
        The rescorers and their weights.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        Turns token ids into the texts the rescorers read.
    topk_hyps : torch.Tensor
        ``[batch, k, length]`` hypotheses of a searcher built with
        ``return_topk=True`` (each ends with ``</s>``, then padding).
    topk_lengths : torch.Tensor
        ``[batch, k]`` relative lengths without ``</s>``.
    topk_scores : torch.Tensor
        ``[batch, k]`` beam scores.

    Returns
    -------
    hyps : list of list of int
        The best hypothesis of each utterance after rescoring.
    texts : list of str
        Their texts.

    Example
    -------
    >>> hyps = torch.tensor([[[5, 4, 2], [6, 4, 2]]])  # 你好</s>, 您好</s>
    >>> lengths = torch.full((1, 2), 2 / 3)
    >>> scores = torch.tensor([[-1.0, -0.5]])
    >>> from speechbrain.decoders.scorer import RescorerBuilder
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["你好", "您好"], vocab_size=8)
    >>> from speechbrain_mmspeech.lobes.models.transformer_lm import (
    ...     TransformerLM,
    ... )
    >>> lm = TransformerLM(
    ...     vocab=8, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ... )
    >>> rescorer = RescorerBuilder(
    ...     rescorers=[TransformerLMRescorer(lm, tokenizer)],
    ...     weights={"transformerlm": 0.0},
    ... )
    >>> rescore_nbest(rescorer, tokenizer, hyps, lengths, scores)
    ([[6, 4]], ['您好'])
    """
    best_hyps, best_texts = [], []
    for hyps, lengths, scores in zip(topk_hyps, topk_lengths, topk_scores):
        candidates = undo_padding(hyps, lengths)
        texts = [tokenizer.decode_ids(ids) for ids in candidates]
        ranked, _ = rescorer.rescore([texts], [scores.tolist()])
        best = texts.index(ranked[0][0])
        best_hyps.append(candidates[best])
        best_texts.append(texts[best])
    return best_hyps, best_texts
