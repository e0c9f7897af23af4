"""The AISHELL-1 download layout of mini-AISHELL: names, ids and file bytes.

A generated corpus looks exactly like an AISHELL-1 download (one
``.tar.gz`` per speaker holding ``<split>/<speaker>/<utterance>.wav``, a
transcript file, AISHELL's speaker and utterance ids), plus the text pools,
the unpaired speech and a JSON summary. Archives are reproducible: fixed
member times and owners, no time stamp in the gzip header.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import gzip
import io
import tarfile
from pathlib import Path

import soundfile as sf

from speechbrain_mmspeech.dataio.fileio import write_atomically

CORPUS_DIRNAME = "data_aishell"
TRANSCRIPT_RELPATH = Path("transcript") / "aishell_transcript_v0.8.txt"
TEXT_CORPUS_FILENAME = "text_corpus.txt"
UNPAIRED_TEXT_FILENAME = "unpaired_text.txt"
UNPAIRED_DIRNAME = "unpaired_speech"
UNPAIRED_LIST_FILENAME = "unpaired.csv"
INFO_FILENAME = "mini_aishell.json"
EVAL_SPLITS = ("dev", "test")
UNPAIRED = "unpaired"
# Extra test sets, written outside the AISHELL tree as
# extra_tests/<name>/<utt>.wav and extra_tests/<name>.csv. Read by the test
# speakers: "topic", the held-out topic's clauses; "shuffled", the test
# sentences with their words shuffled. "unseen_voices": the test sentences
# read by speakers whose voice variants and speaking styles no other
# speaker has. "telephone" and "clipped": the test utterances degraded
# (mini_aishell.degradations); "dev_telephone" and "dev_clipped": the dev
# utterances degraded alike, to choose augmentation on. "dev_unseen_styles":
# the dev sentences read by new speakers with the training voice variants
# at the unseen-voice test's speeds and pitches, to choose on dev what is
# meant for voices never heard; "dev_unseen_voices": the dev sentences read
# at those speeds and pitches by voice variants of their own (no other
# split has them), the dev counterpart of "unseen_voices".
EXTRA_TESTS_DIRNAME = "extra_tests"
TOPIC_TEST = "topic"
SHUFFLED_TEST = "shuffled"
UNSEEN_VOICES_TEST = "unseen_voices"
TELEPHONE_TEST = "telephone"
CLIPPED_TEST = "clipped"
DEV_TELEPHONE = "dev_telephone"
DEV_CLIPPED = "dev_clipped"
DEV_UNSEEN_STYLES = "dev_unseen_styles"
DEV_UNSEEN_VOICES = "dev_unseen_voices"
EXTRA_TESTS = (
    TOPIC_TEST,
    SHUFFLED_TEST,
    UNSEEN_VOICES_TEST,
    TELEPHONE_TEST,
    CLIPPED_TEST,
    DEV_TELEPHONE,
    DEV_CLIPPED,
    DEV_UNSEEN_STYLES,
    DEV_UNSEEN_VOICES,
)
UTT_PREFIX = "BAC009"  # AISHELL-1 utterance ids: BAC009S0002W0122
FIRST_SPEAKER_NUMBER = 2  # AISHELL-1 speakers start at S0002
FIRST_UTTERANCE_NUMBER = 121  # ... and their utterances at W0121
TAR_MTIME = 1_500_000_000  # fixed member time: byte-identical tars
GZIP_LEVEL = 6  # noisy PCM barely compresses; higher levels only cost time
TARGET_SAMPLE_RATE = 16000
PCM_SUBTYPE = "PCM_16"


def speaker_id(number):
    """AISHELL-style speaker id.

    Arguments
    ---------
    number : int
        Speaker number.

    Returns
    -------
    str
        E.g. ``S0002``.

    Example
    -------
    >>> speaker_id(2)
    'S0002'
    """
    return f"S{number:04d}"


def utterance_id(spk_id, number):
    """AISHELL-style utterance id.

    Arguments
    ---------
    spk_id : str
        Speaker id, e.g. ``S0002``.
    number : int
        Utterance number within the speaker.

    Returns
    -------
    str
        E.g. ``BAC009S0002W0121``.

    Example
    -------
    >>> utterance_id("S0002", 121)
    'BAC009S0002W0121'
    """
    return f"{UTT_PREFIX}{spk_id}W{number:04d}"


def plan_speakers(n_speakers, utts_per_speaker):
    """Speaker ids per split and their utterance ids.

    Speakers are numbered from S0002 in the order train, dev, test, unpaired
    (as in AISHELL-1, where dev and test speakers follow the train ones).

    Arguments
    ---------
    n_speakers : dict
        Split name -> number of speakers.
    utts_per_speaker : int
        Utterances per speaker.

    Returns
    -------
    dict
        Split name -> list of (spk_id, list of utt_id).

    Example
    -------
    >>> plan = plan_speakers({"train": 1, "dev": 1}, 2)
    >>> plan["dev"]
    [('S0003', ['BAC009S0003W0121', 'BAC009S0003W0122'])]
    """
    plan, number = {}, FIRST_SPEAKER_NUMBER
    for split, count in n_speakers.items():
        plan[split] = []
        for _ in range(count):
            spk = speaker_id(number)
            first = FIRST_UTTERANCE_NUMBER
            utts = [
                utterance_id(spk, first + i) for i in range(utts_per_speaker)
            ]
            plan[split].append((spk, utts))
            number += 1
    return plan


def wav_bytes(pcm, sample_rate=TARGET_SAMPLE_RATE):
    """Encodes int16 samples as a WAV file in memory.

    Arguments
    ---------
    pcm : numpy.ndarray
        int16 samples.
    sample_rate : int
        Sample rate.

    Returns
    -------
    bytes
        The WAV file.

    Example
    -------
    >>> import numpy as np
    >>> wav_bytes(np.zeros(16, dtype="int16"))[:4]
    b'RIFF'
    """
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sample_rate, subtype=PCM_SUBTYPE, format="WAV")
    return buffer.getvalue()


def write_atomic(path, data):
    """Writes bytes all or nothing, through ``fileio.write_atomically``.

    Arguments
    ---------
    path : pathlib.Path
        Destination.
    data : bytes
        Content.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "x.txt"
    >>> write_atomic(p, b"hi")
    >>> p.read_bytes()
    b'hi'
    """
    write_atomically(path.parent, {path.name: lambda p: p.write_bytes(data)})


def speaker_tar_bytes(split, spk_id, wavs):
    """Builds a reproducible ``.tar.gz`` of one speaker, AISHELL style.

    Members are ``<split>/<spk_id>/<utt_id>.wav``, with fixed times and
    owners, and the gzip header has no time stamp.

    Arguments
    ---------
    split : str
        ``train``, ``dev`` or ``test``.
    spk_id : str
        Speaker id.
    wavs : list of (str, bytes)
        Utterance ids and WAV files.

    Returns
    -------
    bytes
        The compressed archive.

    Example
    -------
    >>> data = speaker_tar_bytes("dev", "S0002", [("U1", b"RIFF")])
    >>> with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    ...     tar.getnames()
    ['dev/S0002/U1.wav']
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(
        fileobj=buffer,
        mode="wb",
        compresslevel=GZIP_LEVEL,
        mtime=0,
        filename="",
    ) as gz:
        with tarfile.open(
            fileobj=gz, mode="w", format=tarfile.GNU_FORMAT
        ) as tar:
            for utt_id, data in wavs:
                info = tarfile.TarInfo(f"{split}/{spk_id}/{utt_id}.wav")
                info.size, info.mtime, info.mode = len(data), TAR_MTIME, 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_lines(path, lines):
    """Writes text lines (UTF-8, ``\\n``-terminated) atomically.

    Arguments
    ---------
    path : pathlib.Path
        Destination (written through ``write_atomic``).
    lines : iterable of str
        Lines without newline.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "a.txt"
    >>> write_lines(p, ["你好", "世界"])
    >>> p.read_text(encoding="utf-8")
    '你好\\n世界\\n'
    """
    write_atomic(path, "".join(f"{line}\n" for line in lines).encode("utf-8"))


def write_unpaired_list(path, rows):
    """Writes the unpaired-speech list (``ID,duration,wav,spk_id``).

    Arguments
    ---------
    path : pathlib.Path
        Destination CSV.
    rows : list of tuple
        ``(utt_id, duration_s, absolute_wav_path, spk_id)`` per utterance.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "u.csv"
    >>> write_unpaired_list(p, [("U1", 1.5, "/a/U1.wav", "S0009")])
    >>> p.read_text().splitlines()[0]
    'ID,duration,wav,spk_id'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ID", "duration", "wav", "spk_id"])
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue().encode("utf-8"))
