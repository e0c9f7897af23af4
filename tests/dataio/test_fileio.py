"""Tests for speechbrain_mmspeech.dataio.fileio: all-or-nothing writes."""

import pytest

from speechbrain_mmspeech.dataio.fileio import write_atomically


def write_text(text):
    return lambda path: path.write_text(text, encoding="utf-8")


def test_replaces_files_and_leaves_no_staging_folder(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    written = write_atomically(
        tmp_path / "new", {"b.txt": write_text("b"), "c.txt": write_text("c")}
    )
    assert written == [tmp_path / "new" / "b.txt", tmp_path / "new" / "c.txt"]
    write_atomically(tmp_path, {"a.txt": write_text("new")})
    assert (tmp_path / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "new"]
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "b.txt",
        "c.txt",
    ]


def test_a_failing_writer_changes_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("old")

    def fail(path):
        path.write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_atomically(tmp_path, {"a.txt": write_text("new"), "b": fail})
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"


def test_replaces_a_folder(tmp_path):
    old = tmp_path / "model"
    old.mkdir()
    (old / "stale.txt").write_text("stale")

    def write_folder(path):
        path.mkdir()
        (path / "fresh.txt").write_text("fresh")

    write_atomically(tmp_path, {"model": write_folder})
    assert [p.name for p in old.iterdir()] == ["fresh.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
