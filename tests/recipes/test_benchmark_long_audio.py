"""Smoke test of recipes/AISHELL-1/benchmark_long_audio.py on a tiny model."""

import re

import soundfile
from benchmark_long_audio import main, write_long_recording

from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell
from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import TEMPLATE_SIZES, folder_values, model_from_template

TEXT_VOCAB = 40
TINY = {
    **TEMPLATE_SIZES,
    "max_positions": 16,
    "rel_pos_bucket_size": 4,
    "text_vocab_size": TEXT_VOCAB,
    "code_vocab_size": 3,
    "beam_size": 2,
    "no_repeat_ngram_size": 2,
    # Every decoded segment gives text, so that the counts are positive.
    "min_decode_length": 1,
}
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def test_half_a_minute_of_the_test_set(tiny_corpus, tmp_path, capsys):
    data = tmp_path / "data"
    prepare_aishell(tiny_corpus / "data_aishell", data)
    manifest = data / "test.csv"
    rows = read_csv_rows(manifest)
    tokenizer = CharTokenizer()
    tokenizer.build([row["transcript"] for row in rows], TEXT_VOCAB)
    folder = write_model_folder(
        tmp_path / "model",
        model_from_template(TINY),
        tokenizer,
        folder_values(TINY),
    )

    # The recording: exactly 30 s, every utterance at least once.
    wav = tmp_path / "long.wav"
    seconds, references = write_long_recording(rows, wav, 30.0)
    assert seconds == 30.0 and soundfile.info(str(wav)).duration == 30.0
    assert len(references) > len(rows)  # the manifest is cycled
    assert write_long_recording(rows, wav, 30.0)[1] == references

    main([str(folder), str(manifest), "--minutes", "0.5", "--threads", "1"])
    output = capsys.readouterr().out
    numbers = {}
    for name in (
        "audio",
        "model loading",
        "transcription",
        "real-time factor",
        "peak memory",
        "characters",
        "reference chars",
        "CER",
    ):
        match = re.search(rf"^{name}: +{NUMBER}", output, re.MULTILINE)
        assert match, f"{name} not printed:\n{output}"
        numbers[name] = float(match.group(1))
    assert all(value > 0 for value in numbers.values()), output
    assert numbers["audio"] == 0.5
    assert numbers["reference chars"] == sum(map(len, references))
