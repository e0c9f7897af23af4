"""Rendering of mini-AISHELL: every speaker's utterances, written to disk.

A speaker's utterances are synthesised (``synthesis.render_utterance``) and
written where AISHELL-1 puts them (a ``data_aishell/wav/<spk>.tar.gz``
archive) or, for the unpaired pool and the extra tests, as single wav files;
``render_all`` runs the speakers in a thread pool and writes the unpaired
pool's list.

Authors
 * MMSpeech plugin contributors 2026
"""

import collections
import functools
from concurrent.futures import ThreadPoolExecutor

from speechbrain_mmspeech.mini_aishell.degradations import DEGRADATIONS
from speechbrain_mmspeech.mini_aishell.layout import (
    CORPUS_DIRNAME,
    EXTRA_TESTS,
    EXTRA_TESTS_DIRNAME,
    TARGET_SAMPLE_RATE,
    UNPAIRED,
    UNPAIRED_DIRNAME,
    UNPAIRED_LIST_FILENAME,
    speaker_tar_bytes,
    wav_bytes,
    write_atomic,
    write_unpaired_list,
)
from speechbrain_mmspeech.mini_aishell.synthesis import render_utterance


def render_speaker(task, output_folder):
    """Renders one speaker's utterances and writes them.

    A train, dev or test speaker becomes ``data_aishell/wav/<spk>.tar.gz``;
    an unpaired speaker becomes ``unpaired_speech/wav/<utt>.wav`` files, an
    extra test's ``extra_tests/<name>/<utt>.wav`` files.

    Arguments
    ---------
    task : SpeakerTask
        The speaker and its jobs.
    output_folder : pathlib.Path
        Destination root.

    Returns
    -------
    list of (str, float, str)
        Utterance id, duration in seconds and file written, per utterance.

    Example
    -------
    >>> from pathlib import Path
    >>> from speechbrain_mmspeech.mini_aishell.speakers import SpeakerTask
    >>> render_speaker(
    ...     SpeakerTask("dev", "S0002", ()), Path(getfixture("tmpdir"))
    ... )
    []
    """
    rendered = [(job.utt_id, render_utterance(job)) for job in task.jobs]
    rows = []
    if task.split in (UNPAIRED, *EXTRA_TESTS):
        wav_dir = output_folder / EXTRA_TESTS_DIRNAME / task.split
        if task.split == UNPAIRED:
            wav_dir = output_folder / UNPAIRED_DIRNAME / "wav"
        wav_dir.mkdir(parents=True, exist_ok=True)
        _, degrade = DEGRADATIONS.get(task.split, (None, None))
        for utt_id, pcm in rendered:
            rate = TARGET_SAMPLE_RATE
            if degrade is not None:
                pcm, rate = degrade(pcm)
            path = wav_dir / f"{utt_id}.wav"
            write_atomic(path, wav_bytes(pcm, rate))
            rows.append((utt_id, len(pcm) / rate, str(path)))
        return rows
    if not rendered:
        return rows
    path = output_folder / CORPUS_DIRNAME / "wav" / f"{task.spk_id}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    wavs = [(utt_id, wav_bytes(pcm)) for utt_id, pcm in rendered]
    write_atomic(path, speaker_tar_bytes(task.split, task.spk_id, wavs))
    return [
        (u, len(pcm) / TARGET_SAMPLE_RATE, str(path)) for u, pcm in rendered
    ]


def render_all(tasks, output_folder, num_workers):
    """Renders all speakers with a thread pool (espeak-ng runs outside).

    Arguments
    ---------
    tasks : list of SpeakerTask
        One task per speaker.
    output_folder : pathlib.Path
        Destination root.
    num_workers : int
        Number of threads.

    Returns
    -------
    dict
        Split name -> list of durations in seconds.

    Example
    -------
    >>> from pathlib import Path
    >>> render_all([], Path(getfixture("tmpdir")), 1)
    {}
    """
    durations, unpaired_rows = collections.defaultdict(list), []
    with ThreadPoolExecutor(max_workers=num_workers) as executor:
        render = functools.partial(render_speaker, output_folder=output_folder)
        results = executor.map(render, tasks)
        for task, rows in zip(tasks, results):
            durations[task.split].extend(duration for _, duration, _ in rows)
            if task.split == UNPAIRED:
                unpaired_rows.extend(
                    (utt, dur, path, task.spk_id) for utt, dur, path in rows
                )
    if unpaired_rows:
        path = output_folder / UNPAIRED_DIRNAME / UNPAIRED_LIST_FILENAME
        write_unpaired_list(path, unpaired_rows)
    return dict(durations)
