"""Multi-process training with `accelerate launch` (2 CPU processes, gloo) and the shipped accelerate configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate.commands.config.config_args import ClusterConfig
from accelerate.utils.dataclasses import get_module_class_from_name
from safetensors.torch import load_file
from utils import TINY, synthetic_samples

from lumos_hf import LumosConfig, LumosForVideoGeneration
from lumos_hf.modeling_lumos import LumosDecoderLayer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "accelerate_configs"

# Run inside each launched process: train with an example's main(), then save this rank's weights (unless sharded)
# and the names of its FSDP-sharded module classes.
RANK_SCRIPT = """
import importlib.util, json, sys
from pathlib import Path

from accelerate import PartialState
from safetensors.torch import save_file

example = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location(example.stem, example)
module = importlib.util.module_from_spec(spec)
sys.modules[example.stem] = module
spec.loader.exec_module(module)
trainer = module.main(sys.argv[3:])
model = trainer.accelerator.unwrap_model(trainer.model)
out = Path(sys.argv[2]) / f"rank{PartialState().process_index}"
sharded = sorted({type(m).__name__ for m in model.modules() if type(m).__name__.startswith("FSDP")})
out.with_suffix(".json").write_text(json.dumps({"fsdp": trainer.is_fsdp_enabled, "sharded_classes": sharded}))
if not trainer.is_fsdp_enabled:
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out) + ".safetensors")
"""


def launch(tmp_path: Path, example: str, launch_args: list[str], extra_args: list[str] = ()) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(sample) + "\n" for sample in synthetic_samples(8)))
    script = tmp_path / "rank_script.py"
    script.write_text(RANK_SCRIPT)
    weights = tmp_path / "weights"
    weights.mkdir()
    command = [
        sys.executable, "-m", "accelerate.commands.launch", *launch_args,
        "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", "0",
        str(script), str(ROOT / "examples" / example), str(weights),
        "--config_name", "lumos-1-1b",
        "--config_overrides", "hidden_size=64,intermediate_size=128,num_hidden_layers=2,num_attention_heads=2,"
        "head_dim=32,video_vocab_size=64",
        "--dataset", str(data),
        "--output_dir", str(tmp_path / "out"),
        "--max_steps", "3",
        "--per_device_train_batch_size", "2",
        "--learning_rate", "1e-3",
        "--save_strategy", "no",
        "--report_to", "none",
        "--disable_tqdm", "true",
        "--dataloader_num_workers", "0",
        "--use_cpu",
        *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return weights


def test_two_process_ddp_run_keeps_ranks_identical(tmp_path):
    # `--cpu` alone starts a single process (accelerate's simple launcher): `--multi_gpu` starts 2 processes through
    # torchrun, which on a machine without GPU join a gloo process group; `--use_cpu` keeps Trainer on the CPU.
    weights = launch(tmp_path, "train_lumos.py", ["--multi_gpu"])
    assert json.loads((weights / "rank1.json").read_text()) == {"fsdp": False, "sharded_classes": []}
    rank0, rank1 = load_file(weights / "rank0.safetensors"), load_file(weights / "rank1.safetensors")
    assert rank0.keys() == rank1.keys() and len(rank0) > 10
    for name, tensor in rank0.items():
        assert torch.equal(tensor, rank1[name]), name
    saved = LumosForVideoGeneration.from_pretrained(tmp_path / "out")  # written once, by the main process
    for name, tensor in saved.state_dict().items():
        assert torch.equal(tensor, rank0[name]), name
    # Training moved the weights: a fresh model with the same seed differs.
    torch.manual_seed(42)  # TrainingArguments' default seed, set before the model is built
    config = saved.config
    initial = LumosForVideoGeneration(config).state_dict()
    assert not torch.equal(initial["lm_head.weight"], rank0["lm_head.weight"])


@pytest.mark.parametrize("name", ["ddp.yaml", "fsdp.yaml", "deepspeed.yaml"])
def test_accelerate_configs_are_valid(name):
    config = ClusterConfig.from_yaml_file(str(CONFIGS / name))
    assert config.num_machines == 1 and config.mixed_precision in ("bf16", None, "no")
    if name == "fsdp.yaml":
        fsdp = config.fsdp_config
        assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
        layer = fsdp["fsdp_transformer_layer_cls_to_wrap"]
        assert layer in LumosForVideoGeneration._no_split_modules
        # The class accelerate's TRANSFORMER_BASED_WRAP policy looks up in the model (FSDP needs GPUs: accelerate
        # does not shard on CPU, so the 2-process CPU test runs DDP).
        model = LumosForVideoGeneration(LumosConfig(**TINY, video_vocab_size=64))
        assert get_module_class_from_name(model, layer) is LumosDecoderLayer
    if name == "deepspeed.yaml":
        json_file = ROOT / config.deepspeed_config["deepspeed_config_file"]
        settings = json.loads(json_file.read_text())
        assert settings["zero_optimization"]["stage"] == 2 and settings["gradient_clipping"] == "auto"
        zero3 = json.loads((CONFIGS / "deepspeed_zero3.json").read_text())
        assert zero3["zero_optimization"]["stage"] == 3


def test_distributed_generation_matches_one_process(tmp_path):
    """examples/generate_distributed.py: 2 processes (gloo) write the same videos as 1 process (per-video seeds,
    batches of one)."""
    from lumos_hf import read_video

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle moves right on a black background\na blue square stays still on a gray "
                       "background\n\na white triangle moves up on a black background\n")  # fmt: skip
    example = str(ROOT / "examples" / "generate_distributed.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0", "--cpu"]  # fmt: skip
    runs = {"two": [*launch, example, "--batch_size", "1"], "one": [sys.executable, example, "--batch_size", "1"]}
    for name, command in runs.items():
        command = [*command, "--prompts", str(prompts), "--output_dir", str(tmp_path / name)]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    written = sorted(path.name for path in (tmp_path / "two").iterdir())
    assert written == ["00000.mp4", "00001.mp4", "00002.mp4"]  # blank lines are not prompts; no partial files
    for name in written:
        assert np.array_equal(read_video(tmp_path / "two" / name), read_video(tmp_path / "one" / name))
    again = subprocess.run([sys.executable, example, "--prompts", str(prompts), "--output_dir", str(tmp_path / "one")],
                           env=env, capture_output=True, text=True, timeout=400)  # fmt: skip
    assert again.returncode != 0 and "--overwrite" in again.stderr
