"""A sampler with the structure of the official one (`generate_maskedAR_mmrope_v8_newcache`): the benchmark baseline.

What it does as the official code does: one KV cache per guidance branch, each holding the prompt; every step runs
the current frame only, as two batch-1 forwards (conditional, then unconditional) with logits over the *whole*
vocabulary at every frame position; guidance in logit space; `torch.multinomial` over the whole vocabulary (non-video
ids at -inf); MaskGIT re-masking of the least confident tokens (Gumbel-perturbed); each finished frame, the last one
included, committed once to both caches with its history mask. The draws differ from `LumosPipeline`'s (multinomial
instead of inverse-CDF with per-row generators), so compare its speed, not its tokens. Kept out of the package.
"""

from __future__ import annotations

import torch

from lumos_hf import ARDFScheduler, LumosCache, LumosForVideoGeneration, LumosProcessor
from lumos_hf.scheduling_ardf import gumbel_noise, make_history_mask
from lumos_hf.sequence_format import frame_scaffold, mask_content, num_content_tokens, video_token_positions


@torch.no_grad()
def official_structure_sample(
    transformer: LumosForVideoGeneration,
    processor: LumosProcessor,
    scheduler: ARDFScheduler,
    prompt: str,
    height: int,
    width: int,
    num_frames: int,
    fps: int,
    num_inference_steps: int,
    guidance_scale: float,
    history_mask_ratio: float = 0.7,
    generator: torch.Generator | None = None,
) -> torch.LongTensor:
    """One video; returns its `[T, h, w]` video-vocabulary indices."""
    device, layout = transformer.device, processor.token_layout
    inputs = processor(prompt, height=height, width=width, num_frames=num_frames, fps=fps)
    branches = [inputs["input_ids"]] + ([inputs["uncond_input_ids"]] if guidance_scale > 1 else [])
    caches = []
    for ids in branches:  # the prompt, once per branch
        cache = LumosCache(config=transformer.config)
        transformer(ids.to(device), cache=cache, use_cache=True, logits_to_keep=1)
        caches.append(cache)
    rows, cols = processor.latent_size(height, width)
    offset, vocab = layout.video_token_offset, layout.video_vocab_size
    scaffold, positions = frame_scaffold(rows, cols, layout).to(device), video_token_positions(rows, cols).to(device)
    history = make_history_mask("periodic", history_mask_ratio, 1, num_content_tokens(rows, cols), device=device)
    num_tokens = rows * cols
    latents = []
    scheduler.set_timesteps(num_inference_steps)
    for _ in range(processor.num_latent_frames(num_frames)):
        sample = torch.zeros(num_tokens, dtype=torch.long, device=device)
        is_masked = torch.ones(num_tokens, dtype=torch.bool, device=device)
        for t in scheduler.timesteps.tolist():
            frame = scaffold.clone()
            frame[positions] = torch.where(is_masked, layout.mask_token_id, sample + offset)
            logits = []
            for cache in caches:  # two batch-1 forwards, full-vocabulary logits at every frame position
                logits.append(transformer(frame[None], cache=cache, use_cache=True).logits[0].float())
                cache.crop(-frame.shape[0])
            logits = guide(logits, guidance_scale)[positions]  # [N, full vocabulary]
            sample, is_masked = sampling_step(logits, sample, is_masked, t, scheduler, offset, vocab, generator)
        latents.append(sample.view(rows, cols))
        frame = scaffold.clone()
        frame[positions] = sample + offset
        observed = mask_content(frame[None], history, layout)
        for cache in caches:  # committed, the last frame too
            transformer(observed, cache=cache, use_cache=True, logits_to_keep=1)
    return torch.stack(latents)


def guide(logits: list[torch.Tensor], guidance_scale: float) -> torch.Tensor:
    """Logit-space guidance `u + s (c - u)` of the two branches' full-vocabulary logits `[L, V_all]`."""
    return logits[1] + guidance_scale * (logits[0] - logits[1]) if len(logits) == 2 else logits[0]


def sampling_step(
    logits: torch.Tensor,
    sample: torch.LongTensor,
    is_masked: torch.BoolTensor,
    step: int,
    scheduler: ARDFScheduler,
    offset: int,
    vocab: int,
    generator: torch.Generator | None,
) -> tuple[torch.LongTensor, torch.BoolTensor]:
    """The official step on `logits [N, V_all]`: multinomial over the whole vocabulary (non-video ids at -inf), then
    the least confident (Gumbel-perturbed) tokens re-masked with the scheduler's counts."""
    logits[:, :offset] = float("-inf")
    logits[:, offset + vocab :] = float("-inf")
    probs = logits.softmax(-1)
    drawn = torch.multinomial(probs, 1, generator=generator)[:, 0]
    sample = torch.where(is_masked, drawn - offset, sample)
    confidence = probs.gather(-1, (sample + offset)[:, None])[:, 0].clamp(min=1e-20).log()
    noise = gumbel_noise(torch.rand(sample.shape[0], generator=generator, device=sample.device))
    confidence = (confidence + scheduler.gumbel_temperature_at(step) * noise).masked_fill(~is_masked, float("inf"))
    masked, scheduled = int(is_masked.sum()), scheduler.keep_masked_count(step, sample.shape[0])
    count = 0 if step == scheduler.num_inference_steps - 1 else min(max(min(masked - 1, scheduled), 1), masked)
    is_masked = torch.zeros_like(is_masked)
    is_masked[confidence.argsort()[:count]] = True
    return sample, is_masked
