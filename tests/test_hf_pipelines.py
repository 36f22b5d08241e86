"""transformers `pipeline("text-to-video" | "text-to-image" | "image-to-video")` over a saved LumosPipeline folder,
and the Hub-style remote-code folder loading where `lumos_hf` cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import PIL.Image
import pytest
import torch
from transformers import pipeline
from utils import build_tiny_pipeline

from lumos_hf.hf_pipelines import (
    LumosImageToVideoPipeline,
    LumosTextToImagePipeline,
    LumosTextToVideoPipeline,
    register_pipelines,
)

SMALL = {"height": 32, "width": 64, "num_inference_steps": 2}


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_pipeline()


@pytest.fixture(scope="module")
def model_dir(tiny, tmp_path_factory):
    register_pipelines()
    register_pipelines()  # idempotent
    path = tmp_path_factory.mktemp("tiny_lumos_pipeline")
    tiny.save_pretrained(path)
    return path


def test_text_to_video(model_dir, tiny):
    t2v = pipeline("text-to-video", model=str(model_dir))
    assert isinstance(t2v, LumosTextToVideoPipeline)
    out = t2v("a red cat", num_frames=5, fps=4, seed=3, **SMALL)
    assert out["fps"] == 4 and len(out["frames"]) == 5 and out["frames"][0].size == (64, 32)
    generator = torch.Generator().manual_seed(3)
    expected = tiny("a red cat", num_frames=5, fps=4, generator=generator, output_type="pil", **SMALL)
    diffs = [np.abs(np.asarray(a, dtype=int) - np.asarray(b)).max() for a, b in zip(out["frames"], expected.frames[0])]
    assert max(diffs) == 0, diffs
    both = t2v(["a red cat", "a dog"], num_frames=5, **SMALL)
    assert len(both) == 2 and all(len(o["frames"]) == 5 for o in both)


def test_text_to_image(model_dir):
    t2i = pipeline("text-to-image", model=str(model_dir))
    assert isinstance(t2i, LumosTextToImagePipeline)
    image = t2i("a red cat", guidance_scale=3.0, **SMALL)
    assert isinstance(image, PIL.Image.Image) and image.size == (64, 32)


def test_image_to_video(model_dir, tmp_path):
    i2v = pipeline("image-to-video", model=str(model_dir))
    assert isinstance(i2v, LumosImageToVideoPipeline)
    image = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8))
    out = i2v(image, prompt="a bird", num_frames=5, **SMALL)
    assert len(out["frames"]) == 5 and out["frames"][0].size == (64, 32)
    image.save(tmp_path / "first.png")
    out = i2v({"image": str(tmp_path / "first.png"), "prompt": "a bird"}, num_frames=5, num_inference_steps=1)
    assert out["frames"][0].size == (448, 256)  # the 256p bucket closest to 90:50


def test_unknown_argument(model_dir):
    t2v = pipeline("text-to-video", model=str(model_dir))
    with pytest.raises(TypeError, match="unexpected arguments"):
        t2v("a cat", num_frame=5)


def test_remote_code_folder_loads_without_lumos_hf(tiny, tmp_path):
    """`save_pretrained(remote_code=True)` writes the code; the folder loads in a process where `import lumos_hf`
    fails, with `DiffusionPipeline.from_pretrained(dir, trust_remote_code=True)` (same tokens) and with
    `transformers.pipeline("text-to-video", model=dir, trust_remote_code=True)`."""
    tiny.save_pretrained(tmp_path, remote_code=True)
    kwargs = {"num_frames": 5, "output_type": "tokens", **SMALL}
    expected = tiny("a red cat", generator=torch.Generator().manual_seed(0), **kwargs).frames
    torch.save(expected, tmp_path / "expected.pt")
    script = textwrap.dedent(
        f"""
        import sys
        import torch
        sys.modules["lumos_hf"] = None  # not importable
        from diffusers import DiffusionPipeline
        pipe = DiffusionPipeline.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)
        assert type(pipe).__name__ == "LumosPipeline" and "lumos_hf" not in type(pipe).__module__
        assert not any(name.startswith("lumos_hf.") for name in sys.modules)
        pipe.set_progress_bar_config(disable=True)
        out = pipe("a red cat", generator=torch.Generator().manual_seed(0), **{kwargs!r}).frames
        assert torch.equal(out, torch.load({str(tmp_path / "expected.pt")!r})), "different tokens"
        from transformers import pipeline
        t2v = pipeline("text-to-video", model={str(tmp_path)!r}, trust_remote_code=True)
        video = t2v("a red cat", num_frames=5, height=32, width=64, num_inference_steps=1, seed=0)
        assert len(video["frames"]) == 5 and video["frames"][0].size == (64, 32)
        print("remote ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "remote ok" in result.stdout, result.stderr[-3000:]
    # Without trust_remote_code the folder's code is refused.
    refused = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from diffusers import DiffusionPipeline; DiffusionPipeline.from_pretrained({str(tmp_path)!r})",
        ],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "trust_remote_code" in refused.stderr
