"""ARDFScheduler: one frame of masked discrete diffusion, the inner loop of Lumos-1's AR-DF sampling (LUMOS_SPEC 7),
and the sampling helpers around it (history masks, guidance, per-generator random draws, mask-ratio schedules).

MaskGIT-style parallel decoding over the video tokens of one latent frame. Each step samples every masked token
from the (guided) video logits, keeps the revealed ones, and re-masks the `m` least confident sampled tokens,
`m = floor(N_f * r((n + 1) / N))` clamped to `[1, #masked - 1]`, with a keep-masked ratio schedule `r` (cosine by
default; any callable, as in lucidrains' muse-maskgit-pytorch). Confidence is the probability of the drawn token
under the unfiltered guided softmax, perturbed by Gumbel noise whose temperature anneals to 0. The last step
re-masks nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput

SAMPLING_CHUNK_ELEMENTS = 1 << 22  # logits per chunk of rows in `ARDFScheduler.step` on CPU (16 MiB in float32)
MaskSchedule = Callable[[torch.Tensor], torch.Tensor | float]
Generators = torch.Generator | list[torch.Generator] | None


def cosine_schedule(progress: torch.Tensor) -> torch.Tensor:
    """`cos(pi / 2 * progress)`: the official keep-masked ratio of sampling and mask ratio of training (MaskGIT)."""
    return torch.cos(progress * math.pi * 0.5)


def linear_schedule(progress: torch.Tensor) -> torch.Tensor:
    """`1 - progress`."""
    return (1 - progress).clamp(min=0.0, max=1.0)


MASK_SCHEDULES: dict[str, MaskSchedule] = {"cosine": cosine_schedule, "linear": linear_schedule}
CUSTOM_SCHEDULE_NAME = "custom"
GUMBEL_TEMPERATURE_SCHEDULES = ("linear", "official")
HISTORY_MASK_MODES = ("periodic", "random")


# ---------------------------------------------------------------------------------------------------------------------
# Sampling helpers


def uniform_per_row(
    batch_size: int, row_shape: tuple[int, ...], generator: Generators, device: torch.device | str
) -> torch.Tensor:
    """Uniforms `[B, *row_shape]` on `device`: one `[B, ...]` draw from one generator (or the global RNG), or one
    `[...]` draw per row from a list of B generators, so that a batch gives exactly the rows of separate runs.
    Each generator draws on its own device; only the uniforms move."""

    def draw(shape: tuple[int, ...], gen: torch.Generator | None) -> torch.Tensor:
        return torch.rand(shape, generator=gen, device=gen.device if gen is not None else device).to(device)

    if isinstance(generator, list):
        return torch.stack([draw(row_shape, gen) for gen in generator])
    return draw((batch_size, *row_shape), generator)


def make_history_mask(
    mode: str,
    ratio: float,
    batch_size: int,
    num_content_tokens: int,
    generator: Generators = None,
    device: torch.device | str | None = None,
) -> torch.BoolTensor:
    """Which content tokens of a finished frame are shown as MASK to later frames (LUMOS_SPEC 7, step 3).

    Drawn once per video and reused for every frame and both guidance branches.

    Args:
        mode: `"periodic"` (official): `m = max(1, round(ratio * N))` evenly spaced indices `round(i * N / m)`,
            computed in float32 as the official code does (rounding ties to even, duplicates dropped, the tail padded
            back to m from the end), the same for every video; `"random"` (the paper): each token independently with
            probability `ratio`.
        ratio: the masked fraction rho in `[0, 1)`. The official periodic mask hides one token even at 0.
        batch_size: B videos.
        num_content_tokens: N, the video and new-line tokens of a frame, `h * (w + 1)`.
        generator: for `"random"`: one generator (one `[B, N]` draw) or a list of B (one `[N]` draw each).
        device: device of the returned mask.

    Returns:
        `[B, N]` bool, True where the token is replaced by MASK.
    """
    if mode == "periodic":
        count = max(1, round(ratio * num_content_tokens))
        step = num_content_tokens / count
        indices = (torch.arange(count) * step).round().long().clamp(0, num_content_tokens - 1).unique()
        padding = num_content_tokens - 1 - torch.arange(indices.numel(), count)  # official: fill back to `count`
        mask = torch.zeros(num_content_tokens, dtype=torch.bool)
        mask[torch.cat([indices, padding])] = True
        return mask.to(device).expand(batch_size, -1)
    if mode != "random":
        raise ValueError(f"history_mask must be one of {HISTORY_MASK_MODES}, got {mode!r}")
    return uniform_per_row(batch_size, (num_content_tokens,), generator, device or "cpu") < ratio


def guided_logits(logits: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance `u + s (c - u)` in float32 of `logits [2B, ...]` stacked as (conditional, unconditional)
    (or of the final hidden states before a linear head, which gives the same logits)."""
    cond, uncond = logits.float().chunk(2)
    return uncond + guidance_scale * (cond - uncond)


def inverse_cdf_sample(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.LongTensor:
    """One draw per row of `probs [..., V]` given `uniforms [...]` in `[0, 1)`: the first id whose float32 cumulative
    probability exceeds `u` times the total (ids of probability 0 are never drawn)."""
    cdf = probs.float().cumsum(-1)
    index = torch.searchsorted(cdf, (uniforms * cdf[..., -1])[..., None], right=True).squeeze(-1)
    return index.clamp_max(probs.shape[-1] - 1)


def gumbel_noise(uniforms: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) noise `-log(-log(u))` of uniforms (clamped at 1e-20, as the official code)."""
    return -torch.log(-torch.log(uniforms.clamp(min=1e-20)))


# ---------------------------------------------------------------------------------------------------------------------
# Scheduler


@dataclass
class ARDFSchedulerOutput(BaseOutput):
    """Output of `ARDFScheduler.step`.

    Args:
        prev_sample: `[B, N]` long, video-vocabulary indices: the revealed tokens, and at masked positions the token
            sampled in this step (not shown to the model: feed MASK where `is_masked`).
        is_masked: `[B, N]` bool, positions still masked after this step (all False after the last step).
    """

    prev_sample: torch.LongTensor
    is_masked: torch.BoolTensor


class ARDFScheduler(SchedulerMixin, ConfigMixin):
    """Masked discrete diffusion over the video tokens of one frame (AR-DF sampling, LUMOS_SPEC 7 step 2).

    Args:
        num_inference_steps: default number of steps N per frame (50 in the official scripts).
        mask_schedule: keep-masked ratio `r(progress)` for progress in `[0, 1]`: `"cosine"` (official), `"linear"`,
            or a callable taking a 0-dim float32 tensor and returning a ratio in `[0, 1]` (tensor or float). A
            callable is saved in the config as `"custom"`; pass it again when reloading
            (`ARDFScheduler.from_config(config, mask_schedule=fn)`).
        gumbel_temperature: tau of the confidence noise. 0 re-masks the least confident tokens deterministically.
        gumbel_temperature_schedule: `"linear"`: step n of every frame uses `tau * (1 - (n + 1) / N)`;
            `"official"`: the official code's running product `tau_n = tau_{n-1} * (1 - (n + 1) / N)`, never reset
            (0.875, 0.656, 0.410, ... in the first frame for 8 steps, 0 in every later frame), the schedule of every
            published Lumos-1 video.
        top_k: draw each masked token among its `top_k` most likely video tokens (None: no filtering, official).
            The confidence ranking always uses the unfiltered softmax, so `top_k=1, gumbel_temperature=0` is greedy
            decoding: argmax draws, least confident re-masked first.
        temperature: logits are divided by it before drawing (1.0: official).

    The timesteps are the step indices `0 .. N-1` in the order they run; `set_timesteps` starts a new video.

    Example:

    ```python
    >>> import torch
    >>> from lumos_hf import ARDFScheduler

    >>> scheduler = ARDFScheduler()
    >>> scheduler.set_timesteps(8)
    >>> generator = torch.Generator().manual_seed(0)
    >>> sample = torch.zeros(1, 32, dtype=torch.long)
    >>> is_masked = torch.ones(1, 32, dtype=torch.bool)  # a fresh frame of 32 video tokens
    >>> counts = []
    >>> for step in scheduler.timesteps:
    ...     logits = torch.randn(1, 32, 64, generator=generator)  # the model's video logits
    ...     sample, is_masked = scheduler.step(logits, int(step), sample, is_masked, generator=generator, return_dict=False)
    ...     counts.append(int(is_masked.sum()))
    >>> counts  # still masked after each step: the cosine schedule, all revealed at the end
    [31, 29, 26, 22, 17, 12, 6, 0]
    ```
    """

    order = 1

    @register_to_config
    def __init__(
        self,
        num_inference_steps: int = 50,
        mask_schedule: str | MaskSchedule = "cosine",
        gumbel_temperature: float = 1.0,
        gumbel_temperature_schedule: str = "linear",
        top_k: int | None = None,
        temperature: float = 1.0,
    ):
        if callable(mask_schedule):
            self.mask_schedule_fn = mask_schedule
            self.register_to_config(mask_schedule=CUSTOM_SCHEDULE_NAME)
        elif mask_schedule in MASK_SCHEDULES:
            self.mask_schedule_fn = MASK_SCHEDULES[mask_schedule]
        elif mask_schedule == CUSTOM_SCHEDULE_NAME:
            raise ValueError(
                "mask_schedule='custom' was a callable when the config was saved: pass it again, "
                "e.g. ARDFScheduler.from_config(config, mask_schedule=my_schedule)"
            )
        else:
            raise ValueError(
                f"mask_schedule must be one of {sorted(MASK_SCHEDULES)} or a callable, got {mask_schedule!r}"
            )
        if not _is_real(gumbel_temperature) or not 0 <= gumbel_temperature < math.inf:
            raise ValueError(f"gumbel_temperature must be a finite float >= 0, got {gumbel_temperature!r}")
        if gumbel_temperature_schedule not in GUMBEL_TEMPERATURE_SCHEDULES:
            raise ValueError(
                f"gumbel_temperature_schedule must be one of {GUMBEL_TEMPERATURE_SCHEDULES}, "
                f"got {gumbel_temperature_schedule!r}"
            )
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
        if not _is_real(temperature) or not 0 < temperature < math.inf:
            raise ValueError(f"temperature must be a finite float > 0, got {temperature!r}")
        self.set_timesteps(num_inference_steps)

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """Set the number of steps N per frame (`timesteps = arange(N)`) and start a new video (the official
        Gumbel temperature restarts from `gumbel_temperature`)."""
        if (
            isinstance(num_inference_steps, bool)
            or not isinstance(num_inference_steps, int)
            or num_inference_steps < 1
        ):
            raise ValueError(f"num_inference_steps must be an int >= 1, got {num_inference_steps!r}")
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.arange(num_inference_steps, device=device)
        self._running_temperature = float(self.config.gumbel_temperature)

    def gumbel_temperature_at(self, step_index: int) -> float:
        """Gumbel temperature of step n of the current frame (advances the official running product)."""
        self._check_step_index(step_index)
        decay = 1.0 - (step_index + 1) / self.num_inference_steps
        if self.config.gumbel_temperature_schedule == "linear":
            return self.config.gumbel_temperature * decay
        self._running_temperature *= decay
        return self._running_temperature

    def keep_masked_count(self, step_index: int, num_tokens: int) -> int:
        """Scheduled keep-masked count `floor(N_f * r((n + 1) / N))` before clamping (float32, as the official code)."""
        self._check_step_index(step_index)
        progress = torch.tensor((step_index + 1) / self.num_inference_steps, dtype=torch.float32)
        ratio = torch.as_tensor(self.mask_schedule_fn(progress), dtype=torch.float32)
        if ratio.numel() != 1 or not torch.isfinite(ratio):
            raise ValueError(f"mask_schedule must return one finite ratio, got {ratio}")
        return int(torch.floor(num_tokens * ratio))

    def masked_counts(self, num_tokens: int, num_masked: int | None = None) -> list[int]:
        """Number of masked tokens after each of the N steps of a frame of `num_tokens` video tokens.

        Starts from `num_masked` masked tokens (all of them by default); the last entry is 0.
        """
        masked = torch.tensor([num_tokens if num_masked is None else num_masked])
        if not 0 <= int(masked) <= num_tokens:
            raise ValueError(f"num_masked must be in [0, {num_tokens}], got {num_masked}")
        counts = []
        for step_index in range(self.num_inference_steps):
            masked = self._remask_counts(step_index, num_tokens, masked)
            counts.append(int(masked))
        return counts

    def _remask_counts(self, step_index: int, num_tokens: int, num_masked: torch.LongTensor) -> torch.LongTensor:
        """Tokens re-masked by step n per row: the scheduled count clamped to `[1, #masked - 1]` (never more than
        `#masked`), 0 at the last step."""
        if step_index == self.num_inference_steps - 1:
            return torch.zeros_like(num_masked)
        scheduled = self.keep_masked_count(step_index, num_tokens)
        return torch.minimum((num_masked - 1).clamp(max=scheduled).clamp(min=1), num_masked)

    def step(
        self,
        logits: torch.Tensor,
        step_index: int,
        sample: torch.LongTensor,
        is_masked: torch.BoolTensor,
        generator: Generators = None,
        return_dict: bool = True,
        positions: torch.LongTensor | None = None,
    ) -> ARDFSchedulerOutput | tuple[torch.LongTensor, torch.BoolTensor]:
        """One AR-DF step on the video tokens of one frame.

        Args:
            logits: `[B, N, V]` (guided) logits over the video vocabulary at the frame's N video-token positions, or
                `[B, K, V]` at the K positions `positions` only; any float dtype, sampling runs in float32.
            step_index: n in `[0, num_inference_steps)`.
            sample: `[B, N]` long video-vocabulary indices; values at masked positions are ignored.
            is_masked: `[B, N]` bool, True where the token is still masked.
            generator: one `torch.Generator`, or a list of B (one per row: a batch then gives exactly the rows of
                separate runs with those generators), or None (global RNG). Each step draws, in the official order,
                `[B, N]` uniforms for the tokens, then `[B, N]` uniforms for the Gumbel noise.
            return_dict: return an `ARDFSchedulerOutput` rather than a tuple.
            positions: `[K]` sorted indices in `[0, N)` of the logits' rows: every position still masked in some row
                (revealed tokens need no logits). The draws and the result are those of the full `[B, N, V]` logits.

        Returns:
            `ARDFSchedulerOutput(prev_sample [B, N], is_masked [B, N])`, or the tuple `(prev_sample, is_masked)`.
            Revealed tokens never change; exactly `masked_counts(...)[n]` tokens stay masked per row.
        """
        self._check_step_index(step_index)
        self._check_inputs(logits, sample, is_masked, generator, positions)
        batch_size, num_tokens = sample.shape
        uniforms = uniform_per_row(batch_size, (num_tokens,), generator, logits.device)  # drawn for all N positions
        kept = slice(None) if positions is None else positions.to(logits.device)
        # Rows are independent: on CPU, chunks of rows keep the float32 buffers small enough to be reused from step to
        # step (one [B K, V] buffer is hundreds of MB at 256p), with the same values as one pass (the CPU kernels work
        # row by row). Other devices take one pass: their allocators cache, and their scan kernels may depend on
        # the number of rows.
        rows = logits.reshape(-1, logits.shape[-1])  # [B K, V]
        row_uniforms = uniforms[:, kept].reshape(-1)
        chunk = max(1, SAMPLING_CHUNK_ELEMENTS // rows.shape[-1]) if rows.device.type == "cpu" else max(1, len(rows))
        pieces = [
            self._draw_rows(part, part_uniforms)
            for part, part_uniforms in zip(rows.split(chunk), row_uniforms.split(chunk))
        ]
        drawn = torch.cat([ids for ids, _ in pieces]).view(batch_size, logits.shape[1])  # [B, K]
        drawn_confidence = torch.cat([log_probs for _, log_probs in pieces]).view(batch_size, logits.shape[1])
        drawn = torch.where(is_masked[:, kept], drawn, sample[:, kept].long())
        sampled = sample.long().clone()
        sampled[:, kept] = drawn
        confidence = torch.full((batch_size, num_tokens), float("inf"), device=logits.device)
        confidence[:, kept] = drawn_confidence.masked_fill(~is_masked[:, kept], float("inf"))
        noise = gumbel_noise(uniform_per_row(batch_size, (num_tokens,), generator, logits.device))
        confidence = confidence + self.gumbel_temperature_at(step_index) * noise

        counts = self._remask_counts(step_index, num_tokens, is_masked.sum(dim=-1))  # [B]
        order = confidence.argsort(dim=-1, stable=True)  # least confident first; revealed (+inf) last
        ranks = torch.empty_like(order).scatter_(
            -1, order, torch.arange(num_tokens, device=logits.device).expand_as(order)
        )
        still_masked = ranks < counts[:, None]
        if not return_dict:
            return sampled, still_masked
        return ARDFSchedulerOutput(prev_sample=sampled, is_masked=still_masked)

    def _draw_rows(self, logits: torch.Tensor, uniforms: torch.Tensor) -> tuple[torch.LongTensor, torch.Tensor]:
        """`[R, V]` logits and `[R]` uniforms -> the drawn ids `[R]` (temperature and `top_k` applied) and their
        log-probabilities `[R]` under the unfiltered softmax (the confidence, clamped at 1e-20)."""
        logits = logits.float()
        probs = logits.softmax(dim=-1)
        draw_logits = logits / self.config.temperature if self.config.temperature != 1.0 else logits
        if self.config.top_k is not None and self.config.top_k < logits.shape[-1]:
            kth = draw_logits.topk(self.config.top_k, dim=-1).values[..., -1:]
            draw_logits = draw_logits.masked_fill(draw_logits < kth, float("-inf"))
        draw_probs = probs if draw_logits is logits else draw_logits.softmax(dim=-1)
        drawn = inverse_cdf_sample(draw_probs, uniforms)
        return drawn, torch.log(probs.gather(-1, drawn[:, None]).squeeze(-1).clamp(min=1e-20))

    def _check_step_index(self, step_index: int) -> None:
        if isinstance(step_index, bool) or not isinstance(step_index, int):
            raise TypeError(f"step_index must be an int, got {type(step_index).__name__}")
        if not 0 <= step_index < self.num_inference_steps:
            raise ValueError(f"step_index must be in [0, {self.num_inference_steps - 1}], got {step_index}")

    @staticmethod
    def _check_inputs(
        logits: torch.Tensor,
        sample: torch.Tensor,
        is_masked: torch.Tensor,
        generator: Generators,
        positions: torch.Tensor | None,
    ) -> None:
        if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or not logits.dtype.is_floating_point:
            raise ValueError("logits must be a float tensor [B, N, V] (video logits of the frame's video tokens)")
        num_tokens = logits.shape[1] if positions is None or not isinstance(sample, torch.Tensor) else sample.shape[-1]
        shape = (logits.shape[0], num_tokens)
        if not isinstance(sample, torch.Tensor) or tuple(sample.shape) != shape or sample.dtype.is_floating_point:
            raise ValueError(f"sample must be an integer tensor of shape {shape} [B, N]")
        if not isinstance(is_masked, torch.Tensor) or tuple(is_masked.shape) != shape or is_masked.dtype != torch.bool:
            raise ValueError(f"is_masked must be a bool tensor of shape {shape} [B, N]")
        if positions is not None:
            if logits.shape[1] != positions.numel():
                raise ValueError(f"logits must have one row per position ([B, K, V], K = {positions.numel()}), got "
                                 f"{tuple(logits.shape)}")  # fmt: skip
            if positions.dim() != 1 or positions.dtype.is_floating_point or positions.dtype == torch.bool:
                raise ValueError("positions must be a 1D integer tensor [K] of indices into the N tokens")
            outside = torch.ones(shape[1], dtype=torch.bool, device=is_masked.device)
            outside[positions.to(is_masked.device)] = False
            if bool(is_masked[:, outside].any()):
                raise ValueError("positions must include every position that is still masked in some row")
        revealed = sample[~is_masked]
        if revealed.numel() and (int(revealed.min()) < 0 or int(revealed.max()) >= logits.shape[-1]):
            raise ValueError(
                f"sample must hold video-vocabulary indices in [0, {logits.shape[-1] - 1}] where revealed"
            )
        if isinstance(generator, list) and len(generator) != shape[0]:
            raise ValueError(
                f"generator must be one torch.Generator or a list of B = {shape[0]}, got {len(generator)}"
            )


def _is_real(value: object) -> bool:
    """A real number (Python, numpy or 0-dim tensor scalar), not a bool."""
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))
