"""Tests of ``speechbrain_mmspeech.mini_aishell.hotword_test``."""

import pytest

from speechbrain_mmspeech.mini_aishell import generator
from speechbrain_mmspeech.mini_aishell.hotword_test import replay_speakers


class _Drawn(Exception):
    """Stops the generator once its speakers are drawn."""


def test_replay_gives_the_speakers_the_generator_drew(
    tiny_corpus, tiny_settings, tmp_path, monkeypatch
):
    """The hotword test is read by the corpus' own dev and test speakers:
    the replayed styles are those the generator gave them (training
    speakers each a variant of their own, the others drawing)."""
    drawn = {}

    def capture(plan, sentences, styles, *args):
        ids = [spk for speakers in plan.values() for spk, _ in speakers]
        drawn.update(zip(ids, styles))
        raise _Drawn

    monkeypatch.setattr(generator, "build_tasks", capture)
    with pytest.raises(_Drawn):
        generator.generate_mini_aishell(tmp_path, **tiny_settings)
    replayed, _ = replay_speakers(tiny_corpus)
    for split in ("dev", "test"):
        assert replayed[split]
        for spk, style in replayed[split]:
            assert style == drawn[spk], (split, spk)
