"""
Score a trained shapes video tokenizer on held-out clips: reconstruction PSNR, how often the shapes detector reads the
same colour, shape, motion and background from the reconstruction as from the original, and which shape it reads
instead when it does not.

    python examples/shapes/evaluate_tokenizer.py runs/shapes/tokenizer/final --clips 256 --threads 2

The clips are those of `train_tokenizer.py`'s evaluation (a stream it never trains on); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch
from train_tokenizer import evaluation_clips, score_reconstructions

from lumos_hf import CosmosDiscreteVideoTokenizer
from lumos_hf.data.shapes_detector import detect_clip


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def evaluate(model: CosmosDiscreteVideoTokenizer, num_clips: int) -> dict:
    """`train_tokenizer.score_reconstructions` metrics over `num_clips` held-out clips, and the shape confusion counts
    `{"true -> read": count}`."""
    originals = evaluation_clips(num_clips)
    truths = [detect_clip(clip) for clip in originals]
    with torch.no_grad():
        metrics, readings = score_reconstructions(model, originals, truths)
    confusion = Counter(f"{t.shape} -> {r.shape}" for r, t in zip(readings, truths))
    return {"clips": num_clips, **metrics, "shape_confusion": dict(sorted(confusion.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizer", type=Path, help="a saved CosmosDiscreteVideoTokenizer folder")
    parser.add_argument("--clips", type=positive_int, default=256, help="held-out clips to score (>= 1)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if not (args.tokenizer / "config.json").is_file():
        parser.error(f"tokenizer: {args.tokenizer} is not a saved tokenizer folder (no config.json)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = CosmosDiscreteVideoTokenizer.from_pretrained(args.tokenizer).eval()
    print(json.dumps(evaluate(model, args.clips), indent=1))


if __name__ == "__main__":
    main()
