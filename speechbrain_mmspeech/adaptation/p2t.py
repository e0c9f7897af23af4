"""The P2T way: the decoder learns the domain's text from its phones.

P2T (``training.tasks.PhoneToTextTask``) is how MMSpeech learns text
without audio: masked pinyin phones enter the encoder at its context layer
and the decoder writes the characters. Adaptation continues it on the
domain text, with three guards against forgetting:

- the encoder is frozen (and run without gradients): the phone head and
  the acoustic path stay exactly as they were, only the decoder moves;
- every batch mixes ``pool_ratio`` sentences of the original text pool per
  domain sentence (when a pool is given), so that the old text keeps its
  weight;
- few steps at a small learning rate (``hparams/adapt.yaml``);
- with labeled speech, every step adds S2T on ``labeled_batch_size``
  utterances (``adaptation.labeled``, ``s2t_batch``).

Authors
 * MMSpeech plugin contributors 2026
"""

import math
import random
import time

import torch
from tqdm import tqdm

from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.tokenizers import (
    BOS_INDEX,
    EOS_INDEX,
    PAD_INDEX,
    PinyinTokenizer,
)
from speechbrain_mmspeech.training.tasks import PhoneToTextTask


def encode_sentences(sentences, tokenizer, pinyin, max_chars):
    """Phone ids and character ids of each sentence.

    Arguments
    ---------
    sentences : list of str
        Normalised sentences.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
    pinyin : speechbrain_mmspeech.tokenizers.PinyinTokenizer
    max_chars : int
        Longer sentences are cut.

    Returns
    -------
    list of (list of int, list of int)
        Sentences without any phone are left out.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> pairs = encode_sentences(
    ...     ["女"], CharTokenizer(["女"]), PinyinTokenizer(), 8
    ... )
    >>> pairs
    [([68, 116], [4])]
    """
    pairs = []
    for sentence in sentences:
        sentence = sentence[:max_chars]
        phones = pinyin.encode_as_ids(sentence)
        if phones:
            pairs.append((phones, tokenizer.encode_as_ids(sentence)))
    return pairs


def text_targets(token_lists):
    """Decoder inputs and targets of token id lists, padded.

    Arguments
    ---------
    token_lists : list of list of int
        Character ids, one list per sentence.

    Returns
    -------
    tokens_bos : torch.Tensor
        ``<s>`` then the ids, padded.
    tokens_eos : torch.Tensor
        The ids then ``</s>``, padded.
    token_lens : torch.Tensor
        Their relative lengths.

    Example
    -------
    >>> bos, eos, lens = text_targets([[4, 5], [5]])
    >>> bos.tolist(), eos.tolist(), lens.tolist()
    ([[0, 4, 5], [0, 5, 1]], [[4, 5, 2], [5, 2, 1]], [1.0, 0.6666666865348816])
    """
    n_tokens = max(map(len, token_lists)) + 1
    bos = torch.full((len(token_lists), n_tokens), PAD_INDEX)
    eos = torch.full((len(token_lists), n_tokens), PAD_INDEX)
    for row, tokens in enumerate(token_lists):
        bos[row, : len(tokens) + 1] = torch.tensor([BOS_INDEX, *tokens])
        eos[row, : len(tokens) + 1] = torch.tensor([*tokens, EOS_INDEX])
    lens = torch.tensor([(len(t) + 1) / n_tokens for t in token_lists])
    return bos, eos, lens


def collate(pairs, task):
    """Pads masked phones and tokens of a batch.

    Arguments
    ---------
    pairs : list of (list of int, list of int)
        ``encode_sentences`` items.
    task : speechbrain_mmspeech.training.tasks.PhoneToTextTask
        Masks the phones.

    Returns
    -------
    phones, phone_lens, tokens_bos, tokens_eos, token_lens : torch.Tensor
    """
    n_phones = max(len(phones) for phones, _ in pairs)
    phones = torch.full((len(pairs), n_phones), PAD_INDEX)
    for row, (sentence_phones, _) in enumerate(pairs):
        phones[row, : len(sentence_phones)] = task.mask_phones(sentence_phones)
    phone_lens = torch.tensor([len(p) / n_phones for p, _ in pairs])
    return (phones, phone_lens, *text_targets([t for _, t in pairs]))


def s2t_batch(items, tokenizer):
    """Pads the memories and the transcripts' character ids of a batch.

    Arguments
    ---------
    items : list of (torch.Tensor, str)
        ``adaptation.labeled.encode_labeled`` items.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The (grown) tokenizer.

    Returns
    -------
    memory : torch.Tensor
        ``[batch, time, 2 * d_model + 1]`` packed memories; padded frames
        are zeros, i.e. marked as padding.
    tokens_bos, tokens_eos, token_lens : torch.Tensor
        As in ``text_targets``.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> memory = torch.ones(3, 5)  # d_model 2, three frames
    >>> batch = s2t_batch(
    ...     [(memory, "你好"), (memory[:2], "好")], CharTokenizer(["你", "好"])
    ... )
    >>> batch[0].shape, batch[0][1, 2, -1].item(), batch[1].tolist()
    (torch.Size([2, 3, 5]), 0.0, [[0, 4, 5], [0, 5, 1]])
    """
    memory = torch.nn.utils.rnn.pad_sequence(
        [memory for memory, _ in items], batch_first=True
    )
    ids = [tokenizer.encode_as_ids(text) for _, text in items]
    return (memory, *text_targets(ids))


def draw(order, size, n, rng):
    """The next ``n`` indices of an endless shuffled order of ``range(size)``.

    Arguments
    ---------
    order : list of int
        The indices not drawn yet; refilled with a new shuffle when short,
        and consumed in place.
    size : int
        How many items there are.
    n : int
        How many to draw.
    rng : random.Random
        Shuffles.

    Returns
    -------
    list of int

    Example
    -------
    >>> order, rng = [], random.Random(0)
    >>> sorted(draw(order, 3, 2, rng) + draw(order, 3, 1, rng))
    [0, 1, 2]
    """
    if len(order) < n:
        order += rng.sample(range(size), size)
    picked = order[:n]
    del order[:n]
    return picked


def train_p2t(
    model, tokenizer, domain, pool, settings, progress=True, labeled=None
):
    """Trains the decoder with P2T on domain text mixed with pool text.

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        Trained in place (its encoder is left unchanged).
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The (grown) tokenizer.
    domain : list of str
        Domain sentences.
    pool : list of str
        Original text pool sentences (may be empty).
    settings : dict
        ``p2t_epochs``, ``p2t_max_steps``, ``p2t_batch_size``,
        ``p2t_pool_ratio``, ``p2t_lr``, ``max_text_chars``, ``seed``
        (and ``labeled_batch_size`` with ``labeled``).
    progress : bool
        Show a tqdm progress bar.
    labeled : list of (torch.Tensor, str)
        Encoded labeled utterances (``adaptation.labeled.encode_labeled``):
        each step adds their S2T loss (None: P2T alone).

    Returns
    -------
    dict
        ``steps``, ``seconds``, ``first_loss`` and ``last_loss`` (mean
        per-sentence loss of the first and last tenth of the steps).
    """
    rng = random.Random(settings["seed"])
    torch.manual_seed(settings["seed"])
    pinyin = PinyinTokenizer()
    max_chars = settings["max_text_chars"]
    domain_pairs = encode_sentences(domain, tokenizer, pinyin, max_chars)
    batch_size = settings["p2t_batch_size"]
    n_pool = round(batch_size * settings["p2t_pool_ratio"]) if pool else 0
    steps = math.ceil(settings["p2t_epochs"] * len(domain_pairs) / batch_size)
    if settings.get("p2t_max_steps"):
        steps = min(steps, settings["p2t_max_steps"])
    task = PhoneToTextTask(
        text_vocab_size=len(tokenizer), mask_ratio=settings["p2t_mask_ratio"]
    )
    for parameter in model.encoder.parameters():
        parameter.requires_grad_(False)
    decoder_parameters = [
        p for p in model.decoder.parameters() if p.requires_grad
    ]
    optimizer = torch.optim.AdamW(
        decoder_parameters, lr=settings["p2t_lr"], weight_decay=0.0
    )
    warmup = max(1, round(steps * settings["p2t_warmup"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(
            (step + 1) / warmup, (steps - step) / max(steps - warmup, 1)
        ),
    )
    model.train()
    model.encoder.eval()
    order, labeled_order = [], []
    losses, start = [], time.perf_counter()
    bar = tqdm(range(steps), desc="P2T", disable=not progress, unit="step")
    for _ in bar:
        picked = draw(order, len(domain_pairs), batch_size, rng)
        batch = [domain_pairs[i] for i in picked]
        pool_sentences = [rng.choice(pool) for _ in range(n_pool)]
        batch += encode_sentences(pool_sentences, tokenizer, pinyin, max_chars)
        phones, phone_lens, bos, eos, token_lens = collate(batch, task)
        with torch.no_grad():
            encoded = model.encoder(
                None, None, phones=phones, phone_lens=phone_lens
            )
        hidden = model.decoder(
            bos, encoded.hidden, encoded.positions, encoded.padding_mask
        )
        logits = model.output_projection(hidden)
        loss, count = task.loss(logits, eos, token_lens), len(batch)
        if labeled:
            n = settings["labeled_batch_size"]
            picked = draw(labeled_order, len(labeled), n, rng)
            items = [labeled[i] for i in picked]
            memory, s2t_bos, s2t_eos, s2t_lens = s2t_batch(items, tokenizer)
            hidden = model.decoder(s2t_bos, *unpack_memory(memory))
            logits = model.output_projection(hidden)
            loss = loss + task.loss(logits, s2t_eos, s2t_lens)
            count += len(items)
        loss = loss / count
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            decoder_parameters, settings["p2t_max_grad_norm"]
        )
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    tenth = max(1, len(losses) // 10)
    return {
        "steps": steps,
        "seconds": round(time.perf_counter() - start, 1),
        "first_loss": round(sum(losses[:tenth]) / tenth, 4) if losses else None,
        "last_loss": round(sum(losses[-tenth:]) / tenth, 4) if losses else None,
    }
