"""Pixels in and out of the video tokenizer: the official bucket resize-and-crop, and uint8 frames <-> [-1, 1] tensors.

Frames are uint8 RGB numpy arrays `[T, H, W, 3]` unless stated otherwise. The bucket sizes come from
`lumos_hf.sequence_format.crop_size_list` (LUMOS_SPEC 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from .sequence_format import DEFAULT_BUCKET_TARGET_SIZE, closest_crop_size, crop_size_list

__all__ = ["as_uint8_frames", "bucket_crop", "center_crop", "frames_to_tensor", "tensor_to_frames"]


def center_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Official resize-and-crop: halve with a box filter while possible, bicubic-resize to cover `size`, crop centre."""
    crop_w, crop_h = size
    while image.size[0] >= 2 * crop_w and image.size[1] >= 2 * crop_h:
        image = image.resize(tuple(x // 2 for x in image.size), resample=Image.BOX)
    scale = max(crop_w / image.size[0], crop_h / image.size[1])
    image = image.resize(tuple(round(x * scale) for x in image.size), resample=Image.BICUBIC)
    left, top = (image.size[0] - crop_w) // 2, (image.size[1] - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


def bucket_crop(
    frames: Any, target_size: int = DEFAULT_BUCKET_TARGET_SIZE, size: tuple[int, int] | None = None
) -> np.ndarray:
    """
    Resizes and centre-crops all frames to one bucket.

    Args:
        frames: uint8 frames (see [`frames_to_tensor`] for the accepted forms, without a batch dimension).
        target_size: bucket family (`crop_size_list(target_size)`); the bucket closest in aspect ratio is used.
        size: a fixed `(width, height)` instead of the bucket search.

    Returns:
        [T, h, w, 3] uint8 frames.
    """
    images = [Image.fromarray(frame) for frame in as_uint8_frames(frames)]
    if size is None:
        size = closest_crop_size(*images[0].size, crop_size_list(target_size))
    elif len(size) != 2 or min(size) < 1:
        raise ValueError(f"`size` must be a (width, height) pair of positive integers, got {size}.")
    return np.stack([np.asarray(center_crop(image, tuple(size))) for image in images])


def _whiten_transparency(image: Image.Image) -> Image.Image:
    """RGB version of a PIL image, the one rule of the pipeline and of pre-tokenization: 16-bit integer images
    (modes I;16*, I) are scaled from 0-65535, float images (F) from [0, 1]; grayscale and palette images become RGB;
    transparent pixels are blended over white (as the official tokenizer wrapper)."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        values = values / 257.0 if image.mode.startswith("I") else values * 255.0
        image = Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")
    rgba = np.array(image.convert("RGBA"))
    if not (rgba[:, :, 3] < 255).any():
        return image.convert("RGB")
    alpha = rgba[:, :, 3:] / 255.0
    return Image.fromarray(((1 - alpha) * 255 + alpha * rgba[:, :, :3]).astype(np.uint8), "RGB")


def as_uint8_frames(frames: Any) -> np.ndarray:
    """PIL image(s) (any mode: see `_whiten_transparency`) or a uint8, uint16 or float-in-[0, 1] array / tensor
    [..., H, W, 3] -> uint8 array with the same leading dimensions."""
    if isinstance(frames, Image.Image):
        frames = [frames]
    if isinstance(frames, list | tuple):
        if not frames or not all(isinstance(f, Image.Image) for f in frames):
            raise TypeError("`frames` given as a list must be a non-empty list of PIL images.")
        arrays = [np.asarray(_whiten_transparency(f)) for f in frames]
        if len({a.shape for a in arrays}) > 1:
            raise ValueError(f"All frames must have the same size, got {sorted({a.shape for a in arrays})}.")
        return np.stack(arrays)
    if torch.is_tensor(frames):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"`frames` must be PIL images, a numpy array or a tensor, got {type(frames).__name__}.")
    if frames.dtype == np.uint16:  # 16-bit: 0-65535
        frames = np.round(frames / 257.0).astype(np.uint8)
    elif np.issubdtype(frames.dtype, np.floating):  # float pixels in [0, 1]
        if frames.size and not (np.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 1):
            raise ValueError(
                "float `frames` arrays must hold pixels in [0, 1] (float tensors [3, (T,) H, W] in [-1, 1] go to "
                f"`encode` directly), got values in [{np.nanmin(frames):.4g}, {np.nanmax(frames):.4g}]"
            )
        frames = np.round(frames.astype(np.float64) * 255.0).astype(np.uint8)  # float64: 0.9 -> 229, not 230
    elif frames.dtype != np.uint8:
        raise TypeError(
            f"`frames` arrays must be uint8 (0-255), uint16 (0-65535) or float in [0, 1], got {frames.dtype}."
        )
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim not in (4, 5) or frames.shape[-1] != 3:
        raise ValueError(f"`frames` must have shape [H, W, 3], [T, H, W, 3] or [B, T, H, W, 3], got {frames.shape}.")
    return frames


def frames_to_tensor(frames: Any) -> torch.Tensor:
    """
    uint8 RGB frames -> float32 tensor in [-1, 1] (`x / 255 * 2 - 1`, as the official pipeline).

    Args:
        frames: a PIL image or list of PIL images (one video), or a uint8 numpy array / tensor of shape [H, W, 3],
            [T, H, W, 3] or [B, T, H, W, 3].

    Returns:
        [3, T, H, W], or [B, 3, T, H, W] for a batched input.
    """
    array = as_uint8_frames(frames)
    tensor = torch.from_numpy(array.astype(np.float64) / 255.0 * 2 - 1).float()
    return tensor.movedim(-1, -4)


def tensor_to_frames(video: torch.Tensor) -> np.ndarray:
    """
    [3, T, H, W] or [B, 3, T, H, W] tensor in [-1, 1] -> uint8 frames [T, H, W, 3] / [B, T, H, W, 3], clamped and
    truncated to integers as the official pipeline (`((x.clamp(-1, 1) + 1) / 2 * 255).astype(uint8)`).
    """
    if not torch.is_tensor(video) or not video.is_floating_point():
        raise TypeError(f"`video` must be a float tensor, got {getattr(video, 'dtype', type(video).__name__)}.")
    if video.ndim not in (4, 5) or video.shape[-4] != 3:
        raise ValueError(f"`video` must have shape [3, T, H, W] or [B, 3, T, H, W], got {tuple(video.shape)}.")
    normalized = (video.detach().float().cpu().clamp(-1.0, 1.0) + 1.0) / 2.0
    return (normalized.movedim(-4, -1).numpy() * 255).astype(np.uint8)
