"""Tests for speechbrain_mmspeech.convert.fairseq.

Reading a fairseq checkpoint, old ``args`` included, and every refusal
naming its cause (see ``official_layouts``).
"""

import shutil

import pytest
import torch

from official_layouts import (
    TIED_KEY,
    fairseq_inputs,
    transpose_fc1,
    truncate,
    write_fairseq,
)
from speechbrain_mmspeech.convert.fairseq import convert_fairseq
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


def rename_arch(folder):
    path = folder / "ofa_mmspeech_tiny.pt"
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["cfg"]["model"]["arch"] = "ofa_large"
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
