"""The ``mmspeech-convert`` command line: convert, then publish.

::

    mmspeech-convert modelscope ofa_mmspeech_asr_aishell1_base_zh out/base
    mmspeech-convert fairseq ofa_mmspeech_base1_aishell1.pt out/base \\
        --vocab vocab.txt --phone-dict phone_dict.txt \\
        --fbank-config fbank_config.yaml
    mmspeech-convert publish out/base my-org/mmspeech-base-aishell1

Also ``python -m speechbrain_mmspeech.convert``. This is the only converter
module that imports ``speechbrain_mmspeech.hub`` (for ``publish``).

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import sys

from speechbrain_mmspeech.convert.fairseq import convert_fairseq
from speechbrain_mmspeech.convert.modelscope import convert_modelscope
from speechbrain_mmspeech.convert.reading import ConversionError
from speechbrain_mmspeech.export.hub import prepare_hub_folder, publish

# Our flags for what the released fairseq decoders do: scale the token
# embeddings by sqrt(d_model) and add absolute positions to them.
FAIRSEQ_BEHAVIOUR_FLAGS = ("scale_embedding", "entangle_position_embedding")


def main(argv=None):
    """Entry point of ``mmspeech-convert``.

    Arguments
    ---------
    argv : list of str
        Arguments (default: the command line).

    Returns
    -------
    int
        Exit status: 0 on success, 1 when the input cannot be converted.

    Example
    -------
    >>> main(
    ...     ["modelscope", "no_such_folder", "out"]
    ... )  # the error goes to stderr
    1
    """
    args = build_parser().parse_args(argv)
    try:
        print(run(args))
    except ConversionError as error:
        print(f"mmspeech-convert: error: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser():
    """The ``mmspeech-convert`` command-line parser.

    Returns
    -------
    argparse.ArgumentParser

    Example
    -------
    >>> args = build_parser().parse_args(["modelscope", "in", "out"])
    >>> args.command, args.folder, args.output
    ('modelscope', 'in', 'out')
    """
    parser = argparse.ArgumentParser(
        prog="mmspeech-convert",
        description="Convert official MMSpeech checkpoints into SpeechBrain "
        "model folders, and publish model folders to the Hugging Face hub.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    modelscope = commands.add_parser(
        "modelscope", help="convert a ModelScope model folder"
    )
    modelscope.add_argument("folder", help="ModelScope model folder")
    modelscope.add_argument("output", help="model folder to create")
    modelscope.add_argument("--overwrite", action="store_true")
    fairseq = commands.add_parser(
        "fairseq", help="convert a fairseq .pt from the OFA release"
    )
    fairseq.add_argument("checkpoint", help="fairseq checkpoint (.pt)")
    fairseq.add_argument("output", help="model folder to create")
    fairseq.add_argument(
        "--vocab", required=True, help="utils/BERT_CN_dict/vocab.txt"
    )
    fairseq.add_argument(
        "--phone-dict", required=True, help="utils/phone/zh/phone_dict.txt"
    )
    fairseq.add_argument(
        "--fbank-config", required=True, help="the released fbank_config.yaml"
    )
    fairseq.add_argument("--overwrite", action="store_true")
    publish = commands.add_parser(
        "publish", help="upload a model folder to the Hugging Face hub"
    )
    publish.add_argument("folder", help="model folder")
    publish.add_argument("repo_id", help="hub repository, e.g. org/name")
    publish.add_argument("--private", action="store_true")
    publish.add_argument("--token", default=None, help="hub token")
    publish.add_argument(
        "--dry-run",
        action="store_true",
        help="write the model card only, do not upload",
    )
    return parser


def run(args):
    """Runs one parsed command.

    Arguments
    ---------
    args : argparse.Namespace
        From ``build_parser``.

    Returns
    -------
    str
        What to print.

    Example
    -------
    >>> run(
    ...     build_parser().parse_args(["modelscope", "in", "out"])
    ... )  # doctest: +SKIP
    """
    if args.command == "modelscope":
        content = convert_modelscope(args.folder, args.output, args.overwrite)
        return summary(content, args.output)
    if args.command == "fairseq":
        content = convert_fairseq(
            args.checkpoint,
            args.vocab,
            args.phone_dict,
            args.fbank_config,
            args.output,
            args.overwrite,
        )
        return summary(content, args.output)
    if args.dry_run:
        folder = prepare_hub_folder(args.folder, args.repo_id)
        return f"Ready for the hub (not uploaded): {folder}"
    url = publish(args.folder, args.repo_id, args.token, args.private)
    return f"Uploaded {args.folder} to {url}"


def summary(content, output):
    """A short human-readable account of a conversion.

    Arguments
    ---------
    content : dict
        The conversion report.
    output : str or Path
        The model folder.

    Returns
    -------
    str
        Lines for the terminal.

    Example
    -------
    >>> print(
    ...     summary(
    ...         {
    ...             "layout": "fairseq",
    ...             "hyperparameters": {},
    ...             "skipped_tensors": {},
    ...             "defaulted_config_keys": {},
    ...         },
    ...         "out",
    ...     )
    ... )
    Converted fairseq checkpoint -> out
    Skipped 0 tensor(s) unused for ASR or recomputed:
    """
    values = content["hyperparameters"].get("architecture", {})
    sizes = ", ".join(
        f"{key}={values[key]}"
        for key in ("d_model", "num_encoder_layers", "num_decoder_layers")
        if key in values
    )
    lines = [f"Converted {content['layout']} checkpoint -> {output}"]
    if sizes:
        lines.append(f"Architecture: {sizes}")
    defaulted = content.get("defaulted_config_keys") or {}
    if defaulted:
        lines.append(f"Absent config keys, defaults used: {defaulted}")
    fairseq_like = all(values.get(f, True) for f in FAIRSEQ_BEHAVIOUR_FLAGS)
    if content["layout"] == "modelscope" and not fairseq_like:
        lines.append(
            "Note: scale_embedding/entangle_position_embedding are not both "
            "True, unlike the fairseq model (see README: parity checks)"
        )
    skipped = content["skipped_tensors"]
    lines.append(
        f"Skipped {len(skipped)} tensor(s) unused for ASR or recomputed:"
    )
    lines += [
        f"  {key} {tuple(info['shape'])} ({info['reason']})"
        for key, info in skipped.items()
    ]
    return "\n".join(lines)
