"""Tests for speechbrain_mmspeech.convert.fairseq.

Reading a fairseq checkpoint, old ``args`` included, and every refusal
naming its cause (see ``official_layouts``).
"""

import shutil

import pytest
import torch

from official_layouts import (
    OMIT,
    PHONES_WITH_BLANK,
    TIED_KEY,
    assert_same_logits,
    fairseq_inputs,
    source_model,
    transpose_fc1,
    truncate,
    write_fairseq,
)
from speechbrain_mmspeech.convert.fairseq import convert_fairseq, read_fairseq
from speechbrain_mmspeech.convert.reading import ConversionError


def test_old_checkpoints_with_args_namespace(converted, tmp_path):
    folder = write_fairseq(tmp_path / "fs", converted["model"], use_args=True)
    report = convert_fairseq(**fairseq_inputs(folder), output=tmp_path / "o")
    assert (
        report["hyperparameters"]
        == (converted["reports"]["fairseq"]["hyperparameters"])
    )
    state = torch.load(tmp_path / "o" / "model.ckpt")
    reference = torch.load(converted["fairseq"] / "model.ckpt")
    assert all(torch.equal(state[k], v) for k, v in reference.items())


# Variants the official code can produce, each with the network it runs:
# (source model overrides, cfg.model changes, cfg.task changes).
BLANK = {"phone_vocab_size": PHONES_WITH_BLANK}
FAIRSEQ_VARIANTS = {
    "disable_entangle": (
        {"entangle_position_embedding": False},
        {"disable_entangle": True},
        {},
    ),
    "entangle flag off (never read)": (
        {},
        {"entangle_position_embedding": False},
        {},
    ),
    "code layernorm off": ({}, {"code_layernorm_embedding": False}, {}),
    "no text2phone_path": (BLANK, {}, {"text2phone_path": None}),
    "<blank> row told by the table": (BLANK, {}, {"text2phone_path": OMIT}),
    "no <blank> row told by the table": ({}, {}, {"text2phone_path": OMIT}),
    "phone head size given": ({}, {"phone_dict_size": 124}, {}),
}


@pytest.mark.parametrize("case", sorted(FAIRSEQ_VARIANTS))
def test_fairseq_variants_give_the_source_logits(case, tmp_path):
    overrides, model_cfg, task_cfg = FAIRSEQ_VARIANTS[case]
    model = source_model(**overrides)
    folder = write_fairseq(
        tmp_path / "fs", model, model_cfg=model_cfg, task_cfg=task_cfg
    )
    report = convert_fairseq(**fairseq_inputs(folder), output=tmp_path / "o")
    assert_same_logits(tmp_path / "o", model, tmp_path / "save")
    architecture = report["hyperparameters"]["architecture"]
    for key, value in overrides.items():
        assert architecture[key] == value
    with_blank = overrides == BLANK
    assert report["phone_table"]["blank_row"] == with_blank
    inputs = fairseq_inputs(folder)
    read = read_fairseq(
        inputs["checkpoint"],
        inputs["vocab"],
        inputs["phone_dict"],
        inputs["fbank_config"],
    )
    phones = read.phone_tokenizer
    assert len(phones) == architecture["phone_vocab_size"]
    assert phones.mask_index == 124
    if with_blank:
        assert phones.id_to_token(141) == "<blank>"


def test_fairseq_phone_table_must_match_the_task(tmp_path):
    model = source_model(**BLANK)
    folder = write_fairseq(tmp_path / "fs", model)  # with text2phone_path
    with pytest.raises(
        ConversionError,
        match=r"cfg.task.text2phone_path = '.*text2phone_dict.txt' means 141 "
        r"phone rows .* but encoder.phone_item_embedding.weight has 142",
    ):
        convert_fairseq(**fairseq_inputs(folder), output=tmp_path / "o")


def rename_arch(folder):
    path = folder / "ofa_mmspeech_tiny.pt"
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["cfg"]["model"]["arch"] = "ofa_large"
    torch.save(checkpoint, path)


def edit_fairseq_cfg(folder, part, **changes):
    path = folder / "ofa_mmspeech_tiny.pt"
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["cfg"][part].update(changes)
    torch.save(checkpoint, path)


def edit_fairseq_state(folder, edit):
    path = folder / "ofa_mmspeech_tiny.pt"
    checkpoint = torch.load(path, weights_only=False)
    edit(checkpoint["model"])
    torch.save(checkpoint, path)


FAIRSEQ_FAILURES = {
    "truncated checkpoint": (
        lambda f: truncate(f / "ofa_mmspeech_tiny.pt"),
        r"ofa_mmspeech_tiny.pt: cannot be read .*truncated or corrupt",
    ),
    "unknown architecture": (
        rename_arch,
        r"unknown architecture 'ofa_large'",
    ),
    "wrong shape": (
        lambda f: edit_fairseq_state(f, lambda s: transpose_fc1(s, "")),
        r"wrong shape: decoder.layers.0.fc1.weight",
    ),
    "unrenamed layer": (
        lambda f: edit_fairseq_state(
            f,
            lambda s: s.update(
                {"decoder.layers.0.attn_ln.weight": torch.ones(16)}
            ),
        ),
        r"unexpected tensor: decoder.layers.0.attn_ln.weight",
    ),
    "untied output": (
        lambda f: edit_fairseq_state(
            f, lambda s: s.update({TIED_KEY: s[TIED_KEY] + 1.0})
        ),
        r"decoder.output_projection.weight differs from "
        r"decoder.embed_tokens.weight",
    ),
    "missing vocab": (
        lambda f: (f / "vocab.txt").unlink(),
        r"Missing input file\(s\): .*vocab.txt \(vocabulary\)",
    ),
    "phone head size": (
        lambda f: edit_fairseq_cfg(f, "model", phone_dict_size=100),
        r"phone_dict_size = 100, but phone_dict.txt gives 124",
    ),
    "feature_transforms only": (
        lambda f: (f / "fbank_config.yaml").write_text(
            "feature_transforms:\n  '*': [utterance_cmvn]\n"
        ),
        r"expected exactly one CMVN transform at inference .*found \[\]; "
        r"'feature_transforms' is not read by OFA's fairseq",
    ),
    "missing phone dict": (
        lambda f: (f / "phone_dict.txt").unlink(),
        r"phone_dict.txt \(phone dictionary\)",
    ),
}


@pytest.mark.parametrize("case", sorted(FAIRSEQ_FAILURES))
def test_fairseq_failures_name_the_problem(case, converted, tmp_path):
    edit, message = FAIRSEQ_FAILURES[case]
    folder = tmp_path / "fs"
    shutil.copytree(converted["root"] / "fs", folder)
    edit(folder)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(ConversionError, match=message):
        convert_fairseq(**fairseq_inputs(folder), output=outputs / "model")
    assert list(outputs.iterdir()) == []
