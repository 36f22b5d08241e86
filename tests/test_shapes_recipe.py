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
import pytest
import torch

from lumos_hf import CosmosDiscreteVideoTokenizer
from lumos_hf.training.video_tokenizer import frames_to_video

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "shapes" / "train_tokenizer.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error::DeprecationWarning,error::FutureWarning"}


sys.path.insert(0, str(SCRIPT.parent))
import evaluate_tokenizer  # noqa: E402
import train_tokenizer  # noqa: E402


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=ENV, capture_output=True, text=True, timeout=600)


def test_train_tokenizer_micro_run_resumes_with_overrides(tmp_path):
    common = [f"--output_dir={tmp_path}", "--batch_size=1", "--eval_every=2", "--eval_clips=2", "--threads=1",
              '--config_json={"channels": 8, "levels": [5, 5]}', "--clip_frames=5", "--crop_size=32",
              "--full_clips_from=1", "--edge_weight=2"]  # fmt: skip
    first = run(*common, "--max_steps=2")
    assert first.returncode == 0, first.stderr[-3000:]
    model = CosmosDiscreteVideoTokenizer.from_pretrained(tmp_path / "final")
    assert model.config.channels == 8 and list(model.config.levels) == [5, 5] and model.codebook_size == 25
    evaluations = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in evaluations if "eval" in record] == [2]
    assert 0 <= evaluations[-1]["eval"]["detector_agreement"] <= 1 and evaluations[-1]["eval"]["psnr_mean"] > 0
    assert all(0 <= evaluations[-1]["eval"][f"{key}_agreement"] <= 1 for key in train_tokenizer.ATTRIBUTES)
    report = evaluate_tokenizer.evaluate(model.eval(), 2)  # the same clips as the run's own evaluation
    for key in (
        "psnr_mean",
        "psnr_min",
        "detector_agreement",
        *(f"{k}_agreement" for k in train_tokenizer.ATTRIBUTES),
    ):
        assert report[key] == pytest.approx(evaluations[-1]["eval"][key])
    assert sum(report["shape_confusion"].values()) == 2

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

    # A decoder-only fine-tune (on FSQ-neighbour token noise) of the saved model: new decoder weights, the same
    # encoder and tokens.
    base = CosmosDiscreteVideoTokenizer.from_pretrained(tmp_path / "final")
    tuned_dir = tmp_path / "decoder"
    tuned = run(f"--output_dir={tuned_dir}", f"--init_from={tmp_path / 'final'}", "--decoder_only", "--batch_size=1",
                "--eval_every=2", "--eval_clips=1", "--threads=1", "--full_clips_from=0", "--max_steps=2",
                "--learning_rate=1e-2", "--token_noise=0.3")  # fmt: skip
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    tuned_model = CosmosDiscreteVideoTokenizer.from_pretrained(tuned_dir / "final")
    weights, tuned_weights = base.state_dict(), tuned_model.state_dict()
    changed = {name for name in weights if not torch.equal(weights[name], tuned_weights[name])}
    assert changed and all(name.startswith(("decoder.", "post_quant_conv.")) for name in changed)
    clip = frames_to_video(train_tokenizer.evaluation_clips(1))
    assert torch.equal(tuned_model.encode(clip), base.encode(clip))


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


def test_windows_and_crops_are_cut_from_the_step_clips_around_the_object():
    frames, foreground = train_tokenizer.batch_arrays(0, 6, 5, clip_frames=9, crop_size=32)
    assert frames.shape == (6, 9, 32, 32, 3) and foreground.shape == (6, 9, 32, 32)
    np.testing.assert_array_equal(frames, train_tokenizer.batch_arrays(0, 6, 5, clip_frames=9, crop_size=32)[0])
    full, full_foreground = train_tokenizer.batch_arrays(0, 6, 5)
    for crop, crop_foreground, clip, clip_foreground in zip(frames, foreground, full, full_foreground):
        # The crop is 9 consecutive frames at a grid-aligned corner of the step's clip, and holds most of the object
        # that the clip shows in those frames.
        origins = [
            (t, y, x)
            for t in range(17 - 9 + 1)
            for y in range(0, 64 - 32 + 1, 8)
            for x in range(0, 64 - 32 + 1, 8)
            if np.array_equal(clip_foreground[t : t + 9, y : y + 32, x : x + 32], crop_foreground)
            and np.array_equal(clip[t : t + 9, y : y + 32, x : x + 32], crop)
        ]
        assert origins, "the crop is not a grid-aligned window of the clip"
        assert any(crop_foreground.sum() >= 0.5 * clip_foreground[t : t + 9].sum() for t, _, _ in origins)
    # Whole clips from `full_clips_from` on; windows and crops before.
    before = train_tokenizer.curriculum_batch(0, 2, 9, 32, 4, step=3)[0]
    after = train_tokenizer.curriculum_batch(0, 2, 9, 32, 4, step=4)[0]
    assert before.shape == (2, 9, 32, 32, 3) and after.shape == (2, 17, 64, 64, 3)
    np.testing.assert_array_equal(after, train_tokenizer.batch_arrays(0, 2, 4)[0])


def test_edge_band_covers_both_sides_of_the_edge():
    square = torch.zeros(2, 32, 32, dtype=torch.bool)
    square[:, 10:20, 10:20] = True
    band = train_tokenizer.edge_band(square, width=2)
    assert band.shape == square.shape and band.dtype == torch.bool
    assert int(band[0].sum()) == 14 * 14 - 6 * 6  # dilated by 2 minus eroded by 2
    assert band[0, 8, 8] and band[0, 11, 11] and not band[0, 15, 15] and not band[0, 7, 7]
    assert not train_tokenizer.edge_band(torch.zeros(1, 8, 8, dtype=torch.bool)).any()


def test_evaluate_tokenizer_refuses_a_folder_without_a_tokenizer(tmp_path, monkeypatch, capsys):
    for argv, message in (([str(tmp_path)], "no config.json"), ([str(tmp_path), "--clips=0"], "must be >= 1")):
        monkeypatch.setattr(sys, "argv", ["evaluate_tokenizer.py", *argv])
        with pytest.raises(SystemExit) as raised:
            evaluate_tokenizer.main()
        assert raised.value.code == 2 and message in capsys.readouterr().err


def test_train_tokenizer_refuses_bad_curriculum_arguments(tmp_path, monkeypatch, capsys):
    for flag, message in (("--clip_frames=8", "--clip_frames must be 1 + 4k"), ("--crop_size=30", "--crop_size must be"),
                          ("--crop_size=72", "--crop_size must be"), ("--edge_weight=-1", "must be >= 0")):  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["train_tokenizer.py", f"--output_dir={tmp_path / 'out'}", flag])
        with pytest.raises(SystemExit) as exit_info:
            train_tokenizer.main()
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    no_config = tmp_path / "empty"
    no_config.mkdir()
    for flags, message in ((["--decoder_only"], "--decoder_only needs --init_from"),
                           ([f"--init_from={no_config}"], "no config.json"),
                           ([f"--init_from={no_config}", '--config_json={"channels": 8}'], "cannot change"),
                           (["--mse_weight=-1"], "must be >= 0"),
                           (["--token_noise=0.2"], "needs --decoder_only"),
                           ([f"--init_from={no_config}", "--decoder_only", "--token_noise=1"], "[0, 1)")):  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["train_tokenizer.py", f"--output_dir={tmp_path / 'out'}", *flags])
        with pytest.raises(SystemExit) as exit_info:
            train_tokenizer.main()
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
