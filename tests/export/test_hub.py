"""Tests for speechbrain_mmspeech.export.hub: model card, upload, loading by repo id.

Nothing can reach the hub here: the upload is recorded through a stand-in
``HfApi``, and loading by repo id runs offline against a hub cache the test
builds itself in the standard ``huggingface_hub`` layout.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from speechbrain.inference.ASR import EncoderDecoderASR
from speechbrain.utils.fetching import FetchConfig

from hub_cache import COMMIT, add_to_hub_cache
from speechbrain_mmspeech.convert.cli import main
from speechbrain_mmspeech.export import hub
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import TEMPLATE_SIZES, folder_values, model_from_template

# The subprocess imports this checkout, whatever is pip-installed.
REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_ID = "mmspeech-test/tiny-model"
TINY = {
    **TEMPLATE_SIZES,
    "max_positions": 16,
    "rel_pos_bucket_size": 4,
    "text_vocab_size": 12,
    "code_vocab_size": 2,
}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A self-trained-style model folder (random weights)."""
    tokenizer = CharTokenizer()
    tokenizer.build(["今天天气很好"], TINY["text_vocab_size"])
    model = model_from_template(TINY)
    folder = tmp_path_factory.mktemp("model")
    return write_model_folder(folder, model, tokenizer, folder_values(TINY))


def test_model_card(model_folder, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in model_folder.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    assert hub.prepare_hub_folder(folder, REPO_ID) == folder
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlanguage: zh\nlibrary_name: speechbrain\n")
    assert f'source="{REPO_ID}"' in card
    assert "EncoderDecoderASR.from_hparams" in card
    assert "Trained with the speechbrain-mmspeech recipes." in card
    # An existing card is kept.
    (folder / "README.md").write_text("my card")
    hub.prepare_hub_folder(folder, REPO_ID)
    assert (folder / "README.md").read_text() == "my card"
    (folder / "model.ckpt").unlink()
    with pytest.raises(FileNotFoundError, match="missing model.ckpt"):
        hub.prepare_hub_folder(folder, REPO_ID)


def test_model_card_of_a_converted_folder(tmp_path):
    (tmp_path / "conversion.json").write_text(
        '{"layout": "fairseq", "sources": {"checkpoint": "/x/base.pt"}}'
    )
    card = hub.model_card(tmp_path, REPO_ID)
    assert "fairseq layout: `base.pt`" in card
    assert "| `conversion.json` |" in card


class RecordingApi:
    """Stands for ``huggingface_hub.HfApi`` and records the calls."""

    calls = []

    def __init__(self, token=None):
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        files = sorted(os.listdir(kwargs["folder_path"]))
        self.calls.append(("files", files))
        return f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"


def test_publish_uploads_the_folder(model_folder, tmp_path, monkeypatch):
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in model_folder.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    RecordingApi.calls = []
    monkeypatch.setattr(hub, "HfApi", RecordingApi)
    url = hub.publish(folder, REPO_ID, token="secret", private=True)
    assert url == f"https://huggingface.co/{REPO_ID}/commit/abc"
    assert RecordingApi.calls == [
        ("init", {"token": "secret"}),
        (
            "create_repo",
            {
                "repo_id": REPO_ID,
                "repo_type": "model",
                "private": True,
                "exist_ok": True,
            },
        ),
        (
            "upload_folder",
            {
                "repo_id": REPO_ID,
                "folder_path": str(folder),
                "repo_type": "model",
                "commit_message": hub.COMMIT_MESSAGE,
                "ignore_patterns": hub.IGNORED_PATTERNS,
            },
        ),
        (
            "files",
            [
                "README.md",
                "hyperparams.yaml",
                "model.ckpt",
                "tokenizer.ckpt",
            ],
        ),
    ]


def test_publish_command(model_folder, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in model_folder.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    assert main(["publish", str(folder), REPO_ID, "--dry-run"]) == 0
    assert "not uploaded" in capsys.readouterr().out
    assert (folder / "README.md").is_file()
    RecordingApi.calls = []
    monkeypatch.setattr(hub, "HfApi", RecordingApi)
    assert main(["publish", str(folder), REPO_ID]) == 0
    assert f"huggingface.co/{REPO_ID}" in capsys.readouterr().out
    assert RecordingApi.calls[1][0] == "create_repo"


def transcribe(asr):
    generator = torch.Generator().manual_seed(5)
    wavs = 0.3 * torch.randn(2, 16000, generator=generator)
    return asr.transcribe_batch(wavs, torch.tensor([1.0, 0.7]))[1]


def test_load_by_repo_id_offline(
    model_folder, tmp_path, no_network, monkeypatch
):
    cache = tmp_path / "hub"
    add_to_hub_cache(cache, REPO_ID, model_folder, COMMIT)
    monkeypatch.chdir(tmp_path)  # "org/name" must not be a local folder
    asr = EncoderDecoderASR.from_hparams(
        source=REPO_ID,
        savedir=str(tmp_path / "pretrained"),
        fetch_config=FetchConfig(
            allow_network=False, huggingface_cache_dir=str(cache)
        ),
        run_opts={"device": "cpu"},
    )
    # savedir holds links into the cache snapshot.
    linked = (tmp_path / "pretrained" / "model.ckpt").resolve()
    assert linked.parent.name == "blobs"
    local = EncoderDecoderASR.from_hparams(
        source=str(model_folder),
        savedir=str(tmp_path / "local"),
        run_opts={"device": "cpu"},
    )
    assert transcribe(asr) == transcribe(local)


def test_load_by_repo_id_with_hf_environment(model_folder, tmp_path):
    """The standard variables alone: HF_HUB_OFFLINE=1 and HF_HUB_CACHE."""
    cache = tmp_path / "hub"
    add_to_hub_cache(cache, REPO_ID, model_folder, COMMIT)
    env = dict(os.environ)
    python_path = [str(REPO_ROOT), env.get("PYTHONPATH", "")]
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, python_path)),
        HF_HUB_OFFLINE="1",
        HF_HUB_CACHE=str(cache),
        HF_HOME=str(tmp_path / "hf_home"),
    )
    script = (
        "from speechbrain.inference.ASR import EncoderDecoderASR\n"
        f"asr = EncoderDecoderASR.from_hparams(source={REPO_ID!r}, "
        "savedir='pretrained', run_opts={'device': 'cpu'})\n"
        "print(len(asr.tokenizer.tokens))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(TINY["text_vocab_size"])
