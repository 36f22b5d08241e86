"""Broken checkpoints and configs never load silently (no random weights, no impossible sizes)."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors.torch import load_file, save_file
from utils import tiny_config

from lumos_hf import LumosConfig, LumosForVideoGeneration, LumosModel


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    LumosForVideoGeneration(tiny_config()).save_pretrained(tmp_path)
    return tmp_path


def edit_weights(path, edit) -> None:
    weights = load_file(path / "model.safetensors")
    edit(weights)
    save_file(weights, path / "model.safetensors", metadata={"format": "pt"})


def test_complete_checkpoint_loads_and_base_model_drops_only_the_head(saved):
    model = LumosForVideoGeneration.from_pretrained(saved)
    base = LumosModel.from_pretrained(saved)
    torch.testing.assert_close(base.embed_tokens.weight, model.model.embed_tokens.weight)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda w: w.pop("lm_head.weight"), "missing.*lm_head.weight"),
        (lambda w: w.pop("model.layers.0.self_attn.q_proj.weight"), "missing.*q_proj"),
        (lambda w: w.update({"model.extra.weight": torch.zeros(2)}), "unexpected.*model.extra.weight"),
    ],
)
def test_broken_weights_raise(saved, edit, match):
    edit_weights(saved, edit)
    with pytest.raises(ValueError, match=match):
        LumosForVideoGeneration.from_pretrained(saved)
    model, info = LumosForVideoGeneration.from_pretrained(saved, strict=False, output_loading_info=True)
    assert info["missing_keys"] or info["unexpected_keys"]


def test_config_with_more_layers_than_the_weights_raises(saved):
    config = json.loads((saved / "config.json").read_text())
    config["num_hidden_layers"] += 1
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"missing.*layers\.2\."):
        LumosForVideoGeneration.from_pretrained(saved)


def test_mis_shaped_weight_raises(saved):
    edit_weights(saved, lambda w: w.update({"lm_head.weight": w["lm_head.weight"][:, :-1].contiguous()}))
    with pytest.raises(ValueError, match="of another shape.*lm_head.weight"):
        LumosForVideoGeneration.from_pretrained(saved)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"num_hidden_layers": -1}, "num_hidden_layers must be an integer >= 1"),
        ({"num_hidden_layers": 0}, "num_hidden_layers must be an integer >= 1"),
        ({"rms_norm_eps": -1.0}, "rms_norm_eps must be a finite float > 0"),
        ({"rms_norm_eps": float("nan")}, "rms_norm_eps must be a finite float > 0"),
        ({"num_attention_heads": 0}, "num_attention_heads must be an integer >= 1"),
        ({"attention_dropout": 1.0}, r"attention_dropout must be in \[0, 1\)"),
        ({"hidden_act": "swish2"}, "hidden_act"),
    ],
)
def test_impossible_configs_raise(saved, change, match):
    with pytest.raises(StrictDataclassError, match=match):
        LumosConfig(**{**tiny_config().to_dict(), **change})
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(StrictDataclassError, match=match):
        LumosForVideoGeneration.from_pretrained(saved)
