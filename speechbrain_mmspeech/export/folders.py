"""Writing model folders that ``EncoderDecoderASR.from_hparams`` loads.

A model folder holds ``hyperparams.yaml`` (the inference template,
``hparams/inference.yaml`` inside this package, with the model's own
``architecture`` and decoding settings filled in), ``model.ckpt`` (the ``MMSpeech`` state dict) and
``tokenizer.ckpt``; with a language model, also ``lm.ckpt``, and with a
character n-gram LM, ``ngram_lm.ckpt``. The same folder
works locally and, uploaded as is, as a Hugging Face hub repository. Among
the "Decoding" keys, ``use_cache`` (incremental decoding, ``True``),
``quantize`` (``none`` or ``int8``) and ``precision`` (``fp32`` or
``bf16``) choose how fast a folder decodes; ``from_hparams`` overrides can
change them.

The template has optional sections: the lines between ``# >>> with <name>``
and ``# <<< with <name>``, and single lines ending with ``# with <name>`` (or
``# with <name>|<name>...``, kept with any of the names). ``lm`` is for
folders with a language model, ``ngram`` for folders with a character
n-gram LM, ``phonectc`` for folders that decode with the phone head's CTC
scores (``phone_ctc_weight`` above 0), and ``scorer`` for any of them. A
folder without them gets the plain template.

Authors
 * MMSpeech plugin contributors 2026
"""

import os
import re
from importlib.resources import files
from pathlib import Path

import ruamel.yaml
import torch
from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook

from speechbrain_mmspeech.dataio.fileio import state_on_cpu, write_atomically

# The repository's top-level hparams/ (the architecture presets and the
# inference templates), shipped inside the package as speechbrain_mmspeech/
# hparams (a link in the sources), so it is there after any kind of install.
HPARAMS = files("speechbrain_mmspeech") / "hparams"
INFERENCE_TEMPLATE = HPARAMS / "inference.yaml"
HPARAMS_FILE = "hyperparams.yaml"
MODEL_FILE = "model.ckpt"
TOKENIZER_FILE = "tokenizer.ckpt"
LM_FILE = "lm.ckpt"
NGRAM_LM_FILE = "ngram_lm.ckpt"
# What mmspeech-convert adds (speechbrain_mmspeech.convert.folder): how the
# official checkpoint was converted; nothing loads it.
CONVERSION_REPORT_FILE = "conversion.json"
LM_SECTION = "lm"
NGRAM_SECTION = "ngram"
PHONE_CTC_SECTION = "phonectc"
SCORER_SECTION = "scorer"
PHONE_CTC_WEIGHT = "phone_ctc_weight"
# Template settings a training YAML does not pass on: there, ``precision``
# is SpeechBrain's run option (the training autocast: fp32, fp16 or bf16),
# not the folder's decoding precision.
TRAINING_MEANS_OTHERWISE = ("precision",)
SECTION_BEGIN = re.compile(r"^# >>> with (\w+)$")
SECTION_END = re.compile(r"^# <<< with (\w+)$")
SECTION_LINE = re.compile(r"\s+# with (\w+(?:\|\w+)*)$")


def yaml_value(value):
    """Writes a setting's value (a scalar, a flat list or a flat mapping).

    A mapping is written in flow style, on one line, as the template's
    ``architecture: {}`` is.

    Arguments
    ---------
    value : bool, int, float, str, list or dict
        The value; a list or a mapping holds scalars only.

    Returns
    -------
    str

    Example
    -------
    >>> yaml_value({"d_model": 16, "scale_embedding": True})
    '{d_model: 16, scale_embedding: True}'
    >>> yaml_value(0.5)
    '0.5'
    """
    if isinstance(value, dict):
        items = (f"{key}: {yaml_scalar(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return yaml_scalar(value)


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
    >>> (
    ...     yaml_scalar(True),
    ...     yaml_scalar(0.5),
    ...     yaml_scalar("a b"),
    ...     yaml_scalar(None),
    ... )
    ('True', '0.5', '"a b"', 'null')
    >>> yaml_scalar([1.5, -2.0])
    '[1.5, -2.0]'
    """
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain_scalar(item) for item in value) + "]"
    return _plain_scalar(value)


def _plain_scalar(value):
    """Writes one None, bool, int, float or str (see ``yaml_scalar``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise TypeError(f"Cannot write {value!r} as a YAML scalar")


def select_sections(template, sections=()):
    """Keeps the named optional sections of a template and drops the others.

    A section is either the lines between ``# >>> with <name>`` and
    ``# <<< with <name>`` or a single line ending with ``# with <name>``; the
    markers themselves are removed. A line is kept when every section it is
    in is kept. A line ending with ``# with <a>|<b>`` is in section ``a`` or
    ``b``: it is kept with either.

    Arguments
    ---------
    template : str
        YAML text.
    sections : iterable of str
        The sections to keep.

    Returns
    -------
    str
        The template without the markers and the other sections.

    Example
    -------
    >>> text = (
    ...     "a: 1\\n# >>> with lm\\nb: 2\\n# <<< with lm\\nc: 3  # with lm\\n"
    ... )
    >>> select_sections(text)
    'a: 1\\n'
    >>> select_sections(text, ["lm"])
    'a: 1\\nb: 2\\nc: 3\\n'

    A tagged line inside a section needs both names:

    >>> nested = (
    ...     "# >>> with scorer\\nw:\\n  x: 1  # with lm\\n# <<< with scorer\\n"
    ... )
    >>> select_sections(nested, ["scorer"])
    'w:\\n'
    >>> select_sections(nested, ["scorer", "lm"])
    'w:\\n  x: 1\\n'
    >>> select_sections("y: 2  # with lm|ngram\\n", ["ngram"])
    'y: 2\\n'
    """
    kept, block = [], None
    for line in template.splitlines(keepends=True):
        content = line.rstrip("\n")
        begin, end = SECTION_BEGIN.match(content), SECTION_END.match(content)
        if begin or end:
            block = begin.group(1) if begin else None
            continue
        tagged = SECTION_LINE.search(content)
        in_block = block is None or block in sections
        in_line = tagged is None or any(
            name in sections for name in tagged.group(1).split("|")
        )
        if in_block and in_line:
            kept.append(SECTION_LINE.sub("", line) if tagged else line)
    return "".join(kept)


def render_hparams(template, values, sections=()):
    """Sets top-level ``key: value`` lines of a YAML template.

    Arguments
    ---------
    template : str
        YAML text whose top level defines every key of ``values`` once, as a
        plain scalar. Keys defined only in sections that are left out are
        skipped.
    values : dict
        New values by key.
    sections : iterable of str
        The optional sections to keep (see ``select_sections``); the others
        are left out.

    Returns
    -------
    str
        The template with those lines replaced.

    Example
    -------
    >>> render_hparams("d_model: 768\\nbeam_size: 5\\n", {"d_model": 64})
    'd_model: 64\\nbeam_size: 5\\n'
    >>> render_hparams("architecture: {}\\n", {"architecture": {"nhead": 2}})
    'architecture: {nhead: 2}\\n'
    """
    every_section = {
        name
        for names in re.findall(
            r"# (?:>>> )?with (\w+(?:\|\w+)*)$", template, re.MULTILINE
        )
        for name in names.split("|")
    }
    complete = select_sections(template, every_section)
    template = select_sections(template, sections)
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}:[^\n]*$", re.MULTILINE)
        found = len(pattern.findall(template))
        if found == 0 and len(pattern.findall(complete)) == 1:
            continue  # a setting of a section this folder does not get
        if found != 1:
            raise KeyError(
                f"The template defines '{key}' {found} times at its top "
                "level; it must define it exactly once"
            )
        line = f"{key}: {yaml_value(value)}"
        template = pattern.sub(lambda _, line=line: line, template)
    return template


def read_template(template_path=INFERENCE_TEMPLATE):
    """Reads a YAML template from a path or a package resource.

    Arguments
    ---------
    template_path : str or os.PathLike or importlib.resources.abc.Traversable
        The template (default: the package's inference template).

    Returns
    -------
    str

    Example
    -------
    >>> "transformer_beam_search" in read_template()
    True
    """
    if isinstance(template_path, (str, os.PathLike)):
        template_path = Path(template_path)
    return template_path.read_text(encoding="utf-8")


def _is_plain_data(node):
    """Whether a ruamel node holds data only (no ``!`` tag anywhere)."""
    tag = getattr(node, "tag", None)
    if tag is not None and (tag.value or "").startswith("!"):
        return False
    if isinstance(node, dict):
        return all(_is_plain_data(item) for item in node.values())
    if isinstance(node, list):
        return all(_is_plain_data(item) for item in node)
    return True


def template_settings(template):
    """The template's settings: its top-level keys that hold plain data.

    Every optional section counts. Keys holding objects (``!new:``,
    ``!ref``, ...) are the wiring, not settings.

    Arguments
    ---------
    template : str
        YAML text (with section markers).

    Returns
    -------
    list of str

    Example
    -------
    >>> text = "a: 1\\nb: !new:list\\nc: {}  # with lm\\nd:\\n  e: !ref <a>\\n"
    >>> template_settings(text)
    ['a', 'c']
    """
    every_section = re.findall(r"# (?:>>> )?with (\w+)", template)
    complete = select_sections(template, set(every_section))
    tree = ruamel.yaml.YAML().load(complete)
    return [key for key, node in tree.items() if _is_plain_data(node)]


def folder_keys(folder):
    """The top-level keys of a local model folder's ``hyperparams.yaml``.

    Arguments
    ---------
    folder : str or pathlib.Path
        The model folder.

    Returns
    -------
    set of str
        Empty when the folder is not local (a hub repository).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / HPARAMS_FILE).write_text(
    ...     "beam_size: 5\\nmodel: !new:torch.nn.Identity\\n  # a: 1\\n"
    ... )
    >>> sorted(folder_keys(folder)), folder_keys("org/name")
    (['beam_size', 'model'], set())
    """
    path = Path(folder) / HPARAMS_FILE
    if not path.is_file():
        return set()
    return set(ruamel.yaml.YAML().load(path.read_text(encoding="utf-8")))


def values_from_hparams(hparams, template_path=INFERENCE_TEMPLATE):
    """A model folder's settings, taken from training hyperparameters.

    The template names the settings (``template_settings``); a training
    YAML that uses the same names (``architecture``, ``beam_size``,
    ``phone_ctc_weight``, ...) passes its values on, so that no second
    list of keys is kept; but for ``TRAINING_MEANS_OTHERWISE``.

    Arguments
    ---------
    hparams : dict
        Loaded training hyperparameters.
    template_path : str or importlib.resources.abc.Traversable
        The inference template.

    Returns
    -------
    dict
        The template's settings that ``hparams`` defines.

    Example
    -------
    >>> values = values_from_hparams(
    ...     {"beam_size": 3, "lr": 0.1, "seed": 1, "precision": "fp16"}
    ... )
    >>> values
    {'beam_size': 3}
    """
    return {
        key: hparams[key]
        for key in template_settings(read_template(template_path))
        if key in hparams and key not in TRAINING_MEANS_OTHERWISE
    }


def template_sections(values, with_lm, with_ngram=False):
    """The optional template sections a model folder gets.

    Arguments
    ---------
    values : dict
        The folder's settings (``phone_ctc_weight`` above 0 asks for
        phone-aware decoding).
    with_lm : bool
        Whether the folder has a language model.
    with_ngram : bool
        Whether the folder has a character n-gram LM.

    Returns
    -------
    list of str
        Section names: ``lm``, ``ngram``, ``phonectc``, and ``scorer`` when
        the beam search gets any of them.

    Example
    -------
    >>> template_sections({"phone_ctc_weight": 0.5}, with_lm=False)
    ['phonectc', 'scorer']
    >>> template_sections({}, with_lm=False, with_ngram=True)
    ['ngram', 'scorer']
    >>> template_sections({}, with_lm=False)
    []
    """
    sections = [LM_SECTION] if with_lm else []
    if with_ngram:
        sections.append(NGRAM_SECTION)
    if values.get(PHONE_CTC_WEIGHT, 0) > 0:
        sections.append(PHONE_CTC_SECTION)
    if sections:
        sections.append(SCORER_SECTION)
    return sections


def core_file_writers(hparams_text, module, tokenizer):
    """Writers of a model folder's ``hyperparams.yaml``, weights, tokenizer.

    For ``fileio.write_atomically``; the weights and the tokenizer are
    taken now, so later training does not change what is written.

    Arguments
    ---------
    hparams_text : str
        The folder's ``hyperparams.yaml``.
    module : torch.nn.Module
        What ``model.ckpt`` holds (its state dict, on the CPU).
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        Saved as ``tokenizer.ckpt`` by its checkpoint hook.

    Returns
    -------
    dict
        ``{file name: write(path)}``.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> writers = core_file_writers(
    ...     "a: 1\\n", torch.nn.Linear(2, 2), CharTokenizer()
    ... )
    >>> sorted(writers)
    ['hyperparams.yaml', 'model.ckpt', 'tokenizer.ckpt']
    """
    state = state_on_cpu(module)
    save_tokenizer = get_default_hook(tokenizer, DEFAULT_SAVE_HOOKS)
    return {
        HPARAMS_FILE: lambda path: path.write_text(
            hparams_text, encoding="utf-8"
        ),
        MODEL_FILE: lambda path: torch.save(state, path),
        TOKENIZER_FILE: lambda path: save_tokenizer(tokenizer, path),
    }


def write_model_folder(
    folder,
    model,
    tokenizer,
    values,
    template_path=INFERENCE_TEMPLATE,
    language_model=None,
    ngram_lm=None,
):
    """Writes hyperparams, weights and tokenizer for ``from_hparams``.

    Arguments
    ---------
    folder : str
        Output folder (created if needed).
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The trained model.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        Its text tokenizer.
    values : dict
        Values for the template's "Model", "Front end" and "Decoding" keys
        (with a language model, its "Language model" keys; with an n-gram
        LM, ``ngram_lm_weight`` and ``ngram_order``; with
        ``phone_ctc_weight`` above 0, the "Phone-aware decoding" keys).
    template_path : str or importlib.resources.abc.Traversable
        The inference YAML template.
    language_model : torch.nn.Module
        A language model for decoding (written as ``lm.ckpt``, with the
        template's ``lm`` sections), or None for a folder without one.
    ngram_lm : speechbrain_mmspeech.lm.ngram.NgramLM
        A character n-gram LM for decoding (written as ``ngram_lm.ckpt``,
        with the template's ``ngram`` sections), or None.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = read_template(template_path)
    sections = template_sections(
        values, language_model is not None, ngram_lm is not None
    )
    hparams_text = render_hparams(template, values, sections)
    # Everything is written before anything is replaced: no half folder.
    pending = core_file_writers(hparams_text, model, tokenizer)
    optional = {LM_FILE: language_model, NGRAM_LM_FILE: ngram_lm}
    for name, module in optional.items():
        if module is not None:
            module_state = state_on_cpu(module)
            pending[name] = lambda path, s=module_state: torch.save(s, path)
    write_atomically(folder, pending)
    for name, module in optional.items():
        if module is None:
            # A stale LM of an earlier export would only confuse readers.
            (folder / name).unlink(missing_ok=True)
    return folder
