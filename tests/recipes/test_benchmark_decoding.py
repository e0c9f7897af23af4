"""Smoke tests of recipes/AISHELL-1/benchmark_decoding.py on a tiny preset."""

import csv

import numpy as np
import pytest
import soundfile
import torch
import yaml
from benchmark_decoding import LengthForcedSearcher, main
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.export.folders import (
    INFERENCE_TEMPLATE,
    render_hparams,
    write_model_folder,
)
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import tiny_model

TEXTS = ["今天天气很好", "我们去公园", "你好世界"]


@pytest.fixture
def sizes(tiny_architecture):
    """A tiny preset: the shared tiny architecture, longer decoder positions."""
    return {
        **tiny_architecture,
        "max_positions": 40,
        "text_vocab_size": 24,
        "code_vocab_size": 6,
    }


@pytest.fixture
def tiny_preset(tmp_path, sizes):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sizes), encoding="utf-8")
    return path


def table_rows(output):
    """The Markdown table rows of the printed output (no header lines)."""
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [line.strip("| ").split(" | ") for line in lines[2:]]


@pytest.mark.parametrize("use_cache", [True, False])
def test_forced_lengths(use_cache):
    """Random weights emit exactly the forced lengths, cut at the positions."""
    decoder = {"max_positions": 32, "rel_pos_bucket_size": 8, "num_layers": 2}
    model = tiny_model(30, decoder=decoder).eval()
    searcher = LengthForcedSearcher(
        model,
        text_vocab_size=20,
        banned_indices=[0, 1],
        bos_index=0,
        eos_index=2,
        beam_size=3,
        min_decode_ratio=0.0,
        max_decode_ratio=1.0,
        using_eos_threshold=False,
        use_cache=use_cache,
    )
    torch.manual_seed(3)
    feats = torch.randn(3, 120, 80)
    lens = torch.ones(3)
    searcher.forced_lengths = torch.tensor([4, 0, 25])
    with torch.no_grad():
        hyps, _, _, _ = searcher(model.encode(feats, lens), lens)
    assert [len(hyp) for hyp in hyps] == [4, 0, 25]
    # Beyond the decoder positions (32, <s> included): cut at 30 + </s>.
    searcher.forced_lengths = torch.tensor([40])
    with torch.no_grad():
        hyps, _, _, _ = searcher(model.encode(feats[:1]), torch.ones(1))
    assert len(hyps[0]) == 30
    # Without forced lengths, the search is free again: </s> may come early.
    searcher.forced_lengths = None
    assert searcher.change_max_decoding_length(0, 100) == (0, 31)


def test_per_token_needs_presets(tmp_path):
    with pytest.raises(SystemExit):
        main(["--model-folder", str(tmp_path), "--per-token", "4"])


def test_int8_alone_with_bf16_alone_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--presets", "base", "--quantize", "int8", "--precision", "bf16"])
    assert "int8 is not combined with bf16" in capsys.readouterr().err


def test_preset_rows_with_generated_audio(tiny_preset, capsys):
    main(
        [
            "--presets",
            str(tiny_preset),
            "--generate",
            "3",
            "--seconds",
            "1",
            "--batch-sizes",
            "2",
            "--precision",
            "fp32",
            "bf16",
            "--threads",
            "1",
            "--in-process",
            "--profile",
        ]
    )
    output = capsys.readouterr().out
    assert output.count("Self CPU") >= 6  # a profile per configuration
    assert output.count("MMSpeech.encode |") >= 6  # and by part
    rows = table_rows(output.split("\n\n")[1])
    assert [row[:4] for row in rows] == [
        ["tiny (random)", "2", weights, cache]
        for weights in ("fp32", "bf16", "int8")  # int8 is not run in bf16
        for cache in ("on", "off")
    ]
    assert all(float(row[4]) > 0 and row[-1] == "-" for row in rows)


def test_per_token(tiny_preset, capsys):
    main(
        [
            "--presets",
            str(tiny_preset),
            "--seconds",
            "1",
            "--per-token",
            "4",
            "8",
            "--quantize",
            "none",
            "--cache",
            "on",
            "--threads",
            "1",
            "--in-process",
        ]
    )
    rows = table_rows(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0][:3] == ["tiny (random)", "fp32", "on"]
    assert all(float(cell) > 0 for cell in rows[0][3:])


@pytest.fixture
def folder_and_csv(tmp_path, sizes):
    """A tiny model folder and a CSV of noise with transcripts."""
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, sizes["text_vocab_size"])
    values = {
        "architecture": sizes,
        "beam_size": 2,
        "no_repeat_ngram_size": 2,
    }
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    model = load_hyperpyyaml(render_hparams(template, values))["model"]
    folder = write_model_folder(tmp_path / "model", model, tokenizer, values)
    manifest = tmp_path / "test.csv"
    rng = np.random.default_rng(0)
    with open(manifest, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "duration", "wav", "spk_id", "transcript"])
        for index, text in enumerate(TEXTS):
            wav = tmp_path / f"{index}.wav"
            samples = (0.1 * rng.standard_normal(8000 * (index + 1))).clip(
                -1, 1
            )
            soundfile.write(str(wav), samples.astype(np.float32), 16000)
            writer.writerow([index, len(samples) / 16000, wav, "s", text])
    return folder, manifest


def run_on_folder(folder, manifest, quantize, precision):
    """Runs one batch-1 configuration on a folder, in this process."""
    main(
        [
            "--model-folder",
            str(folder),
            "--csv",
            str(manifest),
            "--batch-sizes",
            "1",
            "--quantize",
            quantize,
            "--precision",
            precision,
            "--cache",
            "on",
            "--threads",
            "1",
            "--in-process",
        ]
    )


@pytest.mark.parametrize(
    "quantize, precision", [("int8", "fp32"), ("none", "bf16")]
)
def test_model_folder_with_csv(folder_and_csv, capsys, quantize, precision):
    run_on_folder(*folder_and_csv, quantize, precision)
    rows = table_rows(capsys.readouterr().out)
    weights = precision if quantize == "none" else quantize
    assert len(rows) == 1
    assert rows[0][:4] == ["folder model", "1", weights, "on"]
    assert float(rows[0][-1]) >= 0  # a CER


def test_folder_written_before_the_precision_key(folder_and_csv, capsys):
    folder, manifest = folder_and_csv
    hparams = folder / "hyperparams.yaml"
    lines = hparams.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [
        line for line in lines if not line.lstrip().startswith("precision:")
    ]
    assert len(kept) == len(lines) - 2  # the key and the hook's argument
    hparams.write_text("".join(kept), encoding="utf-8")
    run_on_folder(folder, manifest, "none", "fp32")
    assert len(table_rows(capsys.readouterr().out)) == 1
    with pytest.raises(ValueError, match="has no precision key"):
        run_on_folder(folder, manifest, "none", "bf16")
