"""`examples/shapes/train_tokenizer.py` on a micro budget: trains, evaluates, saves, resumes, and takes config
overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np

from lumos_hf import CosmosDiscreteVideoTokenizer

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "shapes" / "train_tokenizer.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error::DeprecationWarning,error::FutureWarning"}


sys.path.insert(0, str(SCRIPT.parent))
import train_tokenizer  # noqa: E402


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=ENV, capture_output=True, text=True, timeout=600)


def test_train_tokenizer_micro_run_resumes_with_overrides(tmp_path):
    common = [f"--output_dir={tmp_path}", "--batch_size=1", "--eval_every=2", "--eval_clips=2", "--threads=1",
              '--config_json={"channels": 8, "levels": [5, 5]}']  # fmt: skip
    first = run(*common, "--max_steps=2")
    assert first.returncode == 0, first.stderr[-3000:]
    model = CosmosDiscreteVideoTokenizer.from_pretrained(tmp_path / "final")
    assert model.config.channels == 8 and list(model.config.levels) == [5, 5] and model.codebook_size == 25
    evaluations = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in evaluations if "eval" in record] == [2]
    assert 0 <= evaluations[-1]["eval"]["detector_agreement"] <= 1 and evaluations[-1]["eval"]["psnr_mean"] > 0

    second = run(*common, "--max_steps=3")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from" in second.stdout and "checkpoint-0000002" in second.stdout
    assert (tmp_path / "checkpoint-0000003").is_dir()
    saved = (tmp_path / "checkpoint-0000003" / "diffusion_pytorch_model.safetensors").read_bytes()

    # Another architecture than the checkpoint's is refused rather than loaded into a mismatched model.
    other = run(*common[:-1], '--config_json={"channels": 16}', "--max_steps=4")
    assert other.returncode != 0 and "another model config" in other.stderr
    assert (tmp_path / "checkpoint-0000003" / "diffusion_pytorch_model.safetensors").read_bytes() == saved
    assert not (tmp_path / "checkpoint-0000004").exists()
    for bad, message in (("channels=8", "not valid JSON"), ("[8]", "a JSON object is needed"),
                         ('{"chanels": 8}', "unknown fields ['chanels']")):  # fmt: skip
        refused = run(f"--output_dir={tmp_path / 'bad'}", f"--config_json={bad}")
        assert refused.returncode == 2 and "--config_json" in refused.stderr and message in refused.stderr
    assert not (tmp_path / "bad").exists()


def test_prefetched_batches_equal_the_rendered_ones_also_after_a_jump():
    render = partial(train_tokenizer.batch_arrays, 0, 2)
    prefetched = train_tokenizer.PrefetchedBatches(render, workers=2, ahead=3, limit=9)
    try:
        for step in (0, 1, 2, 7, 8, 3):  # 7: a resumed run starts elsewhere; 3: earlier steps are rendered again
            frames, foreground = prefetched(step)
            expected_frames, expected_foreground = render(step)
            np.testing.assert_array_equal(frames, expected_frames)
            np.testing.assert_array_equal(foreground, expected_foreground)
            assert foreground.shape == frames.shape[:-1] and foreground.any()
            assert all(s < 9 for s in prefetched.pending)  # nothing is rendered at or past the limit
        assert sorted(prefetched.pending) == [4, 5]
    finally:
        prefetched.close()
    assert not prefetched.pending
    refused = run("--output_dir=unused", "--workers=-1")
    assert refused.returncode == 2 and "--workers must be >= 0" in refused.stderr
