"""Pre-tokenization of the shared videos with a tiny random video tokenizer: dataset format, skipped files, resume
after a hard kill, workers, the CLI command."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import datasets
import pytest
import torch
from conftest import shared_path

from lumos_hf.commands import pretokenize as pretokenize_command
from lumos_hf.data.pretokenize import FEATURES, load_pretokenized, pretokenize, read_manifest
from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.testing import build_tiny_chameleon_tokenizer
from lumos_hf.tokens import FRAME_START_TOKEN_ID, VIDEO_START_TOKEN_ID
from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer

TARGET_SIZE = 64  # bucket family with 4 patches of 32 px: the 672x384 videos become 64x32 (8x4 latents)


@pytest.fixture(scope="module")
def components(tmp_path_factory) -> dict[str, Path]:
    """A tiny random Cosmos tokenizer and a processor with the tiny Chameleon tokenizer, saved to folders."""
    root = tmp_path_factory.mktemp("components")
    torch.manual_seed(0)
    CosmosDiscreteVideoTokenizer(
        channels=8, channels_mult=(1, 1), num_res_blocks=1, attn_resolutions=()
    ).save_pretrained(root / "video_tokenizer")
    LumosProcessor(build_tiny_chameleon_tokenizer()).save_pretrained(root / "processor")
    return {"video_tokenizer": root / "video_tokenizer", "processor": root / "processor"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """Five rows: the two shared videos, a corrupt file, a missing file, an image; relative and absolute paths."""
    root = tmp_path_factory.mktemp("manifest")
    videos = shared_path("data", "videos")
    captions = json.loads((videos / "captions.json").read_text())
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    from PIL import Image

    Image.new("RGB", (96, 40), (200, 30, 30)).save(root / "red.png")
    rows = [
        {"video": str(videos / "hawk_closeup.mp4"), "caption": captions["hawk_closeup.mp4"]},
        {"video": "corrupt.mp4", "caption": "a corrupt file"},
        {"video": str(videos / "duckling.mp4"), "caption": captions["duckling.mp4"]},
        {"image": "red.png", "caption": "a red rectangle"},
        {"video": "missing.mp4", "caption": "a file that does not exist"},
    ]
    path = root / "manifest.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_pretokenize(manifest: Path, output: Path, components: dict[str, Path], **kwargs):
    options = {"target_size": TARGET_SIZE, "shard_size": 2, "progress": False, **kwargs}
    return pretokenize(manifest, output, components["video_tokenizer"], components["processor"], **options)


def rows_of(dataset: datasets.Dataset) -> list[dict]:
    return [dict(row) for row in dataset]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, manifest, components) -> Path:
    output = tmp_path_factory.mktemp("uninterrupted") / "out"
    run_pretokenize(manifest, output, components)
    return output


def test_dataset_format_and_loaders(uninterrupted, components):
    report = json.loads((uninterrupted / "pretokenize_report.json").read_text())
    assert (report["num_rows"], report["num_samples"], report["num_shards"]) == (5, 3, 3)
    assert [item["source"] for item in report["skipped"]] == ["corrupt.mp4", "missing.mp4"]
    assert "FileNotFoundError" in report["skipped"][1]["error"]

    dataset = datasets.load_from_disk(str(uninterrupted))
    assert dataset.features == FEATURES and dataset.num_rows == 3
    assert dataset["kind"] == ["video", "video", "image"] and dataset["source_index"] == [0, 2, 3]
    processor = LumosProcessor.from_pretrained(components["processor"])
    for row in dataset:
        ids = torch.tensor(row["input_ids"])
        latents = processor.parse_video_tokens(ids)[0]
        frames = 7 if row["kind"] == "video" else 1
        assert (row["width"], row["height"]) == (64, 32) and latents.shape == (frames, 4, 8)
        assert int((ids == FRAME_START_TOKEN_ID).sum()) == frames
        expected = processor.build_training_sequence(row["caption"], latents, fps=row["fps"])["input_ids"]
        assert torch.equal(ids, expected)
    assert dataset[0]["fps"] == 12 and dataset[0]["num_frames"] == 25
    assert dataset[2]["fps"] == 1 and dataset[2]["num_frames"] == 1

    streamed = load_pretokenized(uninterrupted, streaming=True)
    assert isinstance(streamed, datasets.IterableDataset)
    assert rows_of(streamed) == rows_of(dataset)
    files = sorted(str(p) for p in uninterrupted.glob("data-*.arrow"))
    assert rows_of(datasets.load_dataset("arrow", data_files=files, split="train")) == rows_of(dataset)
    assert rows_of(load_pretokenized(uninterrupted)) == rows_of(dataset)
    # The collator reads the rows as they are.
    from lumos_hf.training import ARDFDataCollator

    batch = ARDFDataCollator(seed=0)(list(dataset))
    assert batch["input_ids"].shape[0] == 3 and (batch["labels"] >= 65536).any()
    assert int((torch.tensor(dataset[0]["input_ids"]) == VIDEO_START_TOKEN_ID).sum()) == 1


def test_hard_kill_then_resume_gives_the_uninterrupted_dataset(tmp_path, manifest, components, uninterrupted):
    """SIGKILL the process right after its first shard is durable (a deterministic point), then run again."""
    output = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import os, signal
        from lumos_hf.data.pretokenize import pretokenize

        def kill(report):
            os.kill(os.getpid(), signal.SIGKILL)

        pretokenize({str(manifest)!r}, {str(output)!r}, {str(components["video_tokenizer"])!r},
                    {str(components["processor"])!r}, target_size={TARGET_SIZE}, shard_size=2, progress=False,
                    on_shard_written=kill)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert sorted(p.name for p in output.glob("data-*.arrow")) == ["data-00000-of-00003.arrow"]
    assert not (output / "state.json").exists()
    with pytest.raises(ValueError, match="not a finished"):
        load_pretokenized(output)
    # Leftovers of a kill in the middle of the next shard: a partial temporary file, and a shard file whose report
    # was never written (killed between the two renames). Both must be redone, not trusted.
    (output / ".progress" / "data-00001-of-00003.arrow.tmp").write_bytes(b"partial")
    (output / "data-00001-of-00003.arrow").write_bytes(b"half-finished shard without its report")

    written = []
    report = run_pretokenize(manifest, output, components, on_shard_written=lambda r: written.append(r.shard))
    assert written == [1, 2]  # shard 0 was kept
    assert report.num_samples == 3 and len(report.skipped) == 2
    assert not list((output / ".progress").glob("*.tmp"))
    resumed = datasets.load_from_disk(str(output))
    assert rows_of(resumed) == rows_of(datasets.load_from_disk(str(uninterrupted)))
    # A finished folder re-runs as a no-op.
    run_pretokenize(manifest, output, components, on_shard_written=lambda r: written.append(r.shard))
    assert written == [1, 2]


def test_a_truncated_finished_shard_is_written_again(tmp_path, manifest, components, uninterrupted):
    output = tmp_path / "out"
    run_pretokenize(manifest, output, components)
    shard = output / "data-00001-of-00003.arrow"
    shard.write_bytes(shard.read_bytes()[:-100])  # e.g. a copy cut short, after the shard was recorded as finished
    (output / "state.json").unlink()
    written = []
    run_pretokenize(manifest, output, components, on_shard_written=lambda r: written.append(r.shard))
    assert written == [1]  # only the damaged shard is redone
    assert rows_of(datasets.load_from_disk(str(output))) == rows_of(datasets.load_from_disk(str(uninterrupted)))


def test_workers_end_when_the_job_is_killed(tmp_path, manifest, components):
    """kill -9 of the job leaves no worker process behind (each holds a video tokenizer)."""
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from lumos_hf.data.pretokenize import pretokenize

        def stop(report):
            time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGKILL)

        pretokenize({str(manifest)!r}, {str(tmp_path / "out")!r}, {str(components["video_tokenizer"])!r},
                    {str(components["processor"])!r}, target_size={TARGET_SIZE}, shard_size=2, progress=False,
                    num_workers=2, on_shard_written=stop)
        """
    )
    job = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    workers: set[int] = set()
    while job.poll() is None:  # the job's children while it runs
        workers |= {pid for pid in _children(job.pid)}
        time.sleep(0.1)
    assert job.returncode == -9 and len(workers) >= 2, job.stderr.read().decode()[-2000:]
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def _children(parent: int) -> set[int]:
    """Processes whose parent is `parent` (Linux /proc)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.add(int(stat.parent.name))
    return children


def test_worker_processes_give_the_same_dataset(tmp_path, manifest, components, uninterrupted):
    run_pretokenize(manifest, tmp_path / "out", components, num_workers=2)
    parallel = datasets.load_from_disk(str(tmp_path / "out"))
    assert rows_of(parallel) == rows_of(datasets.load_from_disk(str(uninterrupted)))


def test_cli_command(tmp_path, components, capsys):
    videos = shared_path("data", "videos")
    manifest = tmp_path / "captions.csv"
    manifest.write_text(f'video,caption\n{videos / "duckling.mp4"},"a duckling, yellow"\n')
    parser = argparse.ArgumentParser()
    pretokenize_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "pretokenize",
            "--input", str(manifest),
            "--output", str(tmp_path / "out"),
            "--video-tokenizer", str(components["video_tokenizer"]),
            "--processor", str(components["processor"]),
            "--size", "32x32",
            "--num-frames", "5",
            "--fps", "6",
            "--no-progress",
        ]
    )  # fmt: skip
    assert args.func(args) == 0
    assert "wrote 1 samples from 1 rows" in capsys.readouterr().out
    row = datasets.load_from_disk(str(tmp_path / "out"))[0]
    assert (row["caption"], row["width"], row["height"], row["num_frames"], row["fps"]) == (
        "a duckling, yellow",
        32,
        32,
        5,
        6,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["pretokenize", "--input", "x", "--output", "y", "--video-tokenizer", "v",
                           "--processor", "p", "--size", "big"])  # fmt: skip


def test_manifests_and_bad_options(tmp_path, manifest, components):
    mapping = tmp_path / "captions.json"
    mapping.write_text(json.dumps({"a.mp4": "first", "sub/b.mp4": "second"}))
    rows = read_manifest(mapping)
    assert [(r.index, r.source, r.caption) for r in rows] == [(0, "a.mp4", "first"), (1, "sub/b.mp4", "second")]
    assert rows[1].path == str(tmp_path / "sub" / "b.mp4")
    for name, text, match in [
        ("m.txt", "x", "must be a .csv"),
        ("empty.jsonl", "\n", "no rows"),
        ("nocap.jsonl", '{"video": "a.mp4"}\n', "needs a caption"),
        ("nopath.csv", "caption\nhello\n", "needs a file path"),
        ("broken.jsonl", '{"video": \n', "line 1: not valid JSON"),
    ]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=match):
            read_manifest(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "absent.csv")
    for kwargs, match in [
        ({"num_frames": 24}, "1 \\+ 4k"),
        ({"fps": 0}, "fps"),
        ({"fps": 196}, r"fps must be in \[1, 195\]"),
        ({"size": (64, 30)}, "multiples of 32"),
        ({"shard_size": 0}, "shard_size"),
        ({"num_workers": -1}, "num_workers"),
        ({"dtype": "int8"}, "dtype"),
    ]:
        with pytest.raises(ValueError, match=match):
            run_pretokenize(manifest, tmp_path / "bad", components, **kwargs)
    # A folder from another job (other settings) or a foreign non-empty folder is refused.
    run_pretokenize(mapping, tmp_path / "job", components)  # both files are missing: 0 samples, 2 skipped
    with pytest.raises(ValueError, match="other settings \\(fps differ\\)"):
        run_pretokenize(mapping, tmp_path / "job", components, fps=6)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a pretokenize output"):
        run_pretokenize(mapping, tmp_path / "foreign", components)
    assert os.listdir(tmp_path / "foreign") == ["notes.txt"]


def test_training_example_reads_the_pretokenized_dataset(uninterrupted, tmp_path):
    from utils import load_example

    overrides = "hidden_size=64,intermediate_size=128,num_hidden_layers=2,num_attention_heads=2,head_dim=32"
    argv = [
        "--config_name", "lumos-1-1b", "--config_overrides", overrides,
        "--dataset", str(uninterrupted), "--stage", "image", "--output_dir", str(tmp_path / "run"),
        "--max_steps", "2", "--per_device_train_batch_size", "1", "--save_strategy", "no",
        "--report_to", "none", "--use_cpu", "--disable_tqdm", "true",
    ]  # fmt: skip
    trainer = load_example("train_lumos").main(argv)
    assert len(trainer.train_dataset) == 1 and trainer.train_dataset[0]["kind"] == "image"
    assert trainer.state.global_step == 2
    assert (tmp_path / "run" / "model.safetensors").exists()
