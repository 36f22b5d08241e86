"""
Prompt-following benchmark of a shapes `LumosPipeline` (default: the shipped demo model), scored by the exact
detector of `lumos_hf.data.shapes_detector`:

    python benchmarks/shapes_bench.py [--model DIR] [--seen 54] [--seeds 3] [--i2v 36] [--strip docs/demo_strip.png]
        [--seed_offset N] [--temperature T] [--top_k K] [--gumbel_temperature G] [--history_mask_ratio R]
        [--guidance G] [--steps S]

- seen: `--seen` training combinations (evenly spaced over the 162, so every attribute value occurs), 1 seed each;
- held-out: the 18 combinations never seen in training, `--seeds` seeds each;
- I2V: `--i2v` clips of the "all" split: their first frame and caption in, the continued video scored.

Each video is generated with the pipeline's defaults and scored for colour, shape, motion and background against its
prompt, and for temporal consistency (an object of one colour and shape in every frame). Prints a JSON report and a
Markdown table; `--strip` writes a PNG of frames 0, 4, 8, 12, 16 of the first videos of each group.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from lumos_hf import ARDFScheduler, LumosPipeline, demo
from lumos_hf.data import shapes
from lumos_hf.data.shapes_detector import detect_clip

ATTRIBUTES = ("colour", "shape", "motion", "background")


def caption_of(combination: tuple[str, str, str, str]) -> str:
    colour, shape, motion, background = combination
    return f"a {colour} {shape} {motion} on a {background} background"


def score(videos: np.ndarray, combinations: list[tuple[str, str, str, str]]) -> dict[str, float]:
    """Accuracy (%) of each attribute and of temporal consistency over `videos` [N, T, H, W, 3] uint8."""
    readings = [detect_clip(video) for video in videos]
    report = {
        name: 100 * float(np.mean([getattr(r, name) == c[i] for r, c in zip(readings, combinations)]))
        for i, name in enumerate(ATTRIBUTES)
    }
    report["consistency"] = 100 * float(np.mean([r.consistent for r in readings]))
    report["videos"] = len(videos)
    return report


def generate(pipe: LumosPipeline, prompts: list[str], seeds: list[int], batch_size: int, **kwargs) -> np.ndarray:
    """[N, T, H, W, 3] uint8 videos, `batch_size` prompts per call, one generator per video."""
    videos = []
    for start in range(0, len(prompts), batch_size):
        chunk = slice(start, start + batch_size)
        extra = {key: value[chunk] if isinstance(value, list) else value for key, value in kwargs.items()}
        generators = [torch.Generator().manual_seed(seed) for seed in seeds[chunk]]
        frames = pipe(prompts[chunk], generator=generators, output_type="np", **extra).frames
        videos.append(np.round(np.asarray(frames) * 255).astype(np.uint8))
    return np.concatenate(videos)


def write_strip(groups: dict[str, tuple[np.ndarray, list[str]]], path: Path, per_group: int = 3) -> None:
    from PIL import Image, ImageDraw

    rows = [(name, video, prompt) for name, (videos, prompts) in groups.items() for video, prompt in
            list(zip(videos, prompts))[:per_group]]  # fmt: skip
    frame_ids = (0, 4, 8, 12, 16)
    size, label = shapes.FRAME_SIZE * 2, 360
    canvas = Image.new("RGB", (label + size * len(frame_ids), size * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    for row, (name, video, prompt) in enumerate(rows):
        draw.text((6, row * size + size // 2 - 12), f"{name}:\n{prompt}", fill="black")
        for col, index in enumerate(frame_ids[: len(video)] if len(video) > 1 else (0,)):
            tile = Image.fromarray(video[min(index, len(video) - 1)]).resize((size, size), Image.NEAREST)
            canvas.paste(tile, (label + col * size, row * size))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="LumosPipeline folder (default: the shipped demo model)")
    parser.add_argument("--seen", type=int, default=54, help="training combinations to test (1 seed each)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per held-out combination")
    parser.add_argument("--i2v", type=int, default=36, help="image-to-video clips (0: none)")
    parser.add_argument("--batch_size", type=int, default=18)
    parser.add_argument("--steps", type=int, default=None, help="AR-DF steps per frame (default: the model's)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
    parser.add_argument("--history_mask_ratio", type=float, default=None, help="(default: the model's, else 0.7)")
    parser.add_argument(
        "--history_mask", default=None, choices=("periodic", "random"), help="(default: the model's, else periodic)"
    )
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the model's)")
    parser.add_argument(
        "--top_k", type=int, default=None, help="sample from the k likeliest codes (default: the model's)"
    )
    parser.add_argument(
        "--gumbel_temperature", type=float, default=None, help="unmasking-order noise (default: the model's)"
    )
    parser.add_argument(
        "--seed_offset",
        type=int,
        default=0,
        help="added to every generation seed (same prompts and clips, fresh samples)",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--strip", type=Path, default=None, help="write a PNG strip of generated frames")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for name in ("seen", "seeds", "i2v", "batch_size", "seed_offset"):
        minimum = 1 if name in ("seeds", "batch_size") else 0
        if getattr(args, name) < minimum:
            raise SystemExit(f"--{name} must be an integer >= {minimum}, got {getattr(args, name)}")

    pipe = LumosPipeline.from_pretrained(args.model or demo.model_path())
    pipe.set_progress_bar_config(disable=True)
    sampling = {
        name: getattr(args, name)
        for name in ("temperature", "top_k", "gumbel_temperature")
        if getattr(args, name) is not None
    }
    if sampling:
        pipe.scheduler = ARDFScheduler.from_config(pipe.scheduler.config, **sampling)
    options = {"num_inference_steps": args.steps, "guidance_scale": args.guidance}
    for name in ("history_mask_ratio", "history_mask"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    train = shapes.combinations("train")
    seen = [train[i * len(train) // args.seen] for i in range(args.seen)] if args.seen else []
    held_out = [c for c in shapes.combinations("held_out") for _ in range(args.seeds)]
    groups = {
        "seen": (seen, [args.seed_offset + i for i in range(len(seen))]),
        "held-out": (held_out, [args.seed_offset + i % args.seeds for i in range(len(held_out))]),
    }

    report, strips = {}, {}
    for name, (combinations, seeds) in groups.items():
        if not combinations:
            continue
        prompts = [caption_of(c) for c in combinations]
        start = time.perf_counter()
        videos = generate(pipe, prompts, seeds, args.batch_size, **options)
        seconds = time.perf_counter() - start
        report[name] = {**score(videos, combinations), "seconds_per_video": seconds / len(videos)}
        strips[name] = (videos, prompts)
    if args.i2v:
        clips = list(shapes.generate_examples(20_000, "all", args.i2v))
        combinations = [(c["colour"], c["shape"], c["motion"], c["background"]) for c in clips]
        prompts = [c["caption"] for c in clips]
        images = [c["frames"][0] for c in clips]
        start = time.perf_counter()
        seeds = [args.seed_offset + i for i in range(len(clips))]
        videos = generate(pipe, prompts, seeds, args.batch_size, image=images, **options)
        seconds = time.perf_counter() - start
        report["i2v"] = {**score(videos, combinations), "seconds_per_video": seconds / len(videos)}
        strips["i2v"] = (videos, prompts)

    print(json.dumps(report, indent=2))
    print("\n| set | videos | colour | shape | motion | background | consistency | s / video |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in report.items():
        values = " | ".join(f"{row[key]:.1f}" for key in (*ATTRIBUTES, "consistency"))
        print(f"| {name} | {row['videos']} | {values} | {row['seconds_per_video']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.strip:
        write_strip(strips, args.strip)
        print(f"wrote {args.strip}")


if __name__ == "__main__":
    main()
