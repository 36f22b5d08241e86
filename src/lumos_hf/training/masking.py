"""AR-DF masking (LUMOS_SPEC 5): mask-ratio schedule, tube / random / diffusion-forcing masks, one-sequence masking.

A sequence's visual content tokens (video and new-line tokens of its frames, from `compute_mm_rope_layout`) are
arranged as a `[F, N]` grid: F frames of N content tokens each. The mask generators return a `[F, N]` boolean grid
(True = masked); `apply_ardf_mask` draws one, replaces the masked inputs by the MASK id and builds the labels.

Masking modes:

- `"tube"` (default, the official AR-DF): one ratio r per sample, `round(N * r)` (at least 1) positions chosen by
  one random permutation, masked at the same positions in every frame.
- `"random"`: one ratio r per sample, every content token of the video masked independently with probability r
  (a sample may rarely end up with nothing masked: probability `(1 - r) ** (F * N)`).
- `"diffusion_forcing"`: an independent ratio per frame (drawn from the same schedule) and independent positions
  per frame: frame f masks `round(N * r_f)` (at least 1) positions of its own random permutation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import torch

from ..scheduling_ardf import cosine_schedule
from ..sequence_format import IGNORE_INDEX, compute_mm_rope_layout, count_frames
from ..tokens import OFFICIAL_TOKEN_LAYOUT, TokenLayout

MaskingMode = Literal["tube", "random", "diffusion_forcing"]
MASKING_MODES: tuple[str, ...] = get_args(MaskingMode)
MaskRatioSchedule = Callable[[torch.Tensor], torch.Tensor]


def sample_mask_ratios(
    num: int,
    generator: torch.Generator | None = None,
    schedule: MaskRatioSchedule = cosine_schedule,
    min_masking_rate: float = 0.7,
) -> torch.Tensor:
    """Draw `num` mask ratios `max(schedule(u), min_masking_rate)` with `u ~ U(0, 1)`; returns `[num]` float32."""
    _check_unit_interval("min_masking_rate", min_masking_rate)
    u = torch.rand(num, generator=generator)
    ratios = schedule(u)
    if not isinstance(ratios, torch.Tensor) or ratios.shape != u.shape:
        raise TypeError(
            f"the mask-ratio schedule must map a tensor of shape {tuple(u.shape)} to one of the same shape"
        )
    if ((ratios < 0) | (ratios > 1) | ratios.isnan()).any():
        raise ValueError("the mask-ratio schedule must map [0, 1) into [0, 1]")
    return ratios.float().clamp_min(min_masking_rate)


def tube_mask(
    num_frames: int, frame_size: int, mask_ratio: float, generator: torch.Generator | None = None
) -> torch.BoolTensor:
    """Temporal tube mask `[num_frames, frame_size]`: the same `max(round(frame_size * mask_ratio), 1)` positions,
    from one random permutation, masked in every frame."""
    _check_grid(num_frames, frame_size)
    _check_unit_interval("mask_ratio", mask_ratio)
    permutation = torch.randperm(frame_size, generator=generator)[None]  # [1, N]
    return _mask_first(permutation, torch.tensor([mask_ratio])).repeat(num_frames, 1)


def random_mask(
    num_frames: int, frame_size: int, mask_ratio: float, generator: torch.Generator | None = None
) -> torch.BoolTensor:
    """Independent Bernoulli(`mask_ratio`) mask `[num_frames, frame_size]` over all content tokens of the video."""
    _check_grid(num_frames, frame_size)
    _check_unit_interval("mask_ratio", mask_ratio)
    return torch.rand(num_frames, frame_size, generator=generator) < mask_ratio


def diffusion_forcing_mask(
    ratios: torch.Tensor, frame_size: int, generator: torch.Generator | None = None
) -> torch.BoolTensor:
    """Diffusion-forcing mask `[F, frame_size]` for per-frame ratios `[F]`: frame f masks
    `max(round(frame_size * ratios[f]), 1)` positions of its own random permutation."""
    if ratios.dim() != 1 or ((ratios < 0) | (ratios > 1)).any():
        raise ValueError("ratios must be a 1D tensor of per-frame mask ratios in [0, 1]")
    _check_grid(ratios.shape[0], frame_size)
    permutations = torch.rand(ratios.shape[0], frame_size, generator=generator).argsort(-1)  # [F, N]
    return _mask_first(permutations, ratios)


def frame_content_positions(
    input_ids: torch.LongTensor, token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT
) -> torch.LongTensor:
    """Sequence indices `[F, N]` of the visual content tokens of each frame of one sequence `[L]`.

    Raises `ValueError` when the sequence has no frame, an unfinished frame, or frames of different sizes.
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 1 or input_ids.dtype != torch.long:
        raise TypeError("input_ids must be a 1D torch.long tensor [L] (one sequence)")
    layout = compute_mm_rope_layout(input_ids[None], token_layout=token_layout)
    positions = layout.visual_mask[0].nonzero().squeeze(-1)  # [F * N], in sequence order
    if positions.numel() == 0:
        raise ValueError("input_ids holds no frame: an AR-DF training sample needs at least one frame")
    if count_frames(input_ids, token_layout) != int((input_ids == token_layout.frame_end_token_id).sum()):
        start = token_layout.frame_start_token_id
        raise ValueError(f"input_ids ends inside a frame: every frame start ({start}) needs its end")
    counts = torch.bincount(layout.frame_ids[0, positions])
    if (counts != counts[0]).any():
        raise ValueError(f"all frames of a sample must have the same size, got {counts.tolist()} content tokens")
    return positions.view(counts.shape[0], int(counts[0]))


def apply_ardf_mask(
    input_ids: torch.LongTensor,
    masking_mode: MaskingMode = "tube",
    mask_ratio: float | None = None,
    generator: torch.Generator | None = None,
    schedule: MaskRatioSchedule = cosine_schedule,
    min_masking_rate: float = 0.7,
    token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT,
) -> tuple[torch.LongTensor, torch.LongTensor]:
    """Mask one token sequence for AR-DF training.

    Args:
        input_ids: `[L]` token ids of one sequence with at least one frame (all frames of the same size).
        masking_mode: `"tube"`, `"random"` or `"diffusion_forcing"` (see the module docstring).
        mask_ratio: fixed ratio in `[0, 1]` (every frame in `"diffusion_forcing"`); None draws it from `schedule`.
        generator: random source (None: torch's global RNG).
        schedule: maps `u ~ U(0, 1)` to a ratio, clipped below at `min_masking_rate`.
        token_layout: the ids of frames, MASK (replaces masked inputs) and video tokens.

    Returns:
        `(masked_input_ids [L], labels [L])`: masked content tokens (video and new-line) become `mask_token_id`;
        labels hold the original id at masked video tokens (`>= video_token_offset`) and -100 everywhere else.
    """
    if masking_mode not in MASKING_MODES:
        raise ValueError(f"masking_mode must be one of {MASKING_MODES}, got {masking_mode!r}")
    if mask_ratio is not None:
        _check_unit_interval("mask_ratio", mask_ratio)
    positions = frame_content_positions(input_ids, token_layout)
    num_frames, frame_size = positions.shape
    if masking_mode == "diffusion_forcing":
        if mask_ratio is None:
            ratios = sample_mask_ratios(num_frames, generator, schedule, min_masking_rate)
        else:
            ratios = torch.full((num_frames,), float(mask_ratio))
        grid = diffusion_forcing_mask(ratios, frame_size, generator)
    else:
        if mask_ratio is None:
            mask_ratio = float(sample_mask_ratios(1, generator, schedule, min_masking_rate))
        make_mask = tube_mask if masking_mode == "tube" else random_mask
        grid = make_mask(num_frames, frame_size, mask_ratio, generator)
    masked = torch.zeros_like(input_ids, dtype=torch.bool)
    masked[positions[grid]] = True
    labels = torch.where(masked & (input_ids >= token_layout.video_token_offset), input_ids, IGNORE_INDEX)
    return input_ids.masked_fill(masked, token_layout.mask_token_id), labels


def _mask_first(permutations: torch.LongTensor, ratios: torch.Tensor) -> torch.BoolTensor:
    """Mask `[P, N]`: row p masks the first `max(round(N * ratios[p]), 1)` entries of `permutations[p]`."""
    frame_size = permutations.shape[1]
    counts = (frame_size * ratios.double()).round().long().clamp(1, frame_size)  # [P]
    ordered = torch.arange(frame_size) < counts[:, None]  # [P, N], in permutation order
    return torch.zeros_like(ordered).scatter_(1, permutations, ordered)


def _check_grid(num_frames: int, frame_size: int) -> None:
    if num_frames < 1 or frame_size < 1:
        raise ValueError(f"num_frames and frame_size must be >= 1, got {num_frames} and {frame_size}")


def _check_unit_interval(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
