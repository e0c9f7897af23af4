"""Tests for speechbrain_mmspeech.convert.modelscope.

Reading a ModelScope folder, and every refusal naming its cause (see
``official_layouts``).
"""

import json
import shutil

import pytest
import torch

from official_layouts import (
    CONFIGURATION,
    MODELSCOPE_CONFIG,
    PHONES_WITH_BLANK,
    SPECIALS,
    TEXT_VOCAB,
    assert_same_logits,
    source_model,
    transpose_fc1,
    truncate,
    write_lines,
    write_modelscope,
)
from speechbrain_mmspeech.convert.cli import summary
from speechbrain_mmspeech.convert.folder import report
from speechbrain_mmspeech.convert.modelscope import (
    convert_modelscope,
    read_modelscope,
)
from speechbrain_mmspeech.convert.reading import ConversionError


def test_modelscope_absent_flags_take_mmspeechconfig_defaults(
    converted, tmp_path
):
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    config = dict(MODELSCOPE_CONFIG)
    del config["scale_embedding"], config["entangle_position_embedding"]
    (folder / "config.json").write_text(json.dumps(config))
    read = read_modelscope(folder)
    architecture = read.values["architecture"]
    assert architecture["scale_embedding"] is False
    assert architecture["entangle_position_embedding"] is False
    defaulted = read.notes["defaulted_config_keys"]
    assert defaulted["scale_embedding"] is False
    assert defaulted["entangle_position_embedding"] is False
    printed = summary(report(read, {}, []), "out")
    assert "'scale_embedding': False" in printed
    assert "unlike the fairseq model" in printed


# Variants the official code can produce, each with the network it runs:
# (source model overrides, config.json changes, model.beam_search).
CONSTRAINT = {"constraint_range": f"4,{TEXT_VOCAB}"}
MODELSCOPE_VARIANTS = {
    "code layernorm on": ({}, {"code_layernorm_embedding": True}, None),
    "disable_entangle": (
        {"entangle_position_embedding": False},
        {"disable_entangle": True},
        None,
    ),
    "no entangle": (
        {"entangle_position_embedding": False},
        {"entangle_position_embedding": False},
        None,
    ),
    "phone table with <blank>": (
        {"phone_vocab_size": PHONES_WITH_BLANK},
        {"phone_vocab_size": PHONES_WITH_BLANK},
        None,
    ),
    "beam keys left out": ({}, {}, CONSTRAINT),
    "generator defaults given": (
        {},
        {},
        {**CONFIGURATION["model"]["beam_search"], "len_penalty": 1.0},
    ),
}


@pytest.mark.parametrize("case", sorted(MODELSCOPE_VARIANTS))
def test_modelscope_variants_give_the_source_logits(case, tmp_path):
    overrides, config, beam_search = MODELSCOPE_VARIANTS[case]
    model = source_model(**overrides)
    folder = write_modelscope(tmp_path / "ms", model, config, beam_search)
    report = convert_modelscope(folder, tmp_path / "out")
    assert_same_logits(tmp_path / "out", model, tmp_path / "save")
    values = report["hyperparameters"]
    for key, value in overrides.items():
        assert values["architecture"][key] == value
    skipped = report["skipped_tensors"]["decoder.code_layernorm_embedding.bias"]
    assert skipped["reason"] == "unused for ASR"
    assert report["phone_table"]["blank_row"] == (
        "phone_vocab_size" in overrides
    )
    if beam_search == CONSTRAINT:
        # ModelScope's own fallbacks (OfaForAllTasks), not the hub file's.
        assert values["max_decode_length"] == 16
        assert values["no_repeat_ngram_size"] == 3
        assert values["beam_size"] == 5 and values["min_decode_length"] == 1
        assert report["defaulted_beam_search_keys"] == [
            "beam_size",
            "max_len_b",
            "min_len",
            "no_repeat_ngram_size",
        ]


def test_modelscope_phone_table_with_blank(tmp_path):
    model = source_model(phone_vocab_size=PHONES_WITH_BLANK)
    config = {"phone_vocab_size": PHONES_WITH_BLANK}
    folder = write_modelscope(tmp_path / "ms", model, config)
    read = read_modelscope(folder)
    phones = read.phone_tokenizer
    assert len(phones) == PHONES_WITH_BLANK and phones.mask_index == 124
    assert phones.id_to_token(141) == "<blank>"


def edit_weights(folder, edit, name="pytorch_model.bin"):
    state = torch.load(folder / name)
    edit(state)
    torch.save(state, folder / name)


def edit_json(path, **changes):
    content = json.loads(path.read_text())
    content.update(changes)
    path.write_text(json.dumps(content))


def edit_beam(folder, **changes):
    path = folder / "configuration.json"
    content = json.loads(path.read_text())
    content["model"]["beam_search"].update(changes)
    path.write_text(json.dumps(content))


MODELSCOPE_FAILURES = {
    "truncated weights": (
        lambda f: truncate(f / "pytorch_model.bin"),
        r"pytorch_model.bin: cannot be read .*truncated or corrupt",
    ),
    "wrong shape": (
        lambda f: edit_weights(f, transpose_fc1),
        r"wrong shape: decoder.layers.0.fc1.weight is \(16, 32\) in the "
        r"checkpoint, \(32, 16\) in the model",
    ),
    "unexpected tensor": (
        lambda f: edit_weights(
            f, lambda s: s.update({"model.decoder.extra.weight": torch.ones(2)})
        ),
        r"unexpected tensor: decoder.extra.weight \(2,\)",
    ),
    "missing tensor": (
        lambda f: edit_weights(
            f, lambda s: s.pop("model.encoder.post_subsample_proj.bias")
        ),
        r"missing: encoder.post_subsample_proj.bias \(16,\)",
    ),
    "mis-shaped unused tensor": (
        lambda f: edit_weights(
            f,
            lambda s: s.update(
                {"model.encoder.final_proj.bias": torch.ones(3)}
            ),
        ),
        r"wrong shape: encoder.final_proj.bias is \(3,\)",
    ),
    "post-LN encoder": (
        lambda f: edit_json(f / "config.json", encoder_normalize_before=False),
        r"config.json: encoder_normalize_before = False is not supported",
    ),
    "post-LN decoder": (
        lambda f: edit_json(f / "config.json", decoder_normalize_before=False),
        r"decoder_normalize_before = False is not supported",
    ),
    "shared attention bias": (
        lambda f: edit_json(f / "config.json", share_attn_bias=True),
        r"share_attn_bias = True is not supported",
    ),
    "phone table size": (
        lambda f: edit_json(f / "config.json", phone_vocab_size=143),
        r"phone_vocab_size = 143, but phone_dict.txt gives 141",
    ),
    "no constraint range": (
        lambda f: edit_json(
            f / "configuration.json",
            model={**CONFIGURATION["model"], "beam_search": {"beam_size": 5}},
        ),
        r"model.beam_search has no constraint_range: ModelScope then decodes "
        r"over every id",
    ),
    "no beam search": (
        lambda f: edit_json(
            f / "configuration.json",
            model={
                k: v
                for k, v in CONFIGURATION["model"].items()
                if k != "beam_search"
            },
        ),
        r"model.beam_search has no constraint_range",
    ),
    "fairseq length penalty name": (
        lambda f: edit_beam(f, lenpen=1.0),
        r"model.beam_search.lenpen is not an argument of ModelScope's "
        r"SequenceGenerator .*its length penalty is len_penalty",
    ),
    "length penalty": (
        lambda f: edit_beam(f, len_penalty=2.0),
        r"len_penalty = 2.0 is not supported \(only 1.0\)",
    ),
    "max_len_a": (
        lambda f: edit_beam(f, max_len_a=1),
        r"max_len_a = 1 is not supported \(only 0\)",
    ),
    "no normformer": (
        lambda f: edit_json(f / "config.json", normformer=False),
        r"normformer = False is not supported",
    ),
    "unequal heads": (
        lambda f: edit_json(f / "config.json", decoder_attention_heads=4),
        r"encoder_attention_heads = 2 differs from decoder_attention_heads = 4",
    ),
    "missing size": (
        lambda f: edit_json(f / "config.json", d_model=None),
        r"d_model = None should be of type int",
    ),
    "not mmspeech": (
        lambda f: edit_json(
            f / "configuration.json",
            model={**CONFIGURATION["model"], "multimodal_type": "caption"},
        ),
        r"multimodal_type is 'caption', not 'mmspeech': unknown architecture",
    ),
    "wrong constraint range": (
        lambda f: edit_json(
            f / "configuration.json",
            model={
                **CONFIGURATION["model"],
                "beam_search": {"constraint_range": "4,21134"},
            },
        ),
        r"constraint_range '4,21134' does not match the vocabulary",
    ),
    "missing vocab.txt": (
        lambda f: (f / "vocab.txt").unlink(),
        r"Missing input file\(s\): .*vocab.txt \(vocab.txt\)",
    ),
    "missing phone_dict.txt": (
        lambda f: (f / "phone_dict.txt").unlink(),
        r"Missing input file\(s\): .*phone_dict.txt",
    ),
    "missing config.json": (
        lambda f: (f / "config.json").unlink(),
        r"Missing input file\(s\): .*config.json",
    ),
    "specaugment at inference": (
        lambda f: (f / "fbank_config.yaml").write_text(
            "transforms:\n  '*': [utterance_cmvn, specaugment]\n"
        ),
        r"transform\(s\) \['specaugment'\] at inference are not supported",
    ),
    "missing global stats": (
        lambda f: (f / "fbank_config.yaml").write_text(
            "global_cmvn:\n  stats_npz_path: stats.npz\n"
            "transforms:\n  '*': [global_cmvn]\n"
        ),
        r"stats.npz: no such file \(global_cmvn stats\)",
    ),
    "vocabulary size mismatch": (
        lambda f: write_lines(f / "vocab.txt", [*SPECIALS, "好", "<mask>"]),
        rf"constraint_range '4,{TEXT_VOCAB}' does not match the vocabulary "
        r"\(expected '4,7'\)",
    ),
}


@pytest.mark.parametrize("case", sorted(MODELSCOPE_FAILURES))
def test_modelscope_failures_name_the_problem(case, converted, tmp_path):
    edit, message = MODELSCOPE_FAILURES[case]
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    edit(folder)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(ConversionError, match=message):
        convert_modelscope(folder, outputs / "model")
    assert list(outputs.iterdir()) == []  # nothing partial, no temp folder
