#!/usr/bin/env python
"""Generate one video per prompt of a list, split across processes with accelerate.

Each process takes its share of the prompts (`PartialState().split_between_processes`) and generates it in batches.
Video `i` gets its own generator seeded `seed + i`: with `--batch_size 1` every video is the same whatever the number
of processes; in larger batches, which prompts share a batch changes float rounding (and so, rarely, a token).
Writes `OUTPUT_DIR/{i:05d}.mp4` (atomically: a temporary file, then a rename).

    accelerate launch --num_processes 2 examples/generate_distributed.py --prompts prompts.txt --output_dir outputs/batch
    python examples/generate_distributed.py --prompts prompts.txt --output_dir outputs/batch   # one process

`--model` is a `LumosPipeline` folder (default: the shipped shapes demo model); other generation arguments are the
model's defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from accelerate import PartialState

from lumos_hf import LumosPipeline, demo, write_video


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=Path, required=True, help="a text file, one prompt per line")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--model", default=None, help="LumosPipeline folder (default: the shapes demo model)")
    parser.add_argument("--batch_size", type=int, default=4, help="videos generated together per process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace existing videos")
    args = parser.parse_args(argv)
    if not args.prompts.is_file():
        raise SystemExit(f"--prompts {args.prompts} is not a file")
    prompts = [line.strip() for line in args.prompts.read_text().splitlines() if line.strip()]
    if not prompts:
        raise SystemExit(f"--prompts {args.prompts} holds no prompt")
    if args.batch_size < 1:
        raise SystemExit(f"--batch_size must be >= 1, got {args.batch_size}")
    outputs = [args.output_dir / f"{index:05d}.mp4" for index in range(len(prompts))]
    existing = [str(path) for path in outputs if path.exists()]
    if existing and not args.overwrite:
        raise SystemExit(
            f"{len(existing)} videos exist already (e.g. {existing[0]}); pass --overwrite to replace them"
        )

    state = PartialState()
    pipe = LumosPipeline.from_pretrained(args.model or demo.model_path()).to(state.device)
    pipe.set_progress_bar_config(disable=not state.is_local_main_process)
    fps = pipe.generation_defaults["fps"]
    args.output_dir.mkdir(parents=True, exist_ok=True)
    with state.split_between_processes(list(range(len(prompts)))) as mine:
        for start in range(0, len(mine), args.batch_size):
            batch = mine[start : start + args.batch_size]
            generators = [torch.Generator().manual_seed(args.seed + index) for index in batch]
            videos = pipe([prompts[index] for index in batch], generator=generators).frames  # [b, F, H, W, 3]
            for index, video in zip(batch, videos):
                partial = outputs[index].with_suffix(".partial.mp4")
                write_video(partial, (video * 255).round().astype("uint8"), fps=fps)
                partial.replace(outputs[index])
    state.wait_for_everyone()


if __name__ == "__main__":
    main()
