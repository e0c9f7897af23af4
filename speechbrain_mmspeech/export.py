"""Writing model folders that ``EncoderDecoderASR.from_hparams`` loads.

A model folder holds ``hyperparams.yaml`` (the inference template of
``hparams/inference.yaml`` with the model's own sizes and decoding settings
filled in), ``model.ckpt`` (the ``MMSpeech`` state dict) and
``tokenizer.ckpt``. The same folder works locally and, uploaded as is, as a
Hugging Face hub repository.

Authors
 * MMSpeech plugin contributors 2026
"""

import os
import re
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook

INFERENCE_TEMPLATE = (
    Path(__file__).resolve().parents[1] / "hparams" / "inference.yaml"
)
HPARAMS_FILE = "hyperparams.yaml"
MODEL_FILE = "model.ckpt"
TOKENIZER_FILE = "tokenizer.ckpt"


def yaml_scalar(value):
    """Writes a Python scalar (or a flat list of them) as HyperPyYAML reads it.

    Arguments
    ---------
    value : bool, int, float, str or list
        The value; a list holds scalars only.

    Returns
    -------
    str

    Example
    -------
    >>> yaml_scalar(True), yaml_scalar(0.5), yaml_scalar("a b")
    ('True', '0.5', '"a b"')
    >>> yaml_scalar([1.5, -2.0])
    '[1.5, -2.0]'
    """
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain_scalar(item) for item in value) + "]"
    return _plain_scalar(value)


def _plain_scalar(value):
    """Writes one bool, int, float or str (see ``yaml_scalar``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise TypeError(f"Cannot write {value!r} as a YAML scalar")


def render_hparams(template, values):
    """Sets top-level ``key: value`` lines of a YAML template.

    Arguments
    ---------
    template : str
        YAML text whose top level defines every key of ``values`` once, as a
        plain scalar.
    values : dict
        New values by key.

    Returns
    -------
    str
        The template with those lines replaced.

    Example
    -------
    >>> render_hparams("d_model: 768\\nbeam_size: 5\\n", {"d_model": 64})
    'd_model: 64\\nbeam_size: 5\\n'
    """
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}:[^\n]*$", re.MULTILINE)
        found = len(pattern.findall(template))
        if found != 1:
            raise KeyError(
                f"The template defines '{key}' {found} times at its top "
                "level; it must define it exactly once"
            )
        line = f"{key}: {yaml_scalar(value)}"
        template = pattern.sub(lambda _, line=line: line, template)
    return template


def write_model_folder(
    folder, model, tokenizer, values, template_path=INFERENCE_TEMPLATE
):
    """Writes hyperparams, weights and tokenizer for ``from_hparams``.

    Arguments
    ---------
    folder : str
        Output folder (created if needed).
    model : speechbrain_mmspeech.model.MMSpeech
        The trained model.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        Its text tokenizer.
    values : dict
        Values for the template's "Model", "Front end" and "Decoding" keys.
    template_path : str
        The inference YAML template.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = Path(template_path).read_text(encoding="utf-8")
    hparams_text = render_hparams(template, values)
    state = {key: value.cpu() for key, value in model.state_dict().items()}
    save_tokenizer = get_default_hook(tokenizer, DEFAULT_SAVE_HOOKS)
    # Write to temporary names first so that a crash leaves no half folder.
    pending = {
        HPARAMS_FILE: lambda path: path.write_text(
            hparams_text, encoding="utf-8"
        ),
        MODEL_FILE: lambda path: torch.save(state, path),
        TOKENIZER_FILE: lambda path: save_tokenizer(tokenizer, path),
    }
    for name, write in pending.items():
        temporary = folder / f".{name}.tmp"
        write(temporary)
        os.replace(temporary, folder / name)
    return folder
