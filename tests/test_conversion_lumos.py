"""Strict conversion of official checkpoints: formats, dtypes, unknown and missing keys, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import shared_path
from safetensors.torch import load_file, save_file

from lumos_hf import LumosForVideoGeneration
from lumos_hf.cli import main
from lumos_hf.conversion_lumos import convert_lumos_checkpoint, lumos_config_from_official

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def official() -> tuple[dict, dict[str, torch.Tensor]]:
    folder = shared_path("fixtures", "official_lumos_tiny", "official_checkpoint")
    return json.loads((folder / "config.json").read_text()), load_file(folder / "model.safetensors")


def write_checkpoint(folder: Path, config: dict, state: dict[str, torch.Tensor], fmt: str = "safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        save_file(state, folder / "model.safetensors")
    elif fmt == "sharded":
        keys = sorted(state)
        shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
        weight_map = {}
        for shard, shard_keys in shards.items():
            save_file({k: state[k] for k in shard_keys}, folder / shard)
            weight_map.update(dict.fromkeys(shard_keys, shard))
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    else:
        torch.save(state, folder / "pytorch_model.bin")
    return folder


@pytest.mark.parametrize("fmt", ["sharded", "bin"])
def test_formats_give_the_same_model(official, tmp_path, fmt):
    config, state = official
    state = {**state, "model.vqmodel.encoder.conv_in.weight": torch.zeros(2, 2)}  # dropped: the unused VQGAN
    source = write_checkpoint(tmp_path / "official", config, state, fmt)
    model = convert_lumos_checkpoint(source, tmp_path / "out")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in official[1].items())
    loaded = LumosForVideoGeneration.from_pretrained(tmp_path / "out")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in official[1].items())


def test_bf16_conversion(official, tmp_path):
    source = shared_path("fixtures", "official_lumos_tiny", "official_checkpoint")
    convert_lumos_checkpoint(source, tmp_path, dtype=torch.bfloat16)
    model = LumosForVideoGeneration.from_pretrained(tmp_path)
    assert model.dtype == torch.bfloat16
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32
    assert torch.equal(model.lm_head.weight, official[1]["lm_head.weight"].to(torch.bfloat16))


def test_unknown_missing_and_misshaped_keys_are_named(official, tmp_path):
    config, state = official
    broken = dict(state)
    broken["model.layers.0.self_attn.rotary.extra"] = torch.zeros(1)
    del broken["model.norm.weight"]
    broken["lm_head.weight"] = broken["lm_head.weight"][:, :8].contiguous()
    source = write_checkpoint(tmp_path / "official", config, broken)
    with pytest.raises(ValueError) as error:
        convert_lumos_checkpoint(source, tmp_path / "out")
    message = str(error.value)
    assert "model.layers.0.self_attn.rotary.extra" in message
    assert "missing keys (1): model.norm.weight" in message
    assert "lm_head.weight: checkpoint (129536, 8) vs model (129536, 64)" in message
    assert not (tmp_path / "out").exists()


def test_config_checks(official):
    config, _ = official
    assert lumos_config_from_official(config).video_vocab_size == 64000
    with pytest.raises(ValueError, match="mm_rope"):
        lumos_config_from_official({**config, "mm_rope": False})
    with pytest.raises(ValueError, match="rope_scaling"):
        lumos_config_from_official({**config, "rope_scaling": {"type": "linear", "factor": 2.0}})
    with pytest.raises(FileNotFoundError, match="no weights"):
        from lumos_hf.conversion_lumos import load_official_state_dict

        load_official_state_dict(shared_path("fixtures"))


def test_cli_and_script(tmp_path):
    source = shared_path("fixtures", "official_lumos_tiny", "official_checkpoint")
    assert main(["convert-model", "--input", str(source), "--output", str(tmp_path / "cli"), "--dtype", "bf16"]) == 0
    assert LumosForVideoGeneration.from_pretrained(tmp_path / "cli").dtype == torch.bfloat16
    copy = tmp_path / "official"
    shutil.copytree(source, copy)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "conversion" / "convert_lumos_checkpoint.py"),
            "--input",
            str(copy),
            "--output",
            str(tmp_path / "script"),
            "--no-remote-code",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "converted 16,663,360 parameters" in result.stdout
    assert "auto_map" not in json.loads((tmp_path / "script" / "config.json").read_text())
    assert "auto_map" in json.loads((tmp_path / "cli" / "config.json").read_text())
