"""What was read from an official checkpoint -> a SpeechBrain model folder.

``OfficialCheckpoint`` is what the ModelScope and fairseq readers hand over.
``write_folder`` builds the model, matches the weights strictly, and writes
the folder of ``export.write_model_folder`` plus a report of the
conversion (``conversion.json``). The phone inventory is checked against
the phone head; no folder file holds it, as nothing would load it. Everything is checked before anything is written,
and the folder is written under a temporary name and renamed, so a failed
conversion leaves nothing behind.

Authors
 * MMSpeech plugin contributors 2026
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from speechbrain_mmspeech import __version__
from speechbrain_mmspeech.convert.official import WEIGHTS_FILE
from speechbrain_mmspeech.convert.reading import ConversionError
from speechbrain_mmspeech.convert.weights import (
    build_model,
    check_phone_head,
    match_weights,
)
from speechbrain_mmspeech.dataio.fileio import write_atomically
from speechbrain_mmspeech.export.folders import (
    CONVERSION_REPORT_FILE,
    write_model_folder,
)
from speechbrain_mmspeech.tokenizers import CharTokenizer, PinyinTokenizer


@dataclass
class OfficialCheckpoint:
    """Everything read from an official checkpoint, in our terms.

    Arguments
    ---------
    layout : str
        ``"modelscope"`` or ``"fairseq"``.
    sources : dict
        Input files by role.
    values : dict
        Values for ``hparams/inference.yaml`` (model, front end, decoding).
    state : dict
        Checkpoint tensors under our (ModelScope) names.
    tokenizer : CharTokenizer
        The decoder vocabulary.
    phone_tokenizer : PinyinTokenizer
        The phone inventory.
    notes : dict
        Defaulted and unread settings, front-end details.

    Example
    -------
    >>> checkpoint = OfficialCheckpoint("fairseq", {}, {}, {}, None, None)
    >>> checkpoint.notes
    {}
    """

    layout: str
    sources: dict
    values: dict
    state: dict
    tokenizer: CharTokenizer
    phone_tokenizer: PinyinTokenizer
    notes: dict = field(default_factory=dict)


def write_folder(checkpoint, output, overwrite=False):
    """Builds the model, loads the weights and writes the model folder.

    Everything is checked before anything is written; the folder is written
    under a temporary name next to ``output`` and then renamed.

    Arguments
    ---------
    checkpoint : OfficialCheckpoint
        What was read.
    output : str or Path
        The model folder to create.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    dict
        The report written to ``conversion.json``.

    Example
    -------
    >>> write_folder(read_modelscope("ms_folder"), "out")  # doctest: +SKIP
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise ConversionError(
            f"{output} already exists (pass --overwrite to replace it)"
        )
    model = build_model(checkpoint.values)
    check_phone_head(model, checkpoint.phone_tokenizer)
    origin = checkpoint.sources.get(WEIGHTS_FILE) or checkpoint.sources.get(
        "checkpoint"
    )
    used, skipped = match_weights(model, checkpoint.state, origin)
    model.load_state_dict(used, strict=True)
    dtypes = sorted({str(t.dtype) for t in checkpoint.state.values()})
    content = report(checkpoint, skipped, dtypes)

    def write(staging):
        write_model_folder(
            staging, model, checkpoint.tokenizer, checkpoint.values
        )
        (staging / CONVERSION_REPORT_FILE).write_text(
            json.dumps(content, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )

    write_atomically(output.parent, {output.name: write})
    return content


def report(checkpoint, skipped, dtypes):
    """The content of ``conversion.json``.

    Arguments
    ---------
    checkpoint : OfficialCheckpoint
        What was read, as given to :func:`write_folder`.
    skipped : dict
        Tensors left out.
    dtypes : list of str
        Data types found in the checkpoint.

    Returns
    -------
    dict
        JSON-ready report.

    Example
    -------
    >>> report(OfficialCheckpoint("fairseq", {}, {}, {}, None, None), {}, [])[
    ...     "layout"
    ... ]
    'fairseq'
    """
    return {
        "converter": f"speechbrain_mmspeech.convert {__version__}",
        "layout": checkpoint.layout,
        "sources": checkpoint.sources,
        "hyperparameters": checkpoint.values,
        "source_dtypes": dtypes,
        "skipped_tensors": skipped,
        **checkpoint.notes,
    }
