"""Tests of the unpaired speech manifest (``prepare_unpaired_speech``).

Authors
 * MMSpeech plugin contributors 2026
"""

import os

from speechbrain_mmspeech.dataio.unpaired import prepare_unpaired_speech


def test_unpaired_speech_from_a_folder_or_a_wav_scp(
    tiny_corpus, tiny_settings, tmp_path
):
    """A folder of wavs and a wav.scp naming them give the same CSV."""
    wav_folder = tiny_corpus / "unpaired_speech" / "wav"
    from_folder = prepare_unpaired_speech(wav_folder, tmp_path / "a")
    rows = from_folder.read_text().splitlines()
    assert (
        rows[0] == "ID,duration,wav"
        and len(rows) == 1 + tiny_settings["utts_per_speaker"]
    )
    # Relative paths in a wav.scp are relative to its folder.
    scp = tmp_path / "wav.scp"
    scp.write_text(
        "".join(
            f"{w.stem} {os.path.relpath(w, tmp_path)}\n"
            for w in sorted(wav_folder.glob("*.wav"))
        ),
        encoding="utf-8",
    )
    from_scp = prepare_unpaired_speech(scp, tmp_path / "b")
    assert from_scp.read_text() == from_folder.read_text()
