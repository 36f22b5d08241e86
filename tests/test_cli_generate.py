"""`lumos-hf generate` on a saved tiny pipeline: text-to-video, text-to-image, image-to-video, errors."""

from __future__ import annotations

import numpy as np
import PIL.Image
import PIL.ImageSequence
import pytest
import torch
from utils import build_tiny_pipeline

from lumos_hf import LumosPipeline, cli
from lumos_hf.commands.generate import stream_with_progress


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_lumos_pipeline")
    build_tiny_pipeline().save_pretrained(path)
    return path


def run(*argv: str) -> int:
    return cli.main(["generate", *argv])


def test_text_to_video(model_dir, tmp_path, capsys):
    output = tmp_path / "out.mp4"
    common = ["--height", "32", "--width", "64", "--frames", "5", "--fps", "4", "--steps", "2", "--seed", "1"]
    assert run("a red cat", "--model", str(model_dir), "--output", str(output), *common) == 0
    out, err = capsys.readouterr()
    assert output.stat().st_size > 0 and "wrote 5 frame(s) of 64x32" in out
    # One progress bar over the latent frames (sampled and decoded as they come), not over the steps.
    assert "2/2 [" in err and "latent frame" in err and "first frame decoded after" in out + err


def test_streamed_frames_are_the_pipeline_frames():
    """The command streams (decodes each latent frame as soon as it is sampled): the frames are `pipe(...)`'s."""
    pipe = build_tiny_pipeline()
    kwargs = {"height": 32, "width": 64, "num_frames": 9, "fps": 4, "num_inference_steps": 2, "output_type": "pil"}
    streamed = stream_with_progress(pipe, "a red cat", 3, generator=torch.Generator().manual_seed(1), **kwargs)
    expected = pipe("a red cat", generator=torch.Generator().manual_seed(1), **kwargs).frames[0]
    assert len(streamed) == len(expected) == 9
    assert max(np.abs(np.asarray(a, int) - np.asarray(b, int)).max() for a, b in zip(streamed, expected)) <= 1


def test_text_to_image(model_dir, tmp_path):
    output = tmp_path / "out.png"
    common = [
        "--height",
        "32",
        "--width",
        "32",
        "--frames",
        "1",
        "--steps",
        "2",
        "--guidance",
        "3",
        "--dtype",
        "bfloat16",
    ]
    assert run("a red cat", "--model", str(model_dir), "--output", str(output), *common) == 0
    assert PIL.Image.open(output).size == (32, 32)


def test_image_to_video(model_dir, tmp_path):
    image = tmp_path / "first.png"
    PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8)).save(image)
    output = tmp_path / "out.gif"
    common = ["--height", "32", "--width", "64", "--frames", "5", "--steps", "1", "--history-mask", "random"]
    assert run("a bird", "--model", str(model_dir), "--image", str(image), "--output", str(output), *common) == 0
    gif = PIL.Image.open(output)
    assert gif.size == (64, 32) and gif.n_frames == 5


def gif_frames(path) -> np.ndarray:
    """`[F, H, W, 3]` uint8 frames of a GIF."""
    return np.stack([np.asarray(frame.convert("RGB")) for frame in PIL.ImageSequence.Iterator(PIL.Image.open(path))])


def test_history_mask_defaults_to_the_models(tmp_path):
    """Without `--history-mask-ratio` / `--history-mask` the command samples with the model's `generation_config`."""
    model = tmp_path / "model"
    settings = {"height": 32, "width": 64, "num_frames": 5, "fps": 4, "num_inference_steps": 2}
    pipe = build_tiny_pipeline()
    LumosPipeline(
        **pipe.components, generation_config={**settings, "history_mask_ratio": 0.3, "history_mask": "random"}
    ).save_pretrained(model)
    videos = {}
    for name, flags in {
        "default": [],
        "same": ["--history-mask-ratio", "0.3", "--history-mask", "random"],
        "official": ["--history-mask-ratio", "0.7", "--history-mask", "periodic"],
    }.items():
        assert run("a red cat", "--model", str(model), "--output", str(tmp_path / f"{name}.gif"), *flags) == 0
        videos[name] = gif_frames(tmp_path / f"{name}.gif")
    assert videos["default"].shape == (5, 32, 64, 3)
    assert np.array_equal(videos["default"], videos["same"])
    assert not np.array_equal(videos["default"], videos["official"])


def test_errors(model_dir, tmp_path):
    with pytest.raises(ValueError, match="image file"):
        run("a cat", "--model", str(model_dir), "--output", str(tmp_path / "x.png"), "--frames", "5")
    with pytest.raises(ValueError, match="multiples of 32"):
        run("a cat", "--model", str(model_dir), "--output", str(tmp_path / "x.mp4"), "--height", "40", "--frames", "5")
    with pytest.raises(ValueError, match="must end in"):
        run("a cat", "--model", str(model_dir), "--output", str(tmp_path / "x.avi"))
    (tmp_path / "taken.mp4").write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="--overwrite"):
        run("a cat", "--model", str(model_dir), "--output", str(tmp_path / "taken.mp4"))
    assert (tmp_path / "taken.mp4").read_bytes() == b"keep"
