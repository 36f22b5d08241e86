"""
Training of [`CosmosDiscreteVideoTokenizer`]: a differentiable (straight-through) reconstruction, the L1 + MSE loss,
a resumable AdamW loop with safe checkpoints, and PSNR evaluation.

Checkpoints are `OUTPUT_DIR/checkpoint-{step:07d}/`: the model in `save_pretrained` format (config + safetensors) and
`training_state.pt`, a dict of tensors and plain values (optimizer, scheduler, step, RNG, CPU time) read back with
`torch.load(weights_only=True)`, so resuming never unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..video_tokenizer import CosmosDiscreteVideoTokenizer, FSQuantizer

CHECKPOINT_PREFIX = "checkpoint-"
TRAINING_STATE = "training_state.pt"
METRICS_FILE = "metrics.jsonl"
LR_SCHEDULES = ("cosine", "constant")


def reconstruct(
    model: CosmosDiscreteVideoTokenizer,
    video: torch.Tensor,
    decoder_only: bool = False,
    token_noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Encodes and decodes `video` with gradients flowing to the encoder through the FSQ straight-through estimator.

    Args:
        model: the tokenizer.
        video: [B, C, T, H, W] float in [-1, 1], T = 1 + 4k.
        decoder_only: encode without gradients (only `post_quant_conv` and `decoder` get them).
        token_noise: with `decoder_only`, decode [`perturb_indices`]`(indices, token_noise)` instead of the video's
            own indices, so the decoder learns to draw clean videos from slightly wrong tokens (as a language model
            samples them).
        generator: the random source of `token_noise`.

    Returns:
        `(reconstruction, indices)`: the raw (unclamped) reconstruction [B, C, T, H, W] and the indices
        [B, T', H', W'], identical to `model.encode(video)` (before any noise).
    """
    model._check_video(video)
    if token_noise and not decoder_only:
        raise ValueError("`token_noise` needs `decoder_only=True` (noisy indices carry no gradient to the encoder).")
    with torch.set_grad_enabled(torch.is_grad_enabled() and not decoder_only):
        codes, indices = model.quantizer.quantize(model._encode_latents(video.to(model.device, model.dtype)))
    if token_noise:
        codes = model.quantizer.indices_to_codes(perturb_indices(model.quantizer, indices, token_noise, generator))
    return model._decode_codes(codes), indices


def perturb_indices(
    quantizer: FSQuantizer, indices: torch.Tensor, probability: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """
    FSQ neighbour noise: each of `indices` (any shape, int64) moves, with `probability`, one level up or down along
    one random channel of its code (reflected at the ends of that channel's range), so it stays a valid index whose
    code differs from the original in one channel by one step.
    """
    if not 0 <= probability <= 1:
        raise ValueError(f"`probability` must lie in [0, 1], got {probability}.")
    device = indices.device
    draw = {"generator": generator, "device": generator.device if generator is not None else device}
    digits = quantizer.indices_to_digits(indices)  # [..., d]
    hit = torch.rand(indices.shape, **draw) < probability
    channel = torch.randint(0, quantizer.dim, indices.shape, **draw)
    sign = torch.randint(0, 2, indices.shape, **draw) * 2 - 1
    step = torch.nn.functional.one_hot(channel, quantizer.dim) * (sign * hit).unsqueeze(-1)  # [..., d]
    step = step.to(device)
    moved = digits + step
    moved = torch.where((moved < 0) | (moved >= quantizer.levels), digits - step, moved)
    return quantizer.digits_to_indices(moved)


def decoder_parameters(model: CosmosDiscreteVideoTokenizer) -> list[torch.nn.Parameter]:
    """The parameters that map codes to pixels (`post_quant_conv`, `decoder`): all a decoder-only fine-tune trains."""
    return [*model.post_quant_conv.parameters(), *model.decoder.parameters()]


def reconstruction_loss(
    reconstruction: torch.Tensor,
    target: torch.Tensor,
    l1_weight: float = 1.0,
    mse_weight: float = 1.0,
    pixel_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """
    `l1_weight * L1 + mse_weight * MSE` between two [B, C, T, H, W] videos in [-1, 1]; also returns both (unweighted)
    terms. `pixel_weights` (broadcastable to the videos, >= 0) weights the per-pixel errors of the loss, e.g. to
    stop small objects on large plain backgrounds from being ignored early in training.
    """
    if reconstruction.shape != target.shape:
        raise ValueError(
            f"`reconstruction` {tuple(reconstruction.shape)} and `target` {tuple(target.shape)} must have one shape."
        )
    if l1_weight < 0 or mse_weight < 0 or l1_weight + mse_weight == 0:
        raise ValueError(f"`l1_weight` and `mse_weight` must be >= 0, not both 0; got {l1_weight}, {mse_weight}.")
    error = reconstruction.float() - target.float()
    l1, mse = error.abs(), error.square()
    terms = {"l1": l1.mean().item(), "mse": mse.mean().item()}
    if pixel_weights is not None:
        weights = pixel_weights.to(error.device, torch.float32).expand_as(error)
        l1, mse = l1 * weights / weights.mean(), mse * weights / weights.mean()
    return l1_weight * l1.mean() + mse_weight * mse.mean(), terms


def frames_to_video(frames: np.ndarray) -> torch.Tensor:
    """[B, T, H, W, C] uint8 frames -> [B, C, T, H, W] float32 in [-1, 1]."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 5:
        raise TypeError(
            f"`frames` must be a uint8 numpy array [B, T, H, W, C], got {getattr(frames, 'dtype', frames)}."
        )
    return torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def video_to_frames(video: torch.Tensor) -> np.ndarray:
    """[B, C, T, H, W] float in [-1, 1] -> [B, T, H, W, C] uint8 (clamped and rounded)."""
    pixels = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 4, 1).cpu().numpy()


@torch.no_grad()
def reconstruct_frames(model: CosmosDiscreteVideoTokenizer, frames: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """[N, T, H, W, 3] uint8 -> [N, T, H, W, 3] uint8 reconstructions through the inference path (`encode`/`decode`)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1, got {batch_size!r}.")
    outputs = []
    for start in range(0, len(frames), batch_size):
        video = frames_to_video(frames[start : start + batch_size]).to(model.device, model.dtype)
        outputs.append(video_to_frames(model.decode(model.encode(video))))
    return np.concatenate(outputs)


def psnr(reconstructions: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """Per-clip PSNR in dB (peak 255) of [N, ...] uint8 arrays; [N] float64 (inf where identical)."""
    if reconstructions.shape != originals.shape:
        raise ValueError(f"shapes differ: {reconstructions.shape} vs {originals.shape}.")
    error = reconstructions.astype(np.float64) - originals.astype(np.float64)
    mse = (error**2).reshape(len(error), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / mse)


@dataclass
class TokenizerTrainingConfig:
    """
    Optimisation and bookkeeping of [`train_video_tokenizer`].

    Args:
        max_steps: total optimiser steps (>= 1).
        learning_rate: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps from 0 to `learning_rate`.
        lr_schedule: "cosine" (down to `min_lr_ratio * learning_rate` at `max_steps`) or "constant".
        min_lr_ratio: final learning rate of the cosine schedule, relative to the peak, in [0, 1].
        max_grad_norm: gradient clipping norm (> 0).
        l1_weight, mse_weight: loss weights.
        checkpoint_every: steps between checkpoints (and at the last step).
        eval_every: steps between evaluations (and at the last step); 0 disables them.
        log_every: steps between records in `metrics.jsonl`.
        keep_checkpoints: how many of the latest checkpoints to keep (>= 1).
        decoder_only: train only [`decoder_parameters`]; the encoder, hence every video's tokens, stays as it is (a
            fine-tune of the decoder that keeps a language model trained on those tokens valid).
        token_noise: with `decoder_only`, the probability that a token is moved to an FSQ neighbour before decoding
            ([`perturb_indices`]; drawn from a generator seeded by the step, so a resumed run sees the same noise);
            0 decodes the tokens as they are.
    """

    max_steps: int
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    lr_schedule: str = "cosine"
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0
    l1_weight: float = 1.0
    mse_weight: float = 1.0
    checkpoint_every: int = 500
    eval_every: int = 500
    log_every: int = 10
    keep_checkpoints: int = 2
    decoder_only: bool = False
    token_noise: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_steps", "checkpoint_every", "log_every", "keep_checkpoints"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {getattr(self, name)!r}.")
        for name in ("warmup_steps", "eval_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be an integer >= 0, got {getattr(self, name)!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}.")
        if not self.learning_rate > 0 or not self.max_grad_norm > 0:
            raise ValueError(
                f"`learning_rate` and `max_grad_norm` must be > 0, got {self.learning_rate}, {self.max_grad_norm}."
            )
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"`min_lr_ratio` must lie in [0, 1], got {self.min_lr_ratio}.")
        if not isinstance(self.decoder_only, bool):
            raise TypeError(f"`decoder_only` must be a bool, got {type(self.decoder_only).__name__}.")
        if not 0 <= self.token_noise < 1:
            raise ValueError(f"`token_noise` must lie in [0, 1), got {self.token_noise!r}.")
        if self.token_noise and not self.decoder_only:
            raise ValueError("`token_noise` needs `decoder_only=True`.")

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier for the optimiser step with 0-based index `step`."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.lr_schedule == "constant":
            return 1.0
        progress = (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine


def _split_batch(batch: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, tuple) and len(batch) == 2:
        return batch
    raise TypeError(f"`batch_fn` must return a video tensor or a (video, pixel_weights) tuple, got {type(batch)}.")


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The complete checkpoint with the highest step in `output_dir`, or None."""
    paths = sorted(Path(output_dir).glob(f"{CHECKPOINT_PREFIX}[0-9]*"))
    complete = [path for path in paths if path.is_dir() and (path / TRAINING_STATE).is_file()]
    return complete[-1] if complete else None


def _save_checkpoint(
    output_dir: Path,
    model: CosmosDiscreteVideoTokenizer,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    step: int,
    cpu_seconds: float,
    config: TokenizerTrainingConfig,
) -> Path:
    final = output_dir / f"{CHECKPOINT_PREFIX}{step:07d}"
    staging = output_dir / f"{final.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    state = {
        "step": step,
        "cpu_seconds": cpu_seconds,
        "decoder_only": config.decoder_only,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng_state": torch.get_rng_state(),
    }
    torch.save(state, staging / TRAINING_STATE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    checkpoints = sorted(output_dir.glob(f"{CHECKPOINT_PREFIX}[0-9]*[0-9]"))
    for old in checkpoints[: -config.keep_checkpoints]:
        shutil.rmtree(old)
    return final


def _load_checkpoint(
    path: Path,
    model: CosmosDiscreteVideoTokenizer,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    decoder_only: bool,
) -> tuple[int, float]:
    """Restores model, optimizer, scheduler and RNG from `path`; returns (step, cpu_seconds)."""
    saved_config = json.loads((path / "config.json").read_text())
    mismatched = {
        k: (v, saved_config.get(k))
        for k, v in model.config.items()
        if not k.startswith("_") and json.loads(json.dumps(v)) != saved_config.get(k)  # "_": diffusers' bookkeeping
    }
    if mismatched:
        raise ValueError(f"The checkpoint {path} has another model config; (requested, saved): {mismatched}.")
    state = torch.load(path / TRAINING_STATE, weights_only=True)
    if state.get("decoder_only", False) != decoder_only:
        raise ValueError(
            f"The checkpoint {path} was saved with `decoder_only={state.get('decoder_only', False)}`; resume it with "
            "the same setting, or train in another `output_dir`."
        )
    model.load_state_dict(load_file(path / "diffusion_pytorch_model.safetensors", device=str(model.device)))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng_state"])
    return int(state["step"]), float(state["cpu_seconds"])


def _append_records(path: Path, records: list[dict], keep_until: int | None = None) -> None:
    """Appends `records` to the JSON-lines file `path`, first dropping lines with step > `keep_until` when given."""
    lines = path.read_text().splitlines() if path.exists() else []
    if keep_until is not None:
        lines = [line for line in lines if json.loads(line)["step"] <= keep_until]
    lines += [json.dumps(record) for record in records]
    path.write_text("".join(f"{line}\n" for line in lines))


def train_video_tokenizer(
    model: CosmosDiscreteVideoTokenizer,
    batch_fn: Callable[[int], torch.Tensor],
    config: TokenizerTrainingConfig,
    output_dir: str | os.PathLike,
    evaluate_fn: Callable[[CosmosDiscreteVideoTokenizer], dict[str, float]] | None = None,
    log_fn: Callable[[str], None] = print,
) -> list[dict]:
    """
    Trains `model` to reconstruct the videos of `batch_fn`, resuming from the latest checkpoint in `output_dir`.

    Args:
        model: the tokenizer to train (in place).
        batch_fn: step -> [B, C, T, H, W] float video in [-1, 1], or `(video, pixel_weights)` (see
            [`reconstruction_loss`]). It must depend only on the step, so that a resumed run sees the same data as an
            uninterrupted one.
        config: optimisation and bookkeeping settings.
        output_dir: checkpoints and `metrics.jsonl` (one JSON record per logged step or evaluation).
        evaluate_fn: model -> metrics, called every `config.eval_every` steps and at the end (model in eval mode,
            no grad).
        log_fn: receives one human-readable line per record.

    Returns:
        The records written during this call: `{"step", "loss", "l1", "mse", "lr", "grad_norm", "cpu_seconds"}` per
        logged step and `{"step", "eval": {...}}` per evaluation.
    """
    if not isinstance(model, CosmosDiscreteVideoTokenizer):
        raise TypeError(f"`model` must be a CosmosDiscreteVideoTokenizer, got {type(model).__name__}.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = decoder_parameters(model) if config.decoder_only else list(model.parameters())
    optimizer = torch.optim.AdamW(
        parameters, lr=config.learning_rate, betas=(0.9, 0.99), weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda index: config.lr_factor(index))
    step, cpu_seconds = 0, 0.0
    checkpoint = latest_checkpoint(output_dir)
    if checkpoint is not None:
        step, cpu_seconds = _load_checkpoint(checkpoint, model, optimizer, scheduler, config.decoder_only)
        # The saved learning rate follows the saved run's schedule; a longer `max_steps` changes it from here on.
        for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base_lr * config.lr_factor(step)
        log_fn(f"resumed from {checkpoint} at step {step} ({cpu_seconds:.0f} CPU s so far)")
    _append_records(output_dir / METRICS_FILE, [], keep_until=step)

    records: list[dict] = []
    pending: list[dict] = []
    clock = time.process_time()
    while step < config.max_steps:
        model.train()
        video, pixel_weights = _split_batch(batch_fn(step))
        noise = torch.Generator().manual_seed(step) if config.token_noise else None
        reconstruction, _ = reconstruct(model, video, config.decoder_only, config.token_noise, noise)
        loss, terms = reconstruction_loss(
            reconstruction, video.to(reconstruction.device), config.l1_weight, config.mse_weight, pixel_weights
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
        lr = optimizer.param_groups[0]["lr"]  # the rate this step uses
        optimizer.step()
        scheduler.step()
        step += 1
        now = time.process_time()
        cpu_seconds, clock = cpu_seconds + now - clock, now

        last = step == config.max_steps
        if step % config.log_every == 0 or last:
            record = {"step": step, "loss": loss.item(), **terms, "lr": lr, "grad_norm": grad_norm.item()}
            pending.append({**record, "cpu_seconds": round(cpu_seconds, 1)})
            log_fn(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in pending[-1].items()))
        if evaluate_fn is not None and config.eval_every and (step % config.eval_every == 0 or last):
            model.eval()
            with torch.no_grad():
                metrics = evaluate_fn(model)
            pending.append({"step": step, "eval": metrics})
            log_fn(f"step={step} eval " + json.dumps(metrics))
        if step % config.checkpoint_every == 0 or last:
            _append_records(output_dir / METRICS_FILE, pending)
            records, pending = records + pending, []
            path = _save_checkpoint(output_dir, model, optimizer, scheduler, step, cpu_seconds, config)
            log_fn(f"saved {path}")
    model.eval()
    return records + pending
