"""
LoRA fine-tuning of the shipped shapes demo model on one motion only (default: "moves left" clips), with the
package's LoRA recipe (`examples/train_lora.py`: PEFT + Trainer, AR-DF tube masks), resumable from the latest
checkpoint in `RUN_DIR/adapter`. Compare base and adapter with `benchmarks/shapes_lora_bench.py`.

    python examples/shapes/train_lora_subset.py --run_dir runs/lora-left --motion "moves left" --max_steps 200

The clips (train split, stream `--seed`, only `--motion`) are tokenized with the demo pipeline's own video tokenizer
and processor into `RUN_DIR/dataset`. Any other argument goes to `train_lora.py` (e.g. `--lora_r 16`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers.trainer_utils import get_last_checkpoint

from lumos_hf import LumosPipeline, demo
from lumos_hf.data.shapes import FPS, MOTIONS, generate_examples
from lumos_hf.video_processing_lumos import frames_to_tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_lora import main as train_lora  # noqa: E402


def build_dataset(target: Path, motion: str, num_clips: int, seed: int) -> None:
    """`num_clips` train-split clips with `motion`, as AR-DF training sequences of the demo pipeline."""
    pipe = LumosPipeline.from_pretrained(demo.model_path())
    clips = (example for example in generate_examples(seed, "train", 50 * num_clips) if example["motion"] == motion)
    rows: dict[str, list] = {"input_ids": [], "kind": [], "caption": []}
    for start in range(0, num_clips, 32):
        batch = [next(clips) for _ in range(min(32, num_clips - start))]
        with torch.no_grad():
            latents = pipe.video_tokenizer.encode(frames_to_tensor(np.stack([example["frames"] for example in batch])))
        for example, grid in zip(batch, latents):
            sequence = pipe.processor.build_training_sequence(example["caption"], grid, fps=FPS)
            rows["input_ids"].append(sequence["input_ids"].tolist())
            rows["kind"].append("video")
            rows["caption"].append(example["caption"])
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    datasets.Dataset.from_dict(rows).save_to_disk(str(staging))
    staging.rename(target)
    print(f"saved {num_clips} '{motion}' clips to {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", type=Path, required=True)
    parser.add_argument("--motion", default="moves left", choices=MOTIONS)
    parser.add_argument("--num_clips", type=int, default=1200)
    parser.add_argument("--max_steps", type=int, default=200)
    parser.add_argument(
        "--seed",
        type=int,
        default=3,
        help="clip stream (the demo model trained on streams 1, 2 and 4, the tokenizer on 0)",
    )
    args, extra = parser.parse_known_args()

    dataset = args.run_dir / "dataset"
    if not dataset.exists():
        build_dataset(dataset, args.motion, args.num_clips, args.seed)
    output_dir = args.run_dir / "adapter"
    checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    train_lora(
        [
            f"--model_name_or_path={demo.model_path() / 'transformer'}",
            "--dtype=float32",
            f"--dataset={dataset}",
            f"--output_dir={output_dir}",
            f"--max_steps={args.max_steps}",
            "--stage=joint",
            "--lora_r=16",
            "--per_device_train_batch_size=16",
            "--learning_rate=1e-3",
            "--lr_scheduler_type=cosine",
            "--warmup_steps=20",
            "--weight_decay=0.0",
            "--max_grad_norm=1.0",
            "--logging_steps=10",
            "--save_steps=50",
            "--save_total_limit=2",
            "--dataloader_num_workers=0",
            "--report_to=none",
            "--seed=0",
            *([f"--resume_from_checkpoint={checkpoint}"] if checkpoint else []),
            *extra,
        ]
    )


if __name__ == "__main__":
    main()
