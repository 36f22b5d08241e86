"""The conversion commands check their output before any work, never overwrite without --overwrite, and write
atomically (an interrupted conversion leaves nothing behind)."""

from __future__ import annotations

import shutil

import pytest
from conftest import shared_path

from lumos_hf.cli import main

SOURCE = ("fixtures", "official_lumos_tiny", "official_checkpoint")


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "official"
    shutil.copytree(shared_path(*SOURCE), path)
    return path


def convert(source, output, *extra) -> int:
    return main(["convert-model", "--input", str(source), "--output", str(output), "--no-remote-code", *extra])


def test_output_checks_before_any_work(source, tmp_path):
    before = sorted(p.name for p in source.iterdir())
    a_file = tmp_path / "model.bin"
    a_file.write_text("x")
    with pytest.raises(FileExistsError, match="--output .* is an existing file"):
        convert(source, a_file)
    for bad in (source, source / "inside", tmp_path):
        with pytest.raises(ValueError, match="must not be, lie inside or contain the input"):
            convert(source, bad)
    assert sorted(p.name for p in source.iterdir()) == before  # the official config.json is untouched
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="non-empty folder; pass --overwrite"):
        convert(source, busy)
    assert (busy / "keep.txt").read_text() == "mine"
    assert convert(source, busy, "--overwrite") == 0
    assert (busy / "config.json").is_file() and not (busy / "keep.txt").exists()


def test_interrupted_conversion_leaves_nothing(source, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        (args[1] / "config.json").write_text("{}")  # half-written output
        raise KeyboardInterrupt

    monkeypatch.setattr("lumos_hf.conversion_lumos.convert_lumos_checkpoint", interrupted)
    output = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        convert(source, output)
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_text_tokenizer_and_video_tokenizer_commands_refuse_to_overwrite(tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="output_dir .* non-empty folder"):
        main(["convert-text-tokenizer", str(tmp_path / "text_tokenizer.json"), str(busy)])
    with pytest.raises(FileExistsError, match="--output .* non-empty folder"):
        main(["convert-tokenizer", "--autoencoder", str(tmp_path / "a.jit"), "--output", str(busy)])
    assert (busy / "keep.txt").read_text() == "mine"
