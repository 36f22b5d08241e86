"""A naive AR-DF sampler, as the official code runs it: the reference for `LumosPipeline`'s tests and benchmark.

One video at a time; every step recomputes the whole sequence (no KV cache), runs the conditional and the
unconditional branch as two separate forwards and computes logits over the full vocabulary (at every position, as
the official code, or only at the frame's video positions), of which it keeps the video ids. With the same generator and history mask it draws exactly the random numbers `LumosPipeline` draws for
that video (given a list of generators, one per video), so both return the same tokens.
"""

from __future__ import annotations

import torch

from .modeling_lumos import LumosForVideoGeneration
from .pipeline_lumos import FRAME_HEADER_LENGTH, guided_logits, make_history_mask
from .processing_lumos import LumosProcessor
from .scheduling_ardf import ARDFScheduler


@torch.no_grad()
def reference_sample(
    transformer: LumosForVideoGeneration,
    processor: LumosProcessor,
    scheduler: ARDFScheduler,
    prompt: str,
    height: int,
    width: int,
    num_frames: int,
    fps: int = 12,
    num_inference_steps: int = 50,
    guidance_scale: float = 15.0,
    history_mask_ratio: float = 0.7,
    history_mask: str = "periodic",
    negative_prompt: str | None = None,
    conditioning_latents: torch.LongTensor | None = None,
    generator: torch.Generator | None = None,
    all_position_logits: bool = True,
) -> torch.LongTensor:
    """Sample one image or video; arguments as `LumosPipeline.__call__` (`conditioning_latents [T_c, h, w]`: the
    given first latent frames). `all_position_logits=False` projects only the frame's video positions (same tokens,
    faster).

    Returns:
        `[T, h, w]` FSQ indices of all latent frames (the given ones first).
    """
    device = transformer.device
    inputs = processor(
        prompt,
        height=height,
        width=width,
        num_frames=num_frames,
        fps=fps,
        negative_prompt=negative_prompt,
        conditioning_latents=conditioning_latents,
    )
    total_frames, given_frames = int(inputs["num_latent_frames"]), int(inputs["num_conditioning_frames"])
    rows, cols = processor.latent_size(height, width)
    scaffold, is_video = processor.frame_scaffold(height, width)
    positions = is_video.nonzero().flatten()
    history = make_history_mask(
        history_mask, history_mask_ratio, 1, rows * (cols + 1), generator=[generator], device="cpu"
    )[0]
    branches = [inputs["input_ids"][0]]
    if guidance_scale > 1:
        branches.append(inputs["uncond_input_ids"][0])
    frame_length = scaffold.shape[0]

    def observed(frame: torch.LongTensor) -> torch.LongTensor:
        frame = frame.clone()
        frame[FRAME_HEADER_LENGTH:-1][history] = processor.mask_token_id
        return frame

    # The given frames are shown partially observed, as every finished frame.
    prefixes = []
    for ids in branches:
        head, given = (
            ids[: ids.shape[0] - given_frames * frame_length],
            ids[ids.shape[0] - given_frames * frame_length :],
        )
        prefixes.append(torch.cat([head, *[observed(f) for f in given.view(given_frames, frame_length)]]))
    latents = [grid.flatten() for grid in (conditioning_latents if given_frames else [])]
    offset, vocab = processor.video_token_offset, processor.video_vocab_size
    scheduler.set_timesteps(num_inference_steps)
    for _ in range(given_frames, total_frames):
        sample = torch.zeros(1, rows * cols, dtype=torch.long)
        is_masked = torch.ones(1, rows * cols, dtype=torch.bool)
        for t in scheduler.timesteps:
            frame = scaffold.clone()
            frame[positions] = torch.where(is_masked[0], processor.mask_token_id, sample[0] + offset)
            logits = []
            for prefix in prefixes:
                sequence = torch.cat([prefix, frame]).unsqueeze(0).to(device)
                kept = prefix.shape[0] + positions
                if all_position_logits:
                    full = transformer(sequence).logits[:, kept]  # [1, L, vocab_size] -> the frame's video positions
                else:
                    full = transformer(sequence, logits_to_keep=kept.to(device)).logits
                logits.append(full[..., offset : offset + vocab])
            logits = guided_logits(torch.cat(logits), guidance_scale) if len(logits) == 2 else logits[0]
            sample, is_masked = scheduler.step(
                logits.cpu(), int(t), sample, is_masked, generator=generator, return_dict=False
            )
        latents.append(sample[0])
        frame = scaffold.clone()
        frame[positions] = sample[0] + offset
        prefixes = [torch.cat([prefix, observed(frame)]) for prefix in prefixes]
    return torch.stack(latents).view(total_frames, rows, cols)
