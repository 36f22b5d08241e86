"""The fixture quick start: examples/quickstart.py converts the fixtures, checks parity and generates a video."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
from conftest import shared_path

from lumos_hf import LumosPipeline

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs_end_to_end(tmp_path):
    shared_path("fixtures")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("argmax identical: True") == 3
    frames = iio.imread(tmp_path / "quickstart.mp4", plugin="pyav")
    assert frames.shape == (9, 64, 128, 3)
    pipe = LumosPipeline.from_pretrained(tmp_path / "pipeline")
    assert pipe.transformer.config.video_vocab_size == 64000
