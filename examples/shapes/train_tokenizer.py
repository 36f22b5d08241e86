"""
Train the shapes demo's video tokenizer: a small `CosmosDiscreteVideoTokenizer` (DV4x8x8 architecture, `demo_spec.TOKENIZER_CONFIG`)
on `lumos_hf.data.shapes` clips, resumable from its latest checkpoint.

    python examples/shapes/train_tokenizer.py --output_dir runs/shapes_tokenizer --threads 1
    python examples/shapes/train_tokenizer.py --output_dir runs/wide --config_json '{"channels": 48, "levels": [8, 8, 8, 8]}'
    python examples/shapes/train_tokenizer.py --output_dir runs/decoder --init_from runs/shapes/tokenizer/final \
        --decoder_only --full_clips_from 0

`--init_from` starts from a saved tokenizer; with `--decoder_only` only its decoder trains, so every clip keeps its
tokens and a language model trained on them stays valid. `--token_noise P` (with `--decoder_only`) decodes each token,
with probability P, as an FSQ neighbour (one level off in one channel), so that the decoder learns to draw clean
shapes from the slightly wrong tokens a language model samples.

Every `--eval_every` steps it reports, on held-out clips, the reconstruction PSNR and how often the shapes detector
reads the same colour, shape, motion and background from the reconstruction as from the original (each alone, and
all four: `detector_agreement`). The final model is
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
from lumos_hf.data.shapes import BACKGROUNDS, FRAME_SIZE, NUM_FRAMES, generate_examples
from lumos_hf.data.shapes_detector import ClipAttributes, detect_clip
from lumos_hf.training.video_tokenizer import (
    TokenizerTrainingConfig,
    frames_to_video,
    psnr,
    reconstruct_frames,
    train_video_tokenizer,
)

EVAL_SEED = 10_000  # training uses seed 0; evaluation clips come from another stream of the "all" split
CROP_GRID = 8  # the tokenizer's spatial compression: crops start on its token grid
ATTRIBUTES = ("colour", "shape", "motion", "background")
EDGE_WIDTH = 2  # pixels on either side of a shape's edge weighted by --edge_weight


def evaluation_clips(num_clips: int) -> np.ndarray:
    """[N, 17, 64, 64, 3] uint8 clips never seen in training."""
    return np.stack([example["frames"] for example in generate_examples(EVAL_SEED, "all", num_clips)])


def score_reconstructions(
    model: CosmosDiscreteVideoTokenizer, originals: np.ndarray, truths: list[ClipAttributes]
) -> tuple[dict[str, float], list[ClipAttributes]]:
    """Reconstruct `originals` [N, 17, 64, 64, 3] uint8 (the detector's readings of them: `truths`) and score them:
    mean and min PSNR (dB), per-attribute and all-four agreement of the detector (fractions); also the detector's
    readings of the reconstructions."""
    reconstructions = reconstruct_frames(model, originals)
    readings = [detect_clip(reconstruction) for reconstruction in reconstructions]
    values = psnr(reconstructions, originals)
    metrics = {"psnr_mean": float(values.mean()), "psnr_min": float(values.min())}
    for key in ATTRIBUTES:
        metrics[f"{key}_agreement"] = float(
            np.mean([getattr(r, key) == getattr(t, key) for r, t in zip(readings, truths)])
        )
    metrics["detector_agreement"] = float(np.mean([r.combination == t.combination for r, t in zip(readings, truths)]))
    return metrics, readings


def make_evaluate(num_clips: int):
    """The training run's `evaluate_fn`: `score_reconstructions` metrics on `num_clips` evaluation clips."""
    originals = evaluation_clips(num_clips)
    truths = [detect_clip(clip) for clip in originals]
    return lambda model: score_reconstructions(model, originals, truths)[0]


def batch_arrays(
    seed: int, batch_size: int, step: int, clip_frames: int = NUM_FRAMES, crop_size: int = FRAME_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """
    Frames [B, T, H, W, 3] uint8 of training step `step` and their shape-pixel mask [B, T, H, W] (bool).

    `clip_frames` < 17 takes a window of that many consecutive frames from each clip (a clip of linear motion either
    way; its first frame is encoded as an image, as a clip's first frame is). `crop_size` < 64 crops a square around
    the object, at a multiple of `CROP_GRID` pixels (the tokenizer's token grid) near its centre, moved by up to one
    grid cell at random. Both depend only on (`seed`, `step`), so a resumed run sees the same batches.
    """
    examples = list(generate_examples(seed, "train", batch_size, start=step * batch_size))
    frames = np.stack([example["frames"] for example in examples])
    background = np.stack([BACKGROUNDS[example["background"]] for example in examples])[:, None, None, None]
    foreground = (frames != background).any(-1)
    if clip_frames == NUM_FRAMES and crop_size == FRAME_SIZE:
        return frames, foreground
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, NUM_FRAMES - clip_frames + 1, size=batch_size)
    jitter = rng.integers(-1, 2, size=(batch_size, 2))
    windows = [np.s_[start : start + clip_frames] for start in starts]
    crops = []
    for mask, window, shift in zip(foreground, windows, jitter):
        ys, xs = np.nonzero(mask[window].any(0))
        corner = (np.array([ys.mean(), xs.mean()]) - crop_size / 2) / CROP_GRID
        crops.append(np.clip(CROP_GRID * (np.round(corner).astype(int) + shift), 0, FRAME_SIZE - crop_size))
    index = [
        (b, window, np.s_[y : y + crop_size], np.s_[x : x + crop_size])
        for b, (window, (y, x)) in enumerate(zip(windows, crops))
    ]
    return np.stack([frames[i] for i in index]), np.stack([foreground[i] for i in index])


def curriculum_batch(
    seed: int, batch_size: int, clip_frames: int, crop_size: int, full_clips_from: int | None, step: int
) -> tuple[np.ndarray, np.ndarray]:
    """`batch_arrays` of `step`: windows and crops before step `full_clips_from` (always when None), whole clips
    from it on."""
    if full_clips_from is not None and step >= full_clips_from:
        return batch_arrays(seed, batch_size, step)
    return batch_arrays(seed, batch_size, step, clip_frames, crop_size)


def edge_band(foreground: torch.Tensor, width: int = EDGE_WIDTH) -> torch.Tensor:
    """[..., H, W] bool shape mask -> [..., H, W] bool: pixels within `width` pixels of the shape's edge, inside or
    outside it (where a blurred reconstruction errs)."""
    planes = foreground.float().reshape(-1, 1, *foreground.shape[-2:])
    dilated = torch.nn.functional.max_pool2d(planes, 2 * width + 1, 1, width)
    eroded = -torch.nn.functional.max_pool2d(-planes, 2 * width + 1, 1, width)
    return (dilated > eroded).reshape(foreground.shape)


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
    parser.add_argument(
        "--edge_weight", type=float, default=0.0, help=f"extra loss weight of pixels within {EDGE_WIDTH} px of an edge"
    )
    parser.add_argument(
        "--clip_frames", type=int, default=NUM_FRAMES, help="train on windows of this many frames (1 + 4k, <= 17)"
    )
    parser.add_argument(
        "--crop_size",
        type=int,
        default=FRAME_SIZE,
        help=f"train on square crops around the object (multiple of {CROP_GRID})",
    )
    parser.add_argument(
        "--full_clips_from",
        type=int,
        default=None,
        help="from this step on, train on whole clips again (a short last phase after windows or crops)",
    )
    parser.add_argument(
        "--mse_weight", type=float, default=1.0, help="weight of the MSE term beside L1 (weight 1); 0: L1 alone"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--config_json",
        type=json_object,
        default={},
        help='JSON object of `TOKENIZER_CONFIG` fields to change, e.g. \'{"channels": 48, "levels": [8, 8, 8, 8]}\'',
    )
    parser.add_argument("--init_from", type=Path, default=None, help="a saved tokenizer folder to start from")
    parser.add_argument(
        "--decoder_only",
        action="store_true",
        help="train only the decoder (needs --init_from): the tokens of every clip stay as they are",
    )
    parser.add_argument(
        "--token_noise",
        type=float,
        default=0.0,
        help="with --decoder_only: probability that a token moves to an FSQ neighbour before decoding, in [0, 1)",
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
    if not (1 <= args.clip_frames <= NUM_FRAMES and (args.clip_frames - 1) % 4 == 0):
        parser.error(f"--clip_frames must be 1 + 4k in [1, {NUM_FRAMES}], got {args.clip_frames}")
    if not (CROP_GRID <= args.crop_size <= FRAME_SIZE and args.crop_size % CROP_GRID == 0):
        parser.error(
            f"--crop_size must be a multiple of {CROP_GRID} in [{CROP_GRID}, {FRAME_SIZE}], got {args.crop_size}"
        )
    if min(args.foreground_weight, args.edge_weight, args.mse_weight) < 0:
        parser.error(
            "--foreground_weight, --edge_weight and --mse_weight must be >= 0, got "
            f"{args.foreground_weight}, {args.edge_weight}, {args.mse_weight}"
        )
    if args.decoder_only and args.init_from is None:
        parser.error("--decoder_only needs --init_from (a trained tokenizer whose decoder to fine-tune)")
    if not 0 <= args.token_noise < 1 or (args.token_noise and not args.decoder_only):
        parser.error(f"--token_noise must lie in [0, 1) and needs --decoder_only, got {args.token_noise}")
    if args.init_from is not None:
        if args.config_json:
            parser.error("--config_json cannot change the architecture of an --init_from tokenizer")
        if not (args.init_from / "config.json").is_file():
            parser.error(f"--init_from: {args.init_from} is not a saved tokenizer folder (no config.json)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    render = partial(
        curriculum_batch, args.seed, args.batch_size, args.clip_frames, args.crop_size, args.full_clips_from
    )
    if args.workers:
        render = PrefetchedBatches(render, args.workers, ahead=4 * args.workers, limit=args.max_steps)
    torch.manual_seed(args.seed)
    if args.init_from is not None:
        model = CosmosDiscreteVideoTokenizer.from_pretrained(args.init_from).to(args.device)
    else:
        model = CosmosDiscreteVideoTokenizer(**{**TOKENIZER_CONFIG, **args.config_json}).to(args.device)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        frames, foreground = render(step)
        # The shape covers 3-10 % of a frame: weight its pixels up so that it is not ignored while the plain
        # background is learnt, and its edges (either side) so that blurring them costs more than growing the shape.
        foreground = torch.from_numpy(foreground)
        weights = 1 + args.foreground_weight * foreground.float() + args.edge_weight * edge_band(foreground).float()
        weights = weights[:, None]
        return frames_to_video(frames).to(args.device), weights  # the video once: reconstruction and loss share it

    config = TokenizerTrainingConfig(
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        warmup_steps=100,
        checkpoint_every=args.eval_every,
        eval_every=args.eval_every,
        log_every=25,
        mse_weight=args.mse_weight,
        decoder_only=args.decoder_only,
        token_noise=args.token_noise,
    )
    try:
        train_video_tokenizer(model, batch, config, args.output_dir, evaluate_fn=make_evaluate(args.eval_clips))
    finally:
        if isinstance(render, PrefetchedBatches):
            render.close()
    model.save_pretrained(args.output_dir / "final")


if __name__ == "__main__":
    main()
