"""Video I/O helpers: official frame sampling, aspect-ratio buckets, uint8 <-> tensor, mp4 / gif writing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from lumos_hf.data.video_io import read_video, sample_frame_indices, write_video
from lumos_hf.sequence_format import closest_crop_size, crop_size_list
from lumos_hf.video_processing_lumos import bucket_crop, center_crop, frames_to_tensor, tensor_to_frames
from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer


@pytest.fixture(scope="module")
def hawk() -> np.ndarray:
    return read_video(shared_path("data", "videos", "hawk_closeup.mp4"), fps=12, num_frames=25)


def test_read_video(hawk):
    assert hawk.shape == (25, 384, 672, 3) and hawk.dtype == np.uint8
    half_rate = read_video(shared_path("data", "videos", "hawk_closeup.mp4"), fps=6, num_frames=9)
    assert np.array_equal(half_rate, hawk[4:21:2])  # central window, even frame numbers (official rule)
    assert read_video(shared_path("data", "videos", "hawk_closeup.mp4"), fps=4).shape[0] == 9


def test_sample_frame_indices_official_rule():
    assert sample_frame_indices(25, 12, 12, 25) == list(range(25))
    assert sample_frame_indices(100, 24, 12, 25) == list(range(26, 76, 2))  # centred, stride 2
    assert sample_frame_indices(10, 30, 10, None) == [0, 3, 6, 9]
    with pytest.raises(ValueError, match="too short"):
        sample_frame_indices(25, 12, 12, 26)
    with pytest.raises(ValueError, match="`fps`"):
        sample_frame_indices(25, 12, 24, 9)
    with pytest.raises(ValueError, match="`num_frames`"):
        sample_frame_indices(25, 12, 12, 0)


def test_crop_size_lists():
    sizes = crop_size_list(512)
    assert sizes[0] == (1024, 256) and sizes[-1] == (256, 1024)  # aspect ratio at most 4
    assert all(w % 32 == 0 and h % 32 == 0 and (w // 32) * (h // 32) <= 256 for w, h in sizes)
    assert (672, 384) in sizes and (576, 416) in sizes  # the official 384p video and image buckets
    assert closest_crop_size(672, 384, sizes) == (672, 384)
    assert closest_crop_size(1920, 1080, crop_size_list(352)) == (448, 256)
    assert closest_crop_size(1000, 1000, sizes) == (512, 512)
    with pytest.raises(ValueError, match="target_size"):
        crop_size_list(16)


def test_center_crop_and_bucket(hawk):
    image = Image.fromarray(hawk[0])
    cropped = center_crop(image, (448, 256))
    assert cropped.size == (448, 256)
    frames = bucket_crop(hawk[:5], target_size=512)
    assert frames.shape == (5, 384, 672, 3)
    assert np.array_equal(frames, hawk[:5])  # already at the bucket size: unchanged
    square = bucket_crop([image, image], size=(64, 64))
    assert square.shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match="size"):
        bucket_crop(hawk[:1], size=(0, 64))


def test_frames_to_tensor_and_back(hawk):
    frames = hawk[:3, :16, :24]
    tensor = frames_to_tensor(frames)
    assert tensor.shape == (3, 3, 16, 24) and tensor.dtype == torch.float32
    torch.testing.assert_close(tensor, torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1)
    assert frames_to_tensor(np.stack([frames, frames])).shape == (2, 3, 3, 16, 24)
    assert frames_to_tensor(Image.fromarray(frames[0])).shape == (3, 1, 16, 24)
    assert torch.equal(frames_to_tensor(torch.from_numpy(frames)), tensor)
    back = tensor_to_frames(tensor)
    assert back.dtype == np.uint8 and back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).max() <= 1  # the official conversion truncates
    assert tensor_to_frames(torch.full((3, 1, 2, 2), 5.0)).min() == 255  # clamped
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert frames_to_tensor(rgba).min() == 1  # transparent pixels become white


@pytest.mark.parametrize(
    ("frames", "error"),
    [
        (np.full((2, 8, 8, 3), 2.0, dtype=np.float32), ValueError),  # float pixels must lie in [0, 1]
        (np.zeros((2, 8, 8, 3), dtype=np.int64), TypeError),
        (np.zeros((2, 8, 8, 4), dtype=np.uint8), ValueError),
        ([], TypeError),
        ("frames.mp4", TypeError),
    ],
)
def test_frames_to_tensor_bad_inputs(frames, error):
    with pytest.raises(error, match="frames"):
        frames_to_tensor(frames)


def test_write_and_read_back(tmp_path, hawk):
    frames = bucket_crop(hawk[:9], size=(112, 64))
    mp4 = write_video(tmp_path / "clip.mp4", frames, fps=12)
    again = read_video(mp4)
    assert again.shape == frames.shape
    assert np.abs(again.astype(int) - frames).mean() < 8  # lossy H.264
    gif = write_video(tmp_path / "clip.gif", frames_to_tensor(frames), fps=12)
    assert gif.stat().st_size > 0
    assert Image.open(gif).n_frames == 9
    with pytest.raises(ValueError, match="format"):
        write_video(tmp_path / "clip.avi", frames)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "clip.mp4", frames, fps=0)
    with pytest.raises(ValueError, match="at least one frame"):
        write_video(tmp_path / "empty.mp4", frames[:0])
    assert not (tmp_path / "empty.mp4").exists()


@torch.no_grad()
def test_real_video_through_tiny_tokenizer(hawk):
    frames = bucket_crop(hawk, size=(112, 64))
    assert frames.shape == (25, 64, 112, 3)
    torch.manual_seed(0)
    tokenizer = CosmosDiscreteVideoTokenizer(channels=16).eval()
    indices = tokenizer.encode(frames_to_tensor(frames)[None])
    assert indices.shape == (1, 7, 8, 14) and indices.dtype == torch.int64
    assert int(indices.min()) >= 0 and int(indices.max()) < 64000
    video = tokenizer.decode(indices)
    assert video.shape == (1, 3, 25, 64, 112)
    assert video.min() >= -1 and video.max() <= 1
    assert tensor_to_frames(video[0]).shape == (25, 64, 112, 3)


def test_one_faithful_conversion_for_every_image_kind():
    """16-bit and float images keep their brightness, palette and grayscale become RGB, alpha blends over white;
    the pipeline (`frames_to_tensor`) and pre-tokenization (`as_uint8_frames`) share this conversion."""
    from lumos_hf.video_processing_lumos import as_uint8_frames

    gray = np.full((4, 4), 128, np.uint8)
    expected = np.full((1, 4, 4, 3), 128, np.uint8)
    kinds = {
        "8-bit gray": Image.fromarray(gray),
        "16-bit gray": Image.fromarray(gray.astype(np.uint16) * 257),
        "float gray": Image.fromarray(gray.astype(np.float32) / 255),
        "palette": Image.fromarray(gray).convert("P"),
        "uint16 array": np.full((4, 4, 3), 128 * 257, np.uint16),
        "float array": np.full((4, 4, 3), 128 / 255),
    }
    for name, image in kinds.items():
        assert np.array_equal(as_uint8_frames(image), expected), name
    transparent = Image.fromarray(np.zeros((4, 4, 4), np.uint8), "RGBA")  # black, fully transparent
    assert (as_uint8_frames(transparent) == 255).all()
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        as_uint8_frames(np.full((4, 4, 3), 2.0))
    with pytest.raises(TypeError, match="uint8 .0-255., uint16"):
        as_uint8_frames(np.zeros((4, 4, 3), np.int64))


def test_read_video_says_what_is_wrong_with_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    with pytest.raises(IsADirectoryError, match="is a folder, not a video file"):
        read_video(tmp_path)
    with pytest.raises(ValueError, match="not a regular file"):
        read_video("/dev/null")
