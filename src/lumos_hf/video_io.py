"""
Video input/output as the official Lumos-1 pipeline does it: frame sampling at a target fps, aspect-ratio buckets with
a centre crop, conversion between uint8 frames and [-1, 1] tensors, and writing mp4 / gif files.

Frames are uint8 numpy arrays [T, H, W, 3] (RGB) unless stated otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = [
    "bucket_crop",
    "center_crop",
    "closest_crop_size",
    "crop_size_list",
    "frames_to_tensor",
    "read_video",
    "sample_frame_indices",
    "tensor_to_frames",
    "write_video",
]


# ---------------------------------------------------------------------------------------------------------------------
# Reading


def sample_frame_indices(total_frames: int, source_fps: float, fps: float | None, num_frames: int | None) -> list[int]:
    """
    Indices of the frames to keep, as the official pre-processing: a stride of `int(source_fps / fps)` frames, over the
    central window of the video when `num_frames` is given (all strided frames from the start otherwise).

    Raises:
        ValueError: when `fps` exceeds the source rate or the video has fewer than `num_frames` frames at `fps`.
    """
    if total_frames < 1:
        raise ValueError("The video has no frames.")
    if fps is not None and fps <= 0:
        raise ValueError(f"`fps` must be positive, got {fps}.")
    if fps is not None and fps > source_fps * 1.001:
        raise ValueError(f"`fps` ({fps}) must not exceed the video's frame rate ({source_fps:g}).")
    if num_frames is not None and num_frames < 1:
        raise ValueError(f"`num_frames` must be >= 1, got {num_frames}.")
    step = max(1, int(source_fps / fps)) if fps is not None else 1
    if num_frames is None:
        return list(range(0, total_frames, step))
    start = total_frames // 2 - (num_frames * step) // 2
    end = min(total_frames, start + num_frames * step)
    indices = [i for i in range(max(0, start), end) if i % step == 0][:num_frames]
    if len(indices) < num_frames:
        raise ValueError(
            f"The video has {total_frames} frames at {source_fps:g} fps: too short for `num_frames`={num_frames} at "
            f"{fps or source_fps:g} fps."
        )
    return indices


def read_video(path: str | Path, fps: float | None = None, num_frames: int | None = None) -> np.ndarray:
    """
    Reads a video file (any container / codec that FFmpeg, through PyAV, decodes).

    Args:
        path: the video file.
        fps: target frame rate (at most the source rate); `None` keeps every frame.
        num_frames: number of frames to return, taken from the middle of the video as the official pipeline does;
            `None` returns all frames at `fps`.

    Returns:
        [T, H, W, 3] uint8 RGB frames.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist.")
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream.")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise ValueError(f"Cannot determine the frame rate of {path}.")
        total = stream.frames or sum(1 for _ in container.decode(stream))
    keep = set(sample_frame_indices(total, float(rate), fps, num_frames))
    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in keep:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == len(keep):
                break
    if len(frames) < len(keep):
        raise ValueError(f"{path} declares {total} frames but fewer could be decoded.")
    return np.stack(frames)


# ---------------------------------------------------------------------------------------------------------------------
# Aspect-ratio buckets


def crop_size_list(target_size: int = 512, patch_size: int = 32, max_ratio: float = 4.0) -> list[tuple[int, int]]:
    """
    The official bucket list: the largest `(width, height)` grids of `patch_size` pixels with at most
    `(target_size / patch_size)²` patches, for every aspect ratio up to `max_ratio` (e.g. 672x384 and 576x416 for
    `target_size=512`, 448x256 for 16:9 sources at `target_size=352`).
    """
    if target_size < patch_size or patch_size < 1:
        raise ValueError(f"`target_size` ({target_size}) must be at least `patch_size` ({patch_size}) >= 1.")
    if max_ratio < 1.0:
        raise ValueError(f"`max_ratio` must be >= 1, got {max_ratio}.")
    num_patches = (target_size // patch_size) ** 2
    sizes, wp, hp = [], num_patches, 1
    while wp > 0:
        if max(wp, hp) / min(wp, hp) <= max_ratio:
            sizes.append((wp * patch_size, hp * patch_size))
        if (hp + 1) * wp <= num_patches:
            hp += 1
        else:
            wp -= 1
    return sizes


def closest_crop_size(width: int, height: int, crop_sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The bucket closest in aspect ratio to a `width` x `height` frame (ties: the larger bucket), as the official code."""
    if width < 1 or height < 1:
        raise ValueError(f"Frame size must be positive, got {width}x{height}.")
    if not crop_sizes:
        raise ValueError("`crop_sizes` is empty.")
    scored = [(min(cw / width, ch / height) / max(cw / width, ch / height), (cw, ch)) for cw, ch in crop_sizes]
    return max(scored)[1]


def center_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Official resize-and-crop: halve with a box filter while possible, bicubic-resize to cover `size`, crop centre."""
    crop_w, crop_h = size
    while image.size[0] >= 2 * crop_w and image.size[1] >= 2 * crop_h:
        image = image.resize(tuple(x // 2 for x in image.size), resample=Image.BOX)
    scale = max(crop_w / image.size[0], crop_h / image.size[1])
    image = image.resize(tuple(round(x * scale) for x in image.size), resample=Image.BICUBIC)
    left, top = (image.size[0] - crop_w) // 2, (image.size[1] - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


def bucket_crop(frames: Any, target_size: int = 512, size: tuple[int, int] | None = None) -> np.ndarray:
    """
    Resizes and centre-crops all frames to one bucket.

    Args:
        frames: uint8 frames (see [`frames_to_tensor`] for the accepted forms, without a batch dimension).
        target_size: bucket family (`crop_size_list(target_size)`); the bucket closest in aspect ratio is used.
        size: a fixed `(width, height)` instead of the bucket search.

    Returns:
        [T, h, w, 3] uint8 frames.
    """
    images = [Image.fromarray(frame) for frame in _as_uint8_frames(frames)]
    if size is None:
        size = closest_crop_size(*images[0].size, crop_size_list(target_size))
    elif len(size) != 2 or min(size) < 1:
        raise ValueError(f"`size` must be a (width, height) pair of positive integers, got {size}.")
    return np.stack([np.asarray(center_crop(image, tuple(size))) for image in images])


# ---------------------------------------------------------------------------------------------------------------------
# Frames <-> tensors


def _whiten_transparency(image: Image.Image) -> Image.Image:
    """RGB version of a PIL image; transparent pixels are blended over white (as the official tokenizer wrapper)."""
    if image.mode == "RGB":
        return image
    rgba = np.array(image.convert("RGBA"))
    if not (rgba[:, :, 3] < 255).any():
        return image.convert("RGB")
    alpha = rgba[:, :, 3:] / 255.0
    return Image.fromarray(((1 - alpha) * 255 + alpha * rgba[:, :, :3]).astype(np.uint8), "RGB")


def _as_uint8_frames(frames: Any) -> np.ndarray:
    """PIL image(s) or uint8 array / tensor [..., H, W, 3] -> uint8 array with the same leading dimensions."""
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
    if frames.dtype != np.uint8:
        raise TypeError(
            f"`frames` arrays must be uint8 (0-255), got {frames.dtype}; float videos go to `encode` directly."
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
    array = _as_uint8_frames(frames)
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


# ---------------------------------------------------------------------------------------------------------------------
# Writing


def write_video(path: str | Path, frames: Any, fps: float = 12.0, quality: int = 8) -> Path:
    """
    Writes frames to `path`: `.mp4` (H.264 through imageio-ffmpeg) or `.gif`.

    Args:
        path: output file; the suffix selects the format.
        frames: uint8 frames ([T, H, W, 3] array / tensor or PIL images) or a float video [3, T, H, W] in [-1, 1].
        fps: frame rate.
        quality: mp4 quality, 0 (worst) to 10 (best).
    """
    import imageio.v2 as imageio

    path = Path(path)
    if fps <= 0:
        raise ValueError(f"`fps` must be positive, got {fps}.")
    if not 0 <= quality <= 10:
        raise ValueError(f"`quality` must lie in [0, 10], got {quality}.")
    if torch.is_tensor(frames) and frames.is_floating_point():
        frames = tensor_to_frames(frames)
    array = _as_uint8_frames(frames)
    if array.ndim != 4:
        raise ValueError(f"`frames` must be a single video [T, H, W, 3], got {array.shape}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        imageio.mimwrite(
            path, list(array), format="FFMPEG", fps=fps, codec="libx264", quality=quality, macro_block_size=2
        )
    elif suffix == ".gif":
        imageio.mimwrite(path, list(array), format="GIF", duration=1000.0 / fps, loop=0)
    else:
        raise ValueError(f"Unsupported video format {suffix!r}: use .mp4 or .gif.")
    return path
