"""`lumos-hf pretokenize`: videos / images + captions → a `datasets` dataset of Lumos-1 training sequences."""

from __future__ import annotations

import argparse

from ..sequence_format import DEFAULT_BUCKET_TARGET_SIZE, HIGH_RES_BUCKET_TARGET_SIZE

DESCRIPTION = (
    "Read each video (or image) of a .csv / .jsonl / .json manifest (a path and a caption per row) at the target fps "
    "and frame count, bucket-crop it, encode it with the Cosmos video tokenizer and write the training sequences as "
    "Arrow shards that datasets.load_from_disk(OUTPUT) reads. Unreadable files are reported and skipped; re-running "
    "an interrupted job resumes it (finished shards are kept)."
)


def _size(value: str) -> tuple[int, int]:
    width, _, height = value.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 672x384, got {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--input", required=True, help="manifest: .csv (with a header), .jsonl or .json")
    parser.add_argument("--output", required=True, help="output folder (an interrupted run into it resumes)")
    parser.add_argument("--video-tokenizer", required=True, help="CosmosDiscreteVideoTokenizer folder or Hub id")
    parser.add_argument("--processor", required=True, help="LumosProcessor folder or Hub id (text tokenizer)")
    parser.add_argument("--fps", type=int, default=12, help="frame rate videos are sampled at (default 12)")
    parser.add_argument("--num-frames", type=int, default=25, help="pixel frames per video, 1 + 4k (default 25)")
    parser.add_argument(
        "--target-size",
        type=int,
        default=HIGH_RES_BUCKET_TARGET_SIZE,
        help=f"bucket family: {HIGH_RES_BUCKET_TARGET_SIZE} gives 672x384 (384p), {DEFAULT_BUCKET_TARGET_SIZE} gives 448x256",
    )
    parser.add_argument("--size", type=_size, help="fixed WIDTHxHEIGHT crop instead of the aspect-ratio buckets")
    parser.add_argument("--shard-size", type=int, default=256, help="manifest rows per shard (default 256)")
    parser.add_argument("--num-workers", type=int, default=0, help="worker processes (default 0: this process)")
    parser.add_argument("--device", help="video tokenizer device (default: cuda when available, else cpu)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)
    return parser


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `pretokenize` sub-command to `subparsers`."""
    return add_arguments(
        subparsers.add_parser(
            "pretokenize", help="encode videos + captions into a training dataset", description=DESCRIPTION
        )
    )


def run(args: argparse.Namespace) -> int:
    from ..data.pretokenize import pretokenize

    report = pretokenize(
        args.input,
        args.output,
        video_tokenizer=args.video_tokenizer,
        processor=args.processor,
        fps=args.fps,
        num_frames=args.num_frames,
        target_size=args.target_size,
        size=args.size,
        shard_size=args.shard_size,
        num_workers=args.num_workers,
        device=args.device,
        dtype=args.dtype,
        progress=not args.no_progress,
    )
    print(
        f"wrote {report.num_samples} samples from {report.num_rows} rows in {report.num_shards} shards to "
        f"{report.output_dir} (datasets.load_from_disk); skipped {len(report.skipped)}"
    )
    for item in report.skipped:
        print(f"  skipped row {item['source_index']} ({item['source']}): {item['error']}")
    return 0
