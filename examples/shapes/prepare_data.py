"""
Tokenize shapes clips for the demo model: saves the processor (compact vocabulary) to `RUN_DIR/processor` and a
`datasets` dataset of AR-DF training sequences to `RUN_DIR/dataset`, using the video tokenizer in
`RUN_DIR/tokenizer/final` (see `train_tokenizer.py`).

    python examples/shapes/prepare_data.py --run_dir runs/shapes --num_clips 12000

Each clip gives a 17-frame video sample; every `--image_every`-th clip also gives an image sample (its first frame,
captioned the same way), so the model learns text-to-image too. Only the "train" split is used: the held-out
combinations stay unseen.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import datasets
import numpy as np
import torch
from demo_spec import build_processor

from lumos_hf import CosmosDiscreteVideoTokenizer, LumosProcessor
from lumos_hf.data.shapes import FPS, generate_examples
from lumos_hf.video_processing_lumos import frames_to_tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", type=Path, required=True)
    parser.add_argument("--num_clips", type=int, default=12000)
    parser.add_argument("--image_every", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1, help="clip stream (the tokenizer trained on stream 0)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where clips are encoded"
    )
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    target = args.run_dir / "dataset"
    if target.exists() and not args.overwrite:
        raise SystemExit(f"{target} exists; pass --overwrite to rebuild it")

    processor = build_processor()
    processor.save_pretrained(args.run_dir / "processor")
    tokenizer = CosmosDiscreteVideoTokenizer.from_pretrained(args.run_dir / "tokenizer" / "final")
    tokenizer = tokenizer.to(args.device).eval()
    rows = tokenize_clips(tokenizer, processor, args.seed, args.num_clips, args.image_every, args.batch_size)

    staging = args.run_dir / "dataset.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    datasets.Dataset.from_dict(rows).save_to_disk(str(staging))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    print(f"saved {len(rows['input_ids'])} samples to {target}")


def tokenize_clips(
    tokenizer: CosmosDiscreteVideoTokenizer,
    processor: LumosProcessor,
    seed: int,
    num_clips: int,
    image_every: int | None = 5,
    batch_size: int = 32,
    split: str = "train",
) -> dict[str, list]:
    """AR-DF training rows (`input_ids`, `kind`, `caption`) of `num_clips` clips of stream `seed`: one video sample
    per clip and, for every `image_every`-th clip (None: none), one image sample of its first frame."""
    rows: dict[str, list] = {"input_ids": [], "kind": [], "caption": []}
    examples = generate_examples(seed, split, num_clips)
    for start in range(0, num_clips, batch_size):
        batch = [next(examples) for _ in range(min(batch_size, num_clips - start))]
        with torch.no_grad():
            latents = tokenizer.encode(frames_to_tensor(np.stack([example["frames"] for example in batch]))).cpu()
        for offset, (example, grid) in enumerate(zip(batch, latents)):
            samples = [("video", grid)]
            if image_every and (start + offset) % image_every == 0:
                samples.append(("image", grid[:1]))  # the causal tokenizer's first latent frame is frame 0 alone
            for kind, frames in samples:
                sequence = processor.build_training_sequence(example["caption"], frames, fps=FPS)
                rows["input_ids"].append(sequence["input_ids"].tolist())
                rows["kind"].append(kind)
                rows["caption"].append(example["caption"])
        print(f"{start + len(batch)}/{num_clips} clips", flush=True)
    return rows


if __name__ == "__main__":
    main()
