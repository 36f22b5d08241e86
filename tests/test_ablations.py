"""`benchmarks/ablations.py` on a micro budget: every kind of unit runs, the report and plots are written, a second
run reuses the results, and the vanilla 3D RoPE variant is what its docstring says."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from lumos_hf import LumosConfig, LumosForVideoGeneration
from lumos_hf.sequence_format import compute_mm_rope_layout

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "ablations.py"


def load_ablations():
    spec = importlib.util.spec_from_file_location("ablations", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_vanilla_3d_rope_is_contiguous_and_unscaled():
    ablations = load_ablations()
    options = ablations.vanilla_3d_rope(64)
    assert options == {"mm_rope_channel_pattern": "t" * 8 + "h" * 12 + "w" * 12, "position_scale": [1, 1, 1]}
    config = LumosConfig(hidden_size=128, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         video_vocab_size=64, **options)  # fmt: skip
    assert config.mrope_section == [8, 12, 12]
    LumosForVideoGeneration(config)  # builds
    # Unscaled positions: the second latent frame's first token sits one step after the first frame's in t.
    frame = [8197, 8805, 8805, *([65536] * 4 + [8803]) * 4, 8196]
    ids = [0, 5, 9004, *frame, *frame, 9005]
    layout = compute_mm_rope_layout(torch.tensor([ids]), position_scale=(1, 1, 1))
    t = layout.position_ids[0, 0]  # [L]
    firsts = [int(t[(layout.frame_ids[0] == f) & layout.visual_mask[0]][0]) for f in (0, 1)]
    assert firsts[1] - firsts[0] == 1


def test_micro_budget_run_writes_the_report_and_resumes(tmp_path):
    ablations = load_ablations()
    work = tmp_path / "ablations"
    command = [
        sys.executable, str(SCRIPT), f"--work_dir={work}", "--variants=random_mask", "--max_steps=2", "--save_steps=1",
        "--num_clips=4", "--val_clips=1", "--bench_seen=1", "--bench_held_out=1", "--bench_seeds=2",
        "--settings=history_random_0.3,temperature_official", "--batch_size=4", f"--plots_dir={tmp_path / 'plots'}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error::DeprecationWarning,error::FutureWarning"}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "4 units to run" in first.stdout

    results = json.loads((work / "results.json").read_text())
    assert results["train"]["random_mask-0"]["steps"] == 2
    evaluation = results["eval"]["random_mask-0"]
    for mode in ("tube", "random"):
        per_frame = evaluation["val_loss"][mode]["per_frame"]
        assert len(per_frame) == 5 and all(0 < loss < 20 for loss in per_frame)  # 17 frames = 5 latent frames
    assert evaluation["held_out"]["videos"] == 2 and evaluation["seen"]["videos"] == 1
    official = results["infer"]["temperature_official"]
    assert official["options"]["gumbel_temperature_schedule"] == "official"
    for group in ("seen", "held_out"):
        assert all(0 <= official[group][metric] <= 100 for metric in ("colour", "shape", "motion", "background"))
    assert set(official["held_out"]["seed_std"]) == {"colour", "shape", "motion", "background", "consistency"}
    for name in ("frame_loss.png", "inference.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["infer"]["temperature_official"]["settings"] == {
        "bench_seen": 1, "bench_held_out": 1, "bench_seeds": 2, "inference_model": None,
        "options": {**ablations.BASE_SETTING, "gumbel_temperature_schedule": "official"},
    }  # fmt: skip
    assert results["eval"]["random_mask-0"]["settings"]["variant"] == {"config": {}, "masking_mode": "random"}
    table = (work / "ablations.md").read_text()
    assert "| random_mask | 0 |" in table and "| temperature_official | held_out |" in table
    summary = table[table.index("| variant | seeds |") :]  # the summary over training seeds (one here)
    assert summary.splitlines()[2].startswith("| random_mask | 1 | ")

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "units to run" not in again.stdout  # every unit's result is reused

    # Results measured under other benchmark options are not reused silently.
    result_file = work / "results" / "infer-temperature_official.json"
    saved = result_file.read_text()
    bigger = [arg if not arg.startswith("--bench_seen=") else "--bench_seen=2" for arg in command]
    stale = subprocess.run(bigger, env=env, capture_output=True, text=True, timeout=300)
    assert stale.returncode == 1 and "--rerun_stale" in stale.stderr and "infer:temperature_official" in stale.stderr
    assert result_file.read_text() == saved
    fewer_clips = [arg if not arg.startswith("--num_clips=") else "--num_clips=3" for arg in command]
    other_data = subprocess.run(fewer_clips, env=env, capture_output=True, text=True, timeout=300)
    assert other_data.returncode == 1 and "was built with" in other_data.stderr
    # An evaluation of a model trained under other options is refused, not recorded under the new ones.
    longer = [*(arg for arg in command if not arg.startswith("--max_steps=")), "--max_steps=3", "--only=eval",
              "--rerun_stale"]  # fmt: skip
    mismatched = subprocess.run(longer, env=env, capture_output=True, text=True, timeout=300)
    assert mismatched.returncode == 1 and "eval:random_mask:0" in mismatched.stderr
    assert "was trained with" in (work / "logs" / "eval-random_mask-0.log").read_text()


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    for bad, message in (("--variants=rope_9d", "--variants: unknown"), ("--max_steps=0", "--max_steps must be")):
        result = subprocess.run([sys.executable, str(SCRIPT), f"--work_dir={tmp_path}", bad],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 2 and message in result.stderr
    assert not any(tmp_path.iterdir())
