"""
Prompt-following of the shapes demo model with and without a LoRA adapter, loaded the diffusers way
(`pipe.load_lora_weights`, `set_adapters`, `fuse_lora`), scored by the shapes detector (`shapes_bench.score`):

    python benchmarks/shapes_lora_bench.py --adapter runs/lora-left/adapter [--motion "moves left"] [--seeds 2]

Prompts: every colour x shape x background with the adapter's motion, and the same with a control motion (another
motion, to see what the adapter costs elsewhere), `--seeds` seeds each. Settings: the base model; the adapter at
weight 1 and 0.5 (`set_adapters`); the adapter fused (`fuse_lora`), whose tokens are compared with the unfused run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lumos_hf import LumosPipeline, demo
from lumos_hf.data import shapes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes_bench import ATTRIBUTES, caption_of, generate, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, required=True, help="PEFT adapter folder (train_lora_subset.py)")
    parser.add_argument("--model", default=None, help="LumosPipeline folder (default: the shipped demo model)")
    parser.add_argument("--motion", default="moves left", choices=shapes.MOTIONS, help="the adapter's motion")
    parser.add_argument("--control", default="moves right", choices=shapes.MOTIONS, help="another motion")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=18)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.seeds <= 0 or args.batch_size <= 0:
        raise SystemExit("--seeds and --batch_size must be positive")

    pipe = LumosPipeline.from_pretrained(args.model or demo.model_path())
    pipe.set_progress_bar_config(disable=True)
    sets = {}
    for motion in (args.motion, args.control):
        combinations = [
            (colour, shape, motion, background)
            for colour, shape, background in itertools.product(shapes.COLOURS, shapes.SHAPES, shapes.BACKGROUNDS)
            for _ in range(args.seeds)
        ]
        sets[motion] = (combinations, [i % args.seeds for i in range(len(combinations))])

    def run(setting: str) -> dict[str, np.ndarray]:
        outputs = {}
        for motion, (combinations, seeds) in sets.items():
            start = time.perf_counter()
            videos = generate(pipe, [caption_of(c) for c in combinations], seeds, args.batch_size)
            seconds = time.perf_counter() - start
            report[setting][motion] = {**score(videos, combinations), "seconds_per_video": seconds / len(videos)}
            outputs[motion] = videos
        return outputs

    report: dict[str, dict] = {name: {} for name in ("base", "lora", "lora x0.5", "lora fused")}
    run("base")
    pipe.load_lora_weights(args.adapter, adapter_name="subset")
    unfused = run("lora")
    pipe.set_adapters(["subset"], adapter_weights=[0.5])
    run("lora x0.5")
    pipe.set_adapters(["subset"], adapter_weights=[1.0])
    pipe.fuse_lora()
    fused = run("lora fused")
    same = np.mean([np.array_equal(a, b) for motion in sets for a, b in zip(unfused[motion], fused[motion])])
    report["fused_identical_videos"] = 100 * float(same)

    print(json.dumps(report, indent=2))
    print("\n| setting | prompts | colour | shape | motion | background | consistency | s / video |")
    print("|---|---|---|---|---|---|---|---|")
    for setting, rows in report.items():
        if not isinstance(rows, dict):
            continue
        for motion, row in rows.items():
            values = " | ".join(f"{row[key]:.1f}" for key in (*ATTRIBUTES, "consistency"))
            print(f"| {setting} | {motion} ({row['videos']}) | {values} | {row['seconds_per_video']:.2f} |")
    print(f"\nfused vs unfused: {report['fused_identical_videos']:.1f} % of videos identical")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
