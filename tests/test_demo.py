"""The shapes demo model shipped in the package: loads offline, is small, and its videos show what the prompt asks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch

from lumos_hf import LumosPipeline, demo
from lumos_hf.data import shapes
from lumos_hf.data.shapes_detector import NONE, detect_clip, detect_frame

PROMPT = "a yellow square stays still on a gray background"


@pytest.fixture(scope="module")
def pipe() -> LumosPipeline:
    pipe = LumosPipeline.from_pretrained(demo.model_path())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def to_uint8(frames) -> np.ndarray:
    return np.round(np.asarray(frames) * 255).astype(np.uint8)


def test_shipped_folder_is_small_and_safe():
    files = [path for path in demo.model_path().rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) <= 25 * 2**20
    assert {path.suffix for path in files} <= {".json", ".safetensors"}
    index = json.loads((demo.model_path() / "model_index.json").read_text())
    assert index["generation_config"]["height"] == shapes.FRAME_SIZE
    assert index["generation_config"]["num_frames"] == shapes.NUM_FRAMES


def test_loads_offline_in_float32_with_the_demo_defaults(pipe):
    assert pipe.transformer.dtype == torch.float32 and pipe.video_tokenizer.dtype == torch.float32
    defaults = pipe.generation_defaults
    assert (defaults["height"], defaults["width"], defaults["num_frames"], defaults["fps"]) == (64, 64, 17, 8)
    assert (defaults["history_mask_ratio"], defaults["history_mask"]) == (0.7, "periodic")
    assert pipe.scheduler.config.temperature == 0.3  # the demo's sampling temperature (docs/demo.md)
    code = (
        "import os, socket\n"
        "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = refuse\n"
        "from lumos_hf import LumosPipeline, demo\n"
        "pipe = LumosPipeline.from_pretrained(demo.model_path())\n"
        "print(type(pipe).__name__)\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "LumosPipeline"


def test_text_to_video_draws_an_object_on_the_asked_background(pipe):
    generators = [torch.Generator().manual_seed(seed) for seed in (0, 1)]
    prompts = ["a red circle moves right on a black background", PROMPT]
    videos = to_uint8(pipe(prompts, generator=generators, output_type="np").frames)
    assert videos.shape == (2, 17, 64, 64, 3)
    # The shipped model gets colour and background in every benchmark video, shape and motion roughly eight times in
    # ten (docs/demo.md). The first video (seed 0) is one it gets entirely right: of seeds 0-7 of this prompt, all 8
    # are red circles moving right on black, 7 of them keeping their shape in every frame.
    first = detect_clip(videos[0])
    assert (first.colour, first.shape, first.motion, first.background) == ("red", "circle", "moves right", "black")
    assert first.consistent, "the object changes colour or shape between frames"
    reading = detect_clip(videos[1])
    assert (reading.colour, reading.background) == ("yellow", "gray")
    assert all(frame.colour != NONE for frame in reading.frames), "a frame without an object"


def test_text_to_image_and_image_to_video(pipe):
    image = to_uint8(pipe(PROMPT, num_frames=1, generator=torch.Generator().manual_seed(0)).frames)[0]
    assert image.shape == (1, 64, 64, 3)
    assert detect_frame(image[0]).colour != NONE
    clip = next(shapes.generate_examples(5, "train", 1))
    video = to_uint8(
        pipe(clip["caption"], image=clip["frames"][0], generator=torch.Generator().manual_seed(0)).frames
    )[0]
    reading = detect_clip(video)
    assert video.shape == (17, 64, 64, 3)
    assert reading.background == clip["background"]
    assert detect_frame(video[0]).colour == clip["colour"]  # the given first frame, through the tokenizer


def test_generate_command_uses_the_demo_model(tmp_path):
    output = tmp_path / "demo.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "lumos_hf.cli", "generate", PROMPT, "--output", str(output), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    from lumos_hf.data.video_io import read_video

    frames = read_video(output, fps=8)
    assert frames.shape[1:] == (64, 64, 3) and len(frames) == 17


def test_transformers_pipeline_without_a_model_uses_the_demo_model():
    from transformers import pipeline

    t2v = pipeline("text-to-video")
    out = t2v(PROMPT, seed=0)
    assert len(out["frames"]) == 17 and out["frames"][0].size == (64, 64) and out["fps"] == 8


def test_image_to_video_task_keeps_the_demo_size():
    """`pipeline("image-to-video")` with no model and no size: the image is cropped to the model's own 64x64, not to
    the official 256p bucket."""
    from transformers import pipeline

    from lumos_hf.data.shapes import generate_examples

    first = PIL.Image.fromarray(next(generate_examples(0, "all", 1))["frames"][0]).resize((96, 96))
    out = pipeline("image-to-video")(first, prompt=PROMPT, seed=0, num_inference_steps=2)
    assert len(out["frames"]) == 17 and out["frames"][0].size == (64, 64)
