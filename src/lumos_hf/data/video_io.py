"""Video files in and out: frame sampling at a target fps as the official pre-processing, and mp4 / gif writing.

Frames are uint8 RGB numpy arrays `[T, H, W, 3]` unless stated otherwise; resizing, cropping and the conversion to
the video tokenizer's `[-1, 1]` tensors live in `lumos_hf.video_processing_lumos`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..video_processing_lumos import as_uint8_frames, tensor_to_frames

__all__ = ["read_video", "sample_frame_indices", "write_video"]


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
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a video file.")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (a fifo, socket or device): videos are read from files.")
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
    array = as_uint8_frames(frames)
    if array.ndim != 4 or array.shape[0] == 0:
        raise ValueError(f"`frames` must be a single video [T, H, W, 3] of at least one frame, got {array.shape}.")
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
