"""Strict matching of checkpoint tensors to a model built from its configuration.

``build_model`` builds the model of the inference template for the values
read from the checkpoint. ``match_weights`` then requires every model tensor
with its shape, fills the tied output projection from the token embeddings,
and accepts no other checkpoint tensor than the ones ASR never uses and the
buffers our model recomputes (a saved relative-position bucket table must
equal ours). Every problem is listed in one ``ConversionError``.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.convert.official import (
    RECOMPUTED_BUFFERS,
    TIED_WEIGHTS,
    TOKEN_BUCKETS_KEY,
    unused_official_tensors,
)
from speechbrain_mmspeech.convert.reading import ConversionError
from speechbrain_mmspeech.export.folders import (
    INFERENCE_TEMPLATE,
    render_hparams,
)

MAX_LISTED_PROBLEMS = 20


def build_model(values):
    """Builds the MMSpeech model of ``hparams/inference.yaml`` for ``values``.

    Arguments
    ---------
    values : dict
        Template values.

    Returns
    -------
    speechbrain_mmspeech.model.MMSpeech
        A freshly initialised model.

    Example
    -------
    >>> model = build_model(getfixture("tiny_template_values"))
    >>> model.decoder.embed_tokens.weight.shape
    torch.Size([12, 16])
    """
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    return load_hyperpyyaml(render_hparams(template, values))["model"]


def match_weights(model, state, origin):
    """Matches checkpoint tensors to the model, strictly.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model built from the checkpoint's configuration.
    state : dict
        Checkpoint tensors under our names.
    origin : str
        Where they come from (for messages).

    Returns
    -------
    used : dict
        The model's full state dict, from the checkpoint.
    skipped : dict
        Checkpoint tensors left out, with their shapes and the reason.

    Example
    -------
    >>> model = build_model(getfixture("tiny_template_values"))
    >>> match_weights(model, {}, "x.pt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: x.pt: ... problem(s) with the weights:
      missing: decoder.cross_pos_k_linear.bias ...
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    decoder = model.decoder
    unused = unused_official_tensors(
        decoder.embed_tokens.embedding_dim, decoder.nhead, len(decoder.layers)
    )
    used, skipped, problems = classify_keys(expected, state, unused)
    fill_tied_weights(used, problems)
    check_token_buckets(model, state, problems)
    problems += [
        f"missing: {key} {expected[key]}"
        for key in sorted(set(expected) - set(used))
    ]
    if problems:
        listed = sorted(problems)[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(listed)
        text = "\n  ".join(listed + ([f"... and {more} more"] if more else []))
        raise ConversionError(
            f"{origin}: {len(problems)} problem(s) with the weights:\n  {text}"
        )
    return used, skipped


def classify_keys(expected, state, unused):
    """Sorts checkpoint tensors into used, skipped and problems.

    Arguments
    ---------
    expected : dict
        ``{key: shape}`` of our model's state dict.
    state : dict
        Checkpoint tensors under our names.
    unused : dict
        ``{key: shape}`` of official tensors ASR never uses.

    Returns
    -------
    used : dict
        Tensors to load.
    skipped : dict
        ``{key: {"shape", "reason"}}`` for unused tensors and buffers.
    problems : list of str
        Unexpected or mis-shaped keys.

    Example
    -------
    >>> classify_keys({"a": (2,)}, {"a": torch.ones(3)}, {})[2]
    ['wrong shape: a is (3,) in the checkpoint, (2,) in the model']
    """
    used, skipped, problems = {}, {}, []
    for key, tensor in state.items():
        shape = tuple(tensor.shape)
        if key in expected or key in unused:
            wanted = tuple(expected.get(key, unused.get(key)))
            if shape != wanted:
                problems.append(
                    f"wrong shape: {key} is {shape} in the checkpoint, "
                    f"{wanted} in the model"
                )
            elif key in expected:
                used[key] = tensor
            else:
                skipped[key] = {
                    "shape": list(shape),
                    "reason": "unused for ASR",
                }
        elif key.rsplit(".", 1)[-1] in RECOMPUTED_BUFFERS:
            skipped[key] = {"shape": list(shape), "reason": "recomputed buffer"}
        else:
            problems.append(f"unexpected tensor: {key} {shape}")
    return used, skipped, problems


def fill_tied_weights(used, problems):
    """Fills tied weights the checkpoint left out; checks the ones it kept.

    Arguments
    ---------
    used : dict
        Tensors to load (modified in place).
    problems : list of str
        Problems found so far (appended to).

    Returns
    -------
    dict
        ``used``.

    Example
    -------
    >>> used = {"decoder.embed_tokens.weight": torch.ones(2, 2)}
    >>> sorted(fill_tied_weights(used, []))
    ['decoder.embed_tokens.weight', 'decoder.output_projection.weight']
    """
    for tied, source in TIED_WEIGHTS.items():
        if source not in used:
            continue
        if tied not in used:
            used[tied] = used[source]
        elif not torch.equal(used[tied], used[source]):
            problems.append(f"{tied} differs from {source}; they must be tied")
    return used


def check_token_buckets(model, state, problems):
    """Compares a saved relative-position bucket table with ours.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model (its recomputed ``token_rp_bucket``).
    state : dict
        Checkpoint tensors.
    problems : list of str
        Problems found so far (appended to).

    Returns
    -------
    bool
        True when the checkpoint had a table and it matched.

    Example
    -------
    >>> check_token_buckets(None, {}, [])  # no saved table: nothing to check
    False
    """
    if TOKEN_BUCKETS_KEY not in state:
        return False
    saved = state[TOKEN_BUCKETS_KEY]
    ours = model.decoder.token_rp_bucket
    if saved.shape != ours.shape or not torch.equal(saved.long(), ours.long()):
        problems.append(
            f"{TOKEN_BUCKETS_KEY}: the checkpoint's relative-position buckets "
            "differ from the ones our decoder computes"
        )
        return False
    return True


def check_phone_head(model, phone_tokenizer):
    """Checks that the phone head ends where phone_dict.txt puts ``<mask>``.

    The official head scores phone rows 3 .. ``phone_dict_size`` (124); our
    encoder's ``phone_head_range`` must end at the same row.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model.
    phone_tokenizer : PinyinTokenizer
        The checkpoint's phone inventory.

    Returns
    -------
    int
        The end row.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import PinyinTokenizer
    >>> model = build_model(getfixture("tiny_template_values"))
    >>> check_phone_head(model, PinyinTokenizer())
    124
    """
    end = model.encoder.phone_head_range[1]
    if phone_tokenizer.mask_index != end:
        raise ConversionError(
            f"phone_dict.txt puts <mask> at id {phone_tokenizer.mask_index}; "
            f"only {end} (the official inventory size) is supported"
        )
    return end
