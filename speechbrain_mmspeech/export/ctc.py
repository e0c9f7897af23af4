"""Character CTC on the MMSpeech encoder with SpeechBrain's CTC tools.

``recipes/AISHELL-1/train_ctc.py`` trains a SpeechBrain ``Linear`` CTC head
on ``speechbrain_mmspeech.lobes.wrappers.MMSpeechEncoder`` (frozen or fine-tuned)
and decodes with ``speechbrain.decoders.ctc``. This module holds what that
needs beyond SpeechBrain:

- ``ctc_vocab_list``: the token strings ``CTCBeamSearcher`` joins into text,
  from a ``CharTokenizer`` (special and unused ids write nothing);
- ``write_ctc_model_folder``: a model folder that SpeechBrain's stock
  ``EncoderASR.from_hparams`` loads (the package's
  ``hparams/ctc_inference.yaml`` filled in, ``model.ckpt``,
  ``tokenizer.ckpt``). It carries the text of the MMSpeech folder's
  ``hyperparams.yaml``, so it does not depend on that folder.

Authors
 * MMSpeech plugin contributors 2026
"""

from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.dataio.fileio import write_atomically
from speechbrain_mmspeech.export.folders import (
    HPARAMS,
    core_file_writers,
    read_template,
    render_hparams,
)

CTC_INFERENCE_TEMPLATE = HPARAMS / "ctc_inference.yaml"
# The template line that receives the MMSpeech folder's hyperparams text.
# It is the lobe's argument itself, not a top-level key that the lobe
# references: HyperPyYAML would resolve the "<...>" inside a referenced text.
FOLDER_HPARAMS_LINE = "    folder_hparams: null\n"
FOLDER_HPARAMS_INDENT = 8


def ctc_vocab_list(tokenizer):
    """The text of every id, as ``CTCBeamSearcher``'s ``vocab_list``.

    Arguments
    ---------
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The vocabulary of the CTC head.

    Returns
    -------
    list of str
        ``tokenizer.decode_ids([i])`` for every id: the character, ``""``
        for ids that decoding skips (``<s> <pad> </s>``, unused ids) and
        ``"⁇"`` for ``<unk>``.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["你好"], vocab_size=7)
    >>> ctc_vocab_list(tokenizer)
    ['', '', '', '⁇', '你', '好', '']
    """
    return [tokenizer.decode_ids([index]) for index in range(len(tokenizer))]


def yaml_block_scalar(text, indent=4, parent_indent=0):
    """Writes a text as a YAML literal block that reads back exactly.

    Arguments
    ---------
    text : str
        Printable text (YAML block scalars take no control characters).
    indent : int
        Spaces before each line of the block.
    parent_indent : int
        Indentation of the key the block is the value of (the block's
        indentation indicator is relative to it).

    Returns
    -------
    str
        ``|<indicator><chomping>`` and the indented lines.

    Example
    -------
    >>> block = yaml_block_scalar("a: 1\\n  b: [2]\\n")
    >>> block
    '|4+\\n    a: 1\\n      b: [2]\\n'
    >>> load_hyperpyyaml("text: " + block)["text"]
    'a: 1\\n  b: [2]\\n'
    """
    chomping = "+" if text.endswith("\n") else "-"
    pad = " " * indent
    lines = "".join(
        line if line == "\n" else pad + line
        for line in text.splitlines(keepends=True)
    )
    if not lines.endswith("\n"):
        lines += "\n"
    return f"|{indent - parent_indent}{chomping}\n{lines}"


def render_ctc_hparams(
    mmspeech_hparams, values, template=CTC_INFERENCE_TEMPLATE
):
    """The ``hyperparams.yaml`` of a CTC model folder.

    Arguments
    ---------
    mmspeech_hparams : str
        The text of the MMSpeech folder's ``hyperparams.yaml`` (the lobe's
        ``folder_hparams``).
    values : dict
        The template's other top-level keys (``output_neurons``,
        ``blank_index``).
    template : str or importlib.resources.abc.Traversable
        The template (default: the package's ``ctc_inference.yaml``).

    Returns
    -------
    str
        The YAML text.

    Raises
    ------
    ValueError
        If the embedded text would not read back exactly.

    Example
    -------
    >>> text = render_ctc_hparams("a: 1\\n", {"output_neurons": 7})
    >>> (
    ...     "output_neurons: 7" in text,
    ...     "folder_hparams: |4+\\n        a: 1\\n" in text,
    ... )
    (True, True)
    """
    text = render_hparams(read_template(template), values)
    if text.count(FOLDER_HPARAMS_LINE) != 1:
        raise KeyError(
            f"The template must hold one '{FOLDER_HPARAMS_LINE.strip()}' line"
        )
    key = FOLDER_HPARAMS_LINE.split(":")[0]
    parent_indent = len(key) - len(key.lstrip())
    entry = f"{key}: " + yaml_block_scalar(
        mmspeech_hparams, FOLDER_HPARAMS_INDENT, parent_indent
    )
    if load_hyperpyyaml("lobe:\n" + entry)["lobe"][key.strip()] != (
        mmspeech_hparams
    ):
        raise ValueError(
            "The MMSpeech hyperparams do not read back from a YAML block; "
            "cannot write a self-contained folder"
        )
    return text.replace(FOLDER_HPARAMS_LINE, entry)


def write_ctc_model_folder(
    folder,
    encoder,
    ctc_lin,
    tokenizer,
    values,
    template=CTC_INFERENCE_TEMPLATE,
):
    """Writes a character-CTC model folder for ``EncoderASR.from_hparams``.

    Arguments
    ---------
    folder : str or pathlib.Path
        Output folder (created if needed; written all or nothing).
    encoder : speechbrain_mmspeech.lobes.wrappers.MMSpeechEncoder
        The (trained) lobe.
    ctc_lin : torch.nn.Module
        The CTC head.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The head's vocabulary.
    values : dict
        The template's ``output_neurons`` and ``blank_index``.
    template : str or importlib.resources.abc.Traversable
        The inference YAML template (default: the CTC one).

    Returns
    -------
    pathlib.Path
        The written folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hparams_text = render_ctc_hparams(encoder.folder_hparams, values, template)
    modules = torch.nn.ModuleList([encoder, ctc_lin])
    write_atomically(
        folder, core_file_writers(hparams_text, modules, tokenizer)
    )
    return folder
