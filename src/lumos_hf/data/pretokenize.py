"""Pre-tokenization: videos / images + captions → a `datasets` dataset of Lumos-1 training sequences.

Each manifest row (a video or image path and its caption) is read at the target fps and frame count, bucket-cropped
(`lumos_hf.video_processing_lumos`), encoded with the Cosmos DV4x8x8 tokenizer and turned into one training sequence
`[0] + text + [8710] + video + [8710]` by `LumosProcessor.build_training_sequence` (LUMOS_SPEC 2).

Output folder (a `save_to_disk` folder once finished):

- `data-00000-of-0000N.arrow` ...: shard `k` holds the samples of manifest rows `[k * shard_size, (k + 1) *
  shard_size)`, in manifest order. Each shard is written to a temporary file and renamed, so it is either complete or
  absent. Columns: `input_ids` (int32), `kind` (`"video"` / `"image"`), `source_index` (manifest row), `source`
  (the path as written in the manifest), `caption`, `num_frames` (pixel frames), `fps`, `height`, `width`.
- `.progress/shard-0000k.json`: written after its shard; finished shards are skipped when the job is run again, so
  an interrupted job resumes without losing or duplicating samples.
- `pretokenize.json`: the settings; a re-run with other settings into the same folder is refused.
- `pretokenize_report.json`: sample counts and the skipped rows (unreadable, corrupt or too short videos are
  reported and skipped, never fatal); `state.json` / `dataset_info.json`: written last.

Read the result with `datasets.load_from_disk(output_dir)`, or
`datasets.load_dataset("arrow", data_files=f"{output_dir}/data-*.arrow", split="train", streaming=True)`
(`load_pretokenized` does either).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from ..sequence_format import HIGH_RES_BUCKET_TARGET_SIZE, PIXELS_PER_SIZE_UNIT, duration_and_fps

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
PATH_COLUMNS = ("video", "image", "path", "file_name")
CAPTION_COLUMNS = ("caption", "text", "prompt")
FEATURES = datasets.Features(
    {
        "input_ids": datasets.List(datasets.Value("int32")),
        "kind": datasets.Value("string"),
        "source_index": datasets.Value("int64"),
        "source": datasets.Value("string"),
        "caption": datasets.Value("string"),
        "num_frames": datasets.Value("int32"),
        "fps": datasets.Value("int32"),
        "height": datasets.Value("int32"),
        "width": datasets.Value("int32"),
    }
)
_PROGRESS_DIR = ".progress"
_SETTINGS_FILE = "pretokenize.json"
_REPORT_FILE = "pretokenize_report.json"


@dataclass(frozen=True)
class ManifestRow:
    """One manifest entry: `source` as written in the manifest, `path` resolved against the manifest's folder."""

    index: int
    source: str
    path: str
    caption: str


@dataclass
class ShardReport:
    """What one finished shard holds: rows `[start, end)`, `num_samples` written, `skipped` rows with errors, and the
    SHA-256 of its Arrow file (checked on resume: a truncated or altered shard is written again)."""

    shard: int
    start: int
    end: int
    num_samples: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    sha256: str | None = None


@dataclass
class PretokenizeReport:
    """Summary of a (possibly resumed) run: rows, samples written, rows skipped with their error."""

    output_dir: str
    num_rows: int
    num_samples: int
    num_shards: int
    skipped: list[dict[str, Any]]


def read_manifest(path: str | os.PathLike) -> list[ManifestRow]:
    """Rows of a `.csv` (with a header), `.jsonl` or `.json` manifest.

    Each row names a file (column `video`, `image`, `path` or `file_name`) and its caption (`caption`, `text` or
    `prompt`). A `.json` file holds a list of such objects or a `{file: caption}` mapping. Relative paths are
    resolved against the manifest's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    elif suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [_json_line(line, number, path) for number, line in enumerate(lines, 1) if line.strip()]
    elif suffix == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(records, dict):
            records = [{"path": name, "caption": caption} for name, caption in records.items()]
    else:
        raise ValueError(f"manifest must be a .csv, .jsonl or .json file, got {path.name}")
    if not isinstance(records, list) or not records:
        raise ValueError(f"manifest {path} holds no rows")
    return [_manifest_row(record, index, path.parent) for index, record in enumerate(records)]


def _json_line(line: str, number: int, path: Path) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {number}: not valid JSON ({error})") from error


def _manifest_row(record: Any, index: int, root: Path) -> ManifestRow:
    if not isinstance(record, dict):
        raise ValueError(f"manifest row {index} must be an object with a path and a caption, got {record!r}")
    source = next((record[key] for key in PATH_COLUMNS if record.get(key)), None)
    caption = next((record[key] for key in CAPTION_COLUMNS if record.get(key) is not None), None)
    if not isinstance(source, str):
        raise ValueError(f"manifest row {index} needs a file path in one of the columns {PATH_COLUMNS}")
    if not isinstance(caption, str):
        raise ValueError(f"manifest row {index} ({source}) needs a caption in one of the columns {CAPTION_COLUMNS}")
    return ManifestRow(index=index, source=source, path=str(root / Path(source).expanduser()), caption=caption)


def pretokenize(
    manifest: str | os.PathLike,
    output_dir: str | os.PathLike,
    video_tokenizer: str | os.PathLike,
    processor: str | os.PathLike,
    fps: int = 12,
    num_frames: int = 25,
    target_size: int = HIGH_RES_BUCKET_TARGET_SIZE,
    size: tuple[int, int] | None = None,
    shard_size: int = 256,
    num_workers: int = 0,
    device: str | None = None,
    dtype: str = "float32",
    progress: bool = True,
    on_shard_written: Callable[[ShardReport], None] | None = None,
) -> PretokenizeReport:
    """Pre-tokenize the files of `manifest` into `output_dir` (see the module docstring for the layout).

    Args:
        manifest: `.csv` / `.jsonl` / `.json` rows of file path + caption (`read_manifest`).
        output_dir: output folder; an interrupted run into the same folder resumes.
        video_tokenizer: a `CosmosDiscreteVideoTokenizer` folder or Hub id (`lumos-hf convert-tokenizer`).
        processor: a `LumosProcessor` folder or Hub id (`lumos-hf convert-text-tokenizer`).
        fps: frame rate the videos are sampled at (at most their own), in `[1, 195]`.
        num_frames: pixel frames per video, `1 + 4k` (25: 7 latent frames, 2 s at 12 fps); taken from the middle of
            the video, shorter videos are skipped. Images are one frame.
        target_size: bucket family of `lumos_hf.sequence_format.crop_size_list` (512: 672x384 for 16:9 sources, "384p";
            352: 448x256, "256p"); each file goes to the bucket closest to its aspect ratio.
        size: a fixed `(width, height)` crop instead of the buckets (multiples of 32).
        shard_size: manifest rows per shard (the unit of resumption).
        num_workers: worker processes reading and encoding (0: in this process).
        device: device of the video tokenizer (default: CUDA when available; workers spread over the GPUs).
        dtype: `float32`, `bfloat16` or `float16` weights and inputs of the video tokenizer.
        progress: show a progress bar.
        on_shard_written: called with each finished shard's `ShardReport` (after it is durable on disk).

    Returns:
        The `PretokenizeReport` (also written to `pretokenize_report.json`).
    """
    rows = read_manifest(manifest)
    _check_options(fps, num_frames, target_size, size, shard_size, num_workers, dtype)
    output_dir = Path(output_dir)
    settings = {
        "format_version": FORMAT_VERSION,
        "manifest_sha256": hashlib.sha256(Path(manifest).read_bytes()).hexdigest(),
        "num_rows": len(rows),
        "shard_size": shard_size,
        "fps": fps,
        "num_frames": num_frames,
        "target_size": target_size,
        "size": list(size) if size is not None else None,
        "dtype": dtype,
        "video_tokenizer": str(video_tokenizer),
        "processor": str(processor),
    }
    _prepare_output_dir(output_dir, settings)
    num_shards = math.ceil(len(rows) / shard_size)
    reports = {shard: _read_shard_report(output_dir, shard, num_shards) for shard in range(num_shards)}
    pending = [shard for shard, report in reports.items() if report is None]
    if pending:
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        options = {"fps": fps, "num_frames": num_frames, "target_size": target_size, "size": size}
        worker_args = (str(video_tokenizer), str(processor), dtype, options)
        done_rows = sum(report.end - report.start for report in reports.values() if report is not None)
        bar = tqdm(total=len(rows), initial=done_rows, desc="pretokenize", unit="file", disable=not progress)
        todo = [row for shard in pending for row in rows[shard * shard_size : (shard + 1) * shard_size]]
        with _ResultStream(todo, worker_args, num_workers, device) as results:
            for shard in pending:
                start, end = shard * shard_size, min((shard + 1) * shard_size, len(rows))
                samples, skipped = [], []
                for row in rows[start:end]:
                    result = next(results)
                    if "error" in result:
                        skipped.append({"source_index": row.index, "source": row.source, "error": result["error"]})
                        logger.warning("skipped %s (manifest row %d): %s", row.source, row.index, result["error"])
                    else:
                        samples.append(result)
                    bar.update(1)
                    bar.set_postfix(skipped=sum(len(r.skipped) for r in reports.values() if r) + len(skipped))
                report = ShardReport(shard, start, end, len(samples), skipped)
                _write_shard(output_dir, shard, num_shards, samples, report)
                reports[shard] = report
                if on_shard_written is not None:
                    on_shard_written(report)
        bar.close()
    return _finalize(output_dir, [reports[shard] for shard in range(num_shards)], len(rows))


def load_pretokenized(
    output_dir: str | os.PathLike, streaming: bool = False
) -> datasets.Dataset | datasets.IterableDataset:
    """The dataset written by `pretokenize`: `load_from_disk`, or streamed from its Arrow shards."""
    output_dir = Path(output_dir)
    if not (output_dir / datasets.config.DATASET_STATE_JSON_FILENAME).exists():
        raise ValueError(f"{output_dir} is not a finished pretokenize output (no state.json): run pretokenize again")
    if streaming:
        files = sorted(str(path) for path in output_dir.glob("data-*-of-*.arrow"))
        return datasets.load_dataset("arrow", data_files=files, split="train", streaming=True, features=FEATURES)
    return datasets.load_from_disk(str(output_dir))


# ----------------------------------------------------------------------------------------------------------------
# Output folder


def _check_options(
    fps: int,
    num_frames: int,
    target_size: int,
    size: tuple[int, int] | None,
    shard_size: int,
    num_workers: int,
    dtype: str,
) -> None:
    for name, value in (("fps", fps), ("num_frames", num_frames), ("target_size", target_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    duration_and_fps(num_frames, fps)  # num_frames = 1 + 4k, fps and the duration encodable as size tokens
    unit = PIXELS_PER_SIZE_UNIT
    if size is not None and (len(size) != 2 or any(not isinstance(s, int) or s < unit or s % unit for s in size)):
        raise ValueError(f"size must be (width, height), multiples of {unit}, got {size!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative int, got {num_workers!r}")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")


def _prepare_output_dir(output_dir: Path, settings: dict[str, Any]) -> None:
    """Create the folder (or check that it belongs to this job) and remove partial files of a killed run."""
    settings_path = output_dir / _SETTINGS_FILE
    if settings_path.exists():
        previous = json.loads(settings_path.read_text())
        if previous != settings:
            changed = sorted(
                key for key in settings.keys() | previous.keys() if previous.get(key) != settings.get(key)
            )
            raise ValueError(
                f"{output_dir} holds a pretokenize run with other settings ({', '.join(changed)} differ): "
                "resume with the same manifest and options, or write to a new folder"
            )
    elif output_dir.exists() and any(output_dir.iterdir()):
        raise ValueError(f"{output_dir} exists and is not a pretokenize output folder: choose an empty or new folder")
    (output_dir / _PROGRESS_DIR).mkdir(parents=True, exist_ok=True)
    _atomic_write_text(settings_path, json.dumps(settings, indent=2))
    for partial in (output_dir / _PROGRESS_DIR).glob("*.tmp"):
        partial.unlink()


def _shard_name(shard: int, num_shards: int) -> str:
    return f"data-{shard:05d}-of-{num_shards:05d}.arrow"


def _read_shard_report(output_dir: Path, shard: int, num_shards: int) -> ShardReport | None:
    """The report of a finished shard, or None when the shard must be (re)written."""
    report_path = output_dir / _PROGRESS_DIR / f"shard-{shard:05d}.json"
    shard_path = output_dir / _shard_name(shard, num_shards)
    if not report_path.exists() or not shard_path.exists():
        return None
    report = ShardReport(**json.loads(report_path.read_text()))
    if report.sha256 != _sha256(shard_path):
        logger.warning(
            "shard %s does not match its recorded checksum (truncated or changed): writing it again", shard_path
        )
        return None
    return report


def _write_shard(
    output_dir: Path, shard: int, num_shards: int, samples: list[dict[str, Any]], report: ShardReport
) -> None:
    """Write the shard's Arrow file, then its report, each atomically (temporary file, fsync, rename)."""
    schema = FEATURES.arrow_schema
    table = pa.Table.from_pydict({name: [sample[name] for sample in samples] for name in FEATURES}, schema=schema)
    temporary = output_dir / _PROGRESS_DIR / f"{_shard_name(shard, num_shards)}.tmp"
    with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(table)
    _fsync(temporary)
    report.sha256 = _sha256(temporary)
    os.replace(temporary, output_dir / _shard_name(shard, num_shards))
    _atomic_write_text(output_dir / _PROGRESS_DIR / f"shard-{shard:05d}.json", json.dumps(asdict(report)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _finalize(output_dir: Path, reports: list[ShardReport], num_rows: int) -> PretokenizeReport:
    """Write the report and the `save_to_disk` metadata that make the folder loadable."""
    num_shards = len(reports)
    files = [_shard_name(shard, num_shards) for shard in range(num_shards)]
    report = PretokenizeReport(
        output_dir=str(output_dir),
        num_rows=num_rows,
        num_samples=sum(r.num_samples for r in reports),
        num_shards=num_shards,
        skipped=[item for r in reports for item in r.skipped],
    )
    _atomic_write_text(output_dir / _REPORT_FILE, json.dumps(asdict(report), indent=2))
    info = {"citation": "", "description": "", "features": FEATURES.to_dict(), "homepage": "", "license": ""}
    _atomic_write_text(output_dir / datasets.config.DATASET_INFO_FILENAME, json.dumps(info, indent=2))
    fingerprint = hashlib.sha256((output_dir / _SETTINGS_FILE).read_bytes()).hexdigest()[:16]
    state = {
        "_data_files": [{"filename": name} for name in files],
        "_fingerprint": fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": "train",
    }
    _atomic_write_text(output_dir / datasets.config.DATASET_STATE_JSON_FILENAME, json.dumps(state, indent=2))
    return report


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    _fsync(temporary)
    os.replace(temporary, path)


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


# ----------------------------------------------------------------------------------------------------------------
# Workers

_WORKER_STATE: dict[str, Any] = {}


def _init_worker(
    video_tokenizer: str,
    processor: str,
    dtype: str,
    options: dict[str, Any],
    devices: Any,
    num_threads: int | None,
    watch_parent: bool = False,
) -> None:
    """Load the video tokenizer and the processor once per process. `devices`: a device string, or a queue handing
    one device to each worker process; `watch_parent`: a worker process, which ends when the job's process does."""
    from ..processing_lumos import LumosProcessor
    from ..video_tokenizer import CosmosDiscreteVideoTokenizer

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    if watch_parent:
        threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    device = devices if isinstance(devices, str) else devices.get()
    tokenizer = CosmosDiscreteVideoTokenizer.from_pretrained(video_tokenizer, torch_dtype=getattr(torch, dtype))
    _WORKER_STATE.update(
        tokenizer=tokenizer.to(device).eval(),
        processor=LumosProcessor.from_pretrained(processor),
        options=options,
    )


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Worker watchdog: end this process once its parent is gone (a `kill -9` of the job would otherwise leave the
    workers running, each holding a video tokenizer)."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _process_row(row: ManifestRow) -> dict[str, Any]:
    """One sample, or `{"error": message}` for a file that cannot be read, decoded or encoded."""
    try:
        return _encode_row(row)
    except Exception as error:  # noqa: BLE001 - a bad file must be reported and skipped, never end the run
        return {"error": f"{type(error).__name__}: {error}"}


@torch.inference_mode()
def _encode_row(row: ManifestRow) -> dict[str, Any]:
    from ..video_processing_lumos import as_uint8_frames, bucket_crop, frames_to_tensor
    from .video_io import read_video

    tokenizer, processor, options = _WORKER_STATE["tokenizer"], _WORKER_STATE["processor"], _WORKER_STATE["options"]
    is_image = Path(row.path).suffix.lower() in IMAGE_EXTENSIONS
    if is_image:
        from PIL import Image

        with Image.open(row.path) as image:
            frames = as_uint8_frames(image)  # the pipeline's conversion: 16-bit, float, palette, alpha over white
        fps, num_frames = 1, 1
    else:
        fps, num_frames = options["fps"], options["num_frames"]
        frames = read_video(row.path, fps=fps, num_frames=num_frames)
    frames = bucket_crop(frames, target_size=options["target_size"], size=options["size"])
    video = frames_to_tensor(frames).unsqueeze(0).to(tokenizer.device, tokenizer.dtype)  # [1, 3, T, H, W]
    latents = tokenizer.encode(video)[0].cpu()  # [T', H / 8, W / 8]
    sequence = processor.build_training_sequence(row.caption, latents, fps=fps)
    height, width = frames.shape[1:3]
    return {
        "input_ids": sequence["input_ids"].to(torch.int32).numpy(),
        "kind": "image" if is_image else "video",
        "source_index": row.index,
        "source": row.source,
        "caption": row.caption,
        "num_frames": num_frames,
        "fps": fps,
        "height": height,
        "width": width,
    }


class _ResultStream:
    """Context manager yielding `_process_row` results in row order, from this process or a bounded window of
    worker processes (spawned: safe with CUDA and threads)."""

    def __init__(self, rows: list[ManifestRow], worker_args: tuple, num_workers: int, device: str) -> None:
        self.rows, self.worker_args, self.num_workers, self.device = rows, worker_args, num_workers, device
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> Iterator[dict[str, Any]]:
        if self.num_workers == 0:
            _init_worker(*self.worker_args, self.device, None)
            return map(_process_row, self.rows)
        context = get_context("spawn")
        devices: Any = self.device
        if self.device == "cuda" and torch.cuda.device_count() > 1:
            devices = context.SimpleQueue()
            for worker in range(self.num_workers):
                devices.put(f"cuda:{worker % torch.cuda.device_count()}")
        threads = max(1, (os.cpu_count() or 1) // self.num_workers) if self.device == "cpu" else None
        self.executor = ProcessPoolExecutor(
            self.num_workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(*self.worker_args, devices, threads, True),
        )
        return self._ordered(self.executor, window=4 * self.num_workers)

    def _ordered(self, executor: ProcessPoolExecutor, window: int) -> Iterator[dict[str, Any]]:
        pending: deque[Future] = deque()
        for row in self.rows:
            pending.append(executor.submit(_process_row, row))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def __exit__(self, *exc_info: Any) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=exc_info[0] is None, cancel_futures=True)
        _WORKER_STATE.clear()


__all__ = [
    "FEATURES",
    "ManifestRow",
    "PretokenizeReport",
    "ShardReport",
    "load_pretokenized",
    "pretokenize",
    "read_manifest",
]
