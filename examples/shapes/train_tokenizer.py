"""
Train the shapes demo's video tokenizer: a small `CosmosDiscreteVideoTokenizer` (DV4x8x8 architecture, `demo_spec.TOKENIZER_CONFIG`)
on `lumos_hf.data.shapes` clips, resumable from its latest checkpoint.

    python examples/shapes/train_tokenizer.py --output_dir runs/shapes_tokenizer --threads 1
    python examples/shapes/train_tokenizer.py --output_dir runs/wide --config_json '{"channels": 48, "levels": [8, 8, 8, 8]}'

Every `--eval_every` steps it reports, on held-out clips, the reconstruction PSNR and how often the shapes detector
reads the same colour, shape, motion and background from the reconstruction as from the original. The final model is
saved to `OUTPUT_DIR/final` (diffusers `save_pretrained` format).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch
from demo_spec import TOKENIZER_CONFIG

from lumos_hf import CosmosDiscreteVideoTokenizer
from lumos_hf.data.shapes import BACKGROUNDS, generate_examples
from lumos_hf.data.shapes_detector import detect_clip
from lumos_hf.training.video_tokenizer import (
    TokenizerTrainingConfig,
    frames_to_video,
    psnr,
    reconstruct_frames,
    train_video_tokenizer,
)

EVAL_SEED = 10_000  # training uses seed 0; evaluation clips come from another stream of the "all" split


def evaluation_clips(num_clips: int) -> np.ndarray:
    """[N, 17, 64, 64, 3] uint8 clips never seen in training."""
    return np.stack([example["frames"] for example in generate_examples(EVAL_SEED, "all", num_clips)])


def make_evaluate(num_clips: int):
    originals = evaluation_clips(num_clips)
    readings = [detect_clip(clip) for clip in originals]

    def evaluate(model: CosmosDiscreteVideoTokenizer) -> dict[str, float]:
        reconstructions = reconstruct_frames(model, originals)
        agree = [
            all(
                getattr(detect_clip(rec), key) == getattr(ref, key)
                for key in ("colour", "shape", "motion", "background")
            )
            for rec, ref in zip(reconstructions, readings)
        ]
        values = psnr(reconstructions, originals)
        return {
            "psnr_mean": float(values.mean()),
            "psnr_min": float(values.min()),
            "detector_agreement": float(np.mean(agree)),
        }

    return evaluate


def batch_arrays(seed: int, batch_size: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames [B, T, H, W, 3] uint8 of training step `step` and their shape-pixel mask [B, T, H, W] (bool)."""
    examples = list(generate_examples(seed, "train", batch_size, start=step * batch_size))
    frames = np.stack([example["frames"] for example in examples])
    background = np.stack([BACKGROUNDS[example["background"]] for example in examples])[:, None, None, None]
    return frames, (frames != background).any(-1)


class PrefetchedBatches:
    """`step -> batch_arrays(step)` for steps below `limit`, rendered `ahead` steps in advance by worker processes
    (the clips depend only on the step, so the batches equal those rendered in the training process). The workers
    are forked at the first call and never touch CUDA."""

    def __init__(self, render, workers: int, ahead: int, limit: int) -> None:
        self.render, self.ahead, self.limit = render, ahead, limit
        self.pool = ProcessPoolExecutor(workers)
        self.pending: dict[int, Future] = {}

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        for stale in [s for s in self.pending if not step <= s < step + self.ahead]:
            self.pending.pop(stale).cancel()
        for upcoming in range(step, min(step + self.ahead, self.limit)):
            if upcoming not in self.pending:
                self.pending[upcoming] = self.pool.submit(self.render, upcoming)
        return self.pending.pop(step).result() if step in self.pending else self.render(step)

    def close(self) -> None:
        """Stop the workers, dropping the batches not yet rendered."""
        self.pool.shutdown(cancel_futures=True)
        self.pending.clear()


def json_object(text: str) -> dict:
    """`--config_json` values: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"a JSON object is needed, got {type(value).__name__}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--max_steps", type=int, default=4000)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--eval_every", type=int, default=250)
    parser.add_argument("--eval_clips", type=int, default=64)
    parser.add_argument("--foreground_weight", type=float, default=9.0, help="extra loss weight of shape pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--config_json",
        type=json_object,
        default={},
        help='JSON object of `TOKENIZER_CONFIG` fields to change, e.g. \'{"channels": 48, "levels": [8, 8, 8, 8]}\'',
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes rendering batches ahead (0: none; the logged CPU seconds count the training process only)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.config_json) - set(TOKENIZER_CONFIG))
    if unknown:
        parser.error(f"--config_json: unknown fields {unknown}; choose from {sorted(TOKENIZER_CONFIG)}")
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    render = partial(batch_arrays, args.seed, args.batch_size)
    if args.workers:
        render = PrefetchedBatches(render, args.workers, ahead=4 * args.workers, limit=args.max_steps)
    torch.manual_seed(args.seed)
    model = CosmosDiscreteVideoTokenizer(**{**TOKENIZER_CONFIG, **args.config_json}).to(args.device)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        frames, foreground = render(step)
        # The shape covers 3-10 % of a frame: weight its pixels up so that it is not ignored while the plain
        # background is learnt.
        weights = 1 + args.foreground_weight * torch.from_numpy(foreground).float()[:, None]
        return frames_to_video(frames).to(args.device), weights  # the video once: reconstruction and loss share it

    config = TokenizerTrainingConfig(
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        warmup_steps=100,
        checkpoint_every=args.eval_every,
        eval_every=args.eval_every,
        log_every=25,
    )
    try:
        train_video_tokenizer(model, batch, config, args.output_dir, evaluate_fn=make_evaluate(args.eval_clips))
    finally:
        if isinstance(render, PrefetchedBatches):
            render.close()
    model.save_pretrained(args.output_dir / "final")


if __name__ == "__main__":
    main()
