"""A naive AR-DF sampler: the test oracle for `LumosPipeline` (kept out of the package, written without its helpers).

One video at a time; every step recomputes the whole sequence (no KV cache), runs the conditional and the
unconditional branch as two separate forwards, guides in float32 and keeps the video logits of the frame's video
tokens. History masks and frame editing are re-derived here from LUMOS_SPEC 7 and the official code; only the
processor (sequence building, tested against the official samples) and `ARDFScheduler.step` (tested on its own) are
shared with the pipeline. Given the generator of one video, it draws exactly what the pipeline draws for that video.
"""

from __future__ import annotations

import numpy as np
import torch

from lumos_hf import ARDFScheduler, LumosForVideoGeneration, LumosProcessor


def official_periodic_indices(num_tokens: int, ratio: float) -> list[int]:
    """The official `mask_history_pattern`: `m = max(1, round(ratio * N))` indices `round(i * (N / m))` with the
    product in float32 (numpy here), ties to even, duplicates dropped, then padded from the end back to m."""
    count = max(1, int(round(ratio * num_tokens)))
    products = np.arange(count, dtype=np.float32) * np.float32(num_tokens / count)
    indices = sorted(set(np.clip(np.rint(products).astype(np.int64), 0, num_tokens - 1).tolist()))
    length = len(indices)
    while length < count:  # the official loop appends N - 1 - len each time
        indices.append(num_tokens - 1 - length)
        length += 1
    return indices


def draw_history_mask(mode: str, ratio: float, num_tokens: int, generator: torch.Generator | None) -> torch.BoolTensor:
    """`[N]` True where a finished frame's content token is shown as MASK to later frames."""
    if mode == "periodic":
        mask = torch.zeros(num_tokens, dtype=torch.bool)
        mask[official_periodic_indices(num_tokens, ratio)] = True
        return mask
    return torch.rand(num_tokens, generator=generator) < ratio


@torch.no_grad()
def naive_sample(
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
    given first latent frames). `all_position_logits=False` projects only the frame's video positions.

    Returns:
        `[T, h, w]` FSQ indices of all latent frames (the given ones first).
    """
    layout = processor.token_layout
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
    rows, cols = height // 8, width // 8
    row_tokens = cols + 1  # video tokens and one new line
    frame_tokens = 3 + rows * row_tokens + 1  # [frame start, size, size] + rows + [frame end]
    masked = draw_history_mask(history_mask, history_mask_ratio, rows * row_tokens, generator)

    def frame_of(grid: torch.LongTensor | None) -> torch.LongTensor:
        """Frame tokens of a `[h * w]` grid of video ids, or of a fully masked frame."""
        content = torch.full((rows, row_tokens), layout.new_line_token_id)
        content[:, :cols] = layout.mask_token_id if grid is None else grid.view(rows, cols)
        header = [layout.frame_start_token_id, layout.size_token(rows // 4), layout.size_token(cols // 4)]
        return torch.cat([torch.tensor(header), content.flatten(), torch.tensor([layout.frame_end_token_id])])

    def observed(frame: torch.LongTensor) -> torch.LongTensor:
        frame = frame.clone()
        content = frame[3:-1]
        content[masked] = layout.mask_token_id
        return frame

    branches = [inputs["input_ids"][0]]
    if guidance_scale > 1:
        branches.append(inputs["uncond_input_ids"][0])
    prefixes = []  # the given frames are shown partially observed, as every finished frame
    for ids in branches:
        head, given = (
            ids[: ids.shape[0] - given_frames * frame_tokens],
            ids[ids.shape[0] - given_frames * frame_tokens :],
        )
        prefixes.append(torch.cat([head, *[observed(f) for f in given.view(given_frames, frame_tokens)]]))
    video_positions = 3 + torch.arange(rows * row_tokens).view(rows, row_tokens)[:, :cols].flatten()
    latents = [grid.flatten() for grid in (conditioning_latents if given_frames else [])]
    offset, vocab = layout.video_token_offset, layout.video_vocab_size
    scheduler.set_timesteps(num_inference_steps)
    for _ in range(given_frames, total_frames):
        sample = torch.zeros(1, rows * cols, dtype=torch.long)
        is_masked = torch.ones(1, rows * cols, dtype=torch.bool)
        for t in scheduler.timesteps:
            frame = frame_of(torch.where(is_masked[0], layout.mask_token_id, sample[0] + offset))
            logits = []
            for prefix in prefixes:
                sequence = torch.cat([prefix, frame]).unsqueeze(0).to(transformer.device)
                kept = prefix.shape[0] + video_positions
                if all_position_logits:
                    full = transformer(sequence).logits[:, kept]  # [1, L, vocab_size] -> the frame's video positions
                else:
                    full = transformer(sequence, logits_to_keep=kept.to(transformer.device)).logits
                logits.append(full[..., offset : offset + vocab].float())
            if len(logits) == 2:
                cond, uncond = logits
                logits = uncond + guidance_scale * (cond - uncond)
            else:
                logits = logits[0]
            sample, is_masked = scheduler.step(logits.cpu(), int(t), sample, is_masked, generator, return_dict=False)
        latents.append(sample[0])
        prefixes = [torch.cat([prefix, observed(frame_of(sample[0] + offset))]) for prefix in prefixes]
    return torch.stack(latents).view(total_frames, rows, cols)
