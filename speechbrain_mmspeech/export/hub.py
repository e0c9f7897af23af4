"""Publishing MMSpeech model folders on the Hugging Face hub.

A model folder (written by the recipe or by ``speechbrain_mmspeech.convert``)
already has the hub layout that SpeechBrain fetches: ``hyperparams.yaml`` and
the ``*.ckpt`` files at the top level. ``prepare_hub_folder`` adds a
``README.md`` model card, and ``publish`` uploads the folder with
``huggingface_hub``. Loading it back needs nothing from this module::

    EncoderDecoderASR.from_hparams(source="org/name", savedir="...")

SpeechBrain's fetching calls ``huggingface_hub.hf_hub_download`` for each
file, so the hub cache (``HF_HUB_CACHE``/``HF_HOME``) and offline mode
(``HF_HUB_OFFLINE=1``, or ``fetch_config=FetchConfig(allow_network=False)``)
work as for any SpeechBrain model.

Authors
 * MMSpeech plugin contributors 2026
"""

import json
from pathlib import Path

from huggingface_hub import HfApi

from speechbrain_mmspeech.dataio.fileio import write_atomically
from speechbrain_mmspeech.export.folders import (
    CONVERSION_REPORT_FILE,
    HPARAMS_FILE,
    LM_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
)

MODEL_CARD_FILE = "README.md"
REQUIRED_FILES = (HPARAMS_FILE, MODEL_FILE, TOKENIZER_FILE)
# Hidden files (temporary or editor files) are never uploaded.
IGNORED_PATTERNS = [".*", "**/.*"]
COMMIT_MESSAGE = "Upload MMSpeech model folder"

MODEL_CARD = """\
---
language: zh
library_name: speechbrain
pipeline_tag: automatic-speech-recognition
tags:
- automatic-speech-recognition
- speechbrain
- mmspeech
---

# MMSpeech for SpeechBrain: {repo_id}

A Mandarin [MMSpeech](https://arxiv.org/abs/2212.00500) encoder-decoder ASR
model in the SpeechBrain model-folder format.

{provenance}

## Usage

Install SpeechBrain 1.1.2 and the `speechbrain-mmspeech` plugin, which
provides the classes named in `hyperparams.yaml`, then:

```python
from speechbrain.inference.ASR import EncoderDecoderASR

asr = EncoderDecoderASR.from_hparams(
    source="{repo_id}",
    savedir="pretrained_models/{name}",
)
print(asr.transcribe_file("audio.wav"))  # any sample rate or channel count
```

Offline, once the files are in the hub cache: set `HF_HUB_OFFLINE=1`.

## Files

| file | content |
| --- | --- |
| `hyperparams.yaml` | front end, model sizes and decoding settings |
| `model.ckpt` | the `MMSpeech` state dict |
| `tokenizer.ckpt` | the decoder vocabulary, one token per line |
{extra_rows}
"""
EXTRA_FILE_ROWS = {
    CONVERSION_REPORT_FILE: "how the official checkpoint was converted",
    LM_FILE: "the character language model used in decoding "
    "(`TransformerLM` state dict; see `lm_mode` and `lm_weight`)",
}


def provenance(folder):
    """Describes where the weights come from, for the model card.

    Arguments
    ---------
    folder : Path
        The model folder.

    Returns
    -------
    str
        One paragraph.

    Example
    -------
    >>> provenance(Path("no_such_folder"))
    'Trained with the speechbrain-mmspeech recipes.'
    """
    report_path = folder / CONVERSION_REPORT_FILE
    if not report_path.is_file():
        return "Trained with the speechbrain-mmspeech recipes."
    content = json.loads(report_path.read_text(encoding="utf-8"))
    sources = ", ".join(
        f"`{Path(path).name}`" for path in content.get("sources", {}).values()
    )
    return (
        f"Converted from an official MMSpeech checkpoint ({content['layout']} "
        f"layout: {sources}) with `mmspeech-convert`; `conversion.json` lists "
        "the settings read and the tensors left out (unused for ASR)."
    )


def model_card(folder, repo_id):
    """The ``README.md`` of a model folder on the hub.

    Arguments
    ---------
    folder : str or Path
        The model folder: its files choose the card's provenance and rows.
    repo_id : str
        The hub repository (``org/name``) the card's usage example loads.

    Returns
    -------
    str
        The model card.

    Example
    -------
    >>> card = model_card("no_such_folder", "org/mmspeech-base")
    >>> 'source="org/mmspeech-base"' in card
    True
    """
    folder = Path(folder)
    extra_rows = "\n".join(
        f"| `{name}` | {content} |"
        for name, content in EXTRA_FILE_ROWS.items()
        if (folder / name).is_file()
    )
    return MODEL_CARD.format(
        repo_id=repo_id,
        name=repo_id.split("/")[-1],
        provenance=provenance(folder),
        extra_rows=extra_rows,
    )


def prepare_hub_folder(folder, repo_id):
    """Checks a model folder and adds a model card unless it has one.

    Arguments
    ---------
    folder, repo_id : str or Path, str
        As in :func:`model_card`; the card is written into ``folder``.

    Returns
    -------
    pathlib.Path
        The folder.

    Example
    -------
    >>> prepare_hub_folder("no_such_folder", "org/name")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no_such_folder is not a model folder: missing hyperparams.yaml, model.ckpt, tokenizer.ckpt
    """
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a model folder: missing " + ", ".join(missing)
        )
    if not (folder / MODEL_CARD_FILE).is_file():
        card = model_card(folder, repo_id)
        write_atomically(
            folder,
            {MODEL_CARD_FILE: lambda path: path.write_text(card, "utf-8")},
        )
    return folder


def publish(folder, repo_id, token=None, private=False):
    """Uploads a model folder to the Hugging Face hub.

    Arguments
    ---------
    folder : str or Path
        The model folder.
    repo_id : str
        The hub repository (``org/name``); created if needed.
    token : str
        Hub token (default: the one ``huggingface_hub`` finds).
    private : bool
        Create the repository as private.

    Returns
    -------
    str
        The URL of the upload commit.

    Example
    -------
    >>> publish("model_folder", "org/mmspeech-base")  # doctest: +SKIP
    """
    folder = prepare_hub_folder(folder, repo_id)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        commit_message=COMMIT_MESSAGE,
        ignore_patterns=IGNORED_PATTERNS,
    )
    return str(getattr(commit, "commit_url", commit))
