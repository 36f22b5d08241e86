"""Conversion of official Cosmos DV tokenizer weights: TorchScript and safetensors inputs, strict key mapping, CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from conftest import shared_path
from safetensors.torch import load_file, save_file
from utils import save_official_jit

from lumos_hf.commands import convert_tokenizer
from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer
from lumos_hf.video_tokenizer.conversion import (
    convert_cosmos_tokenizer,
    convert_state_dict,
    infer_config,
    load_official_state_dict,
)

FIXTURE = ("fixtures", "official_cosmos_dv_tiny")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def encoder_state() -> dict[str, torch.Tensor]:
    return load_file(shared_path(*FIXTURE, "encoder_state.safetensors"))


@pytest.fixture(scope="module")
def decoder_state() -> dict[str, torch.Tensor]:
    return load_file(shared_path(*FIXTURE, "decoder_state.safetensors"))


@pytest.fixture(scope="module")
def cases() -> dict[str, torch.Tensor]:
    return load_file(shared_path(*FIXTURE, "cases.safetensors"))


def _assert_matches_official(model: CosmosDiscreteVideoTokenizer, cases: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        assert torch.equal(model.encode(cases["input"][None])[0], cases["indices"])
        reconstruction = model.decode(cases["indices"][None], clamp=False)[0]
    torch.testing.assert_close(reconstruction, cases["reconstruction"], atol=1e-4, rtol=0)


def test_torchscript_encoder_decoder(tmp_path, encoder_state, decoder_state, cases):
    encoder = save_official_jit(encoder_state, tmp_path / "encoder.jit")
    decoder = save_official_jit(decoder_state, tmp_path / "decoder.jit")
    assert set(load_official_state_dict(encoder)) == set(encoder_state)
    convert_cosmos_tokenizer(encoder=encoder, decoder=decoder, output_dir=tmp_path / "out")
    model = CosmosDiscreteVideoTokenizer.from_pretrained(tmp_path / "out").eval()
    _assert_matches_official(model, cases)


def test_torchscript_autoencoder_without_unused_convs(tmp_path, encoder_state, decoder_state, cases):
    unused = [
        "encoder.down.0.downsample.conv2",
        "encoder.down.1.downsample.conv",
        "decoder.up.2.upsample.conv1",
        "decoder.up.1.upsample.conv",
    ]
    state = {k: v for k, v in {**encoder_state, **decoder_state}.items() if not k.startswith(tuple(unused))}
    assert len(encoder_state) + len(decoder_state) - len(state) == 16  # 8 convs, weight and bias
    autoencoder = save_official_jit(state, tmp_path / "autoencoder.jit")
    _assert_matches_official(convert_cosmos_tokenizer(autoencoder=autoencoder), cases)


def test_infer_config_from_weights_only(encoder_state, decoder_state):
    state = {**encoder_state, **decoder_state}
    config = infer_config(state)
    official = json.loads(shared_path(*FIXTURE, "config.json").read_text())
    for key in ("channels", "channels_mult", "num_res_blocks", "patch_size", "z_channels", "z_factor", "levels"):
        assert config[key] == official[key], key
    assert (config["spatial_compression"], config["temporal_compression"]) == (8, 4)
    assert config["attn_resolutions"] == []  # no attention in the down/up blocks at these resolutions
    # Without the buffers, the levels come from the quant_conv width (DV default) and the patch size from RGB input.
    bare = {k: v for k, v in state.items() if "quantizer" not in k and "patcher3d" not in k}
    assert infer_config(bare) == config


def test_strict_mapping(encoder_state, decoder_state):
    state = {**encoder_state, **decoder_state}
    model = CosmosDiscreteVideoTokenizer(**infer_config(state))
    converted, skipped = convert_state_dict(state, model)
    assert set(converted) == set(model.state_dict())
    assert sum(".conv3d." in k for k in skipped) == 16  # the 8 unused hybrid sampling convs
    with pytest.raises(ValueError, match="no counterpart"):
        convert_state_dict({**state, "encoder.mid.extra.weight": torch.zeros(1)}, model)
    with pytest.raises(ValueError, match="missing"):
        convert_state_dict({k: v for k, v in state.items() if k != "decoder.norm_out.norm.weight"}, model)
    with pytest.raises(ValueError, match="shape"):
        convert_state_dict({**state, "quant_conv.conv3d.bias": torch.zeros(7)}, model)


def test_buffers_are_verified(encoder_state, decoder_state):
    state = {**encoder_state, **decoder_state}
    model = CosmosDiscreteVideoTokenizer(**{**infer_config(state), "levels": [8, 8, 8, 6, 5, 4]})
    with pytest.raises(ValueError, match="quantizer.* does not match the configuration"):
        convert_state_dict(state, model)
    with pytest.raises(ValueError, match="levels"):
        infer_config(state, {"levels": [8, 8, 8, 6, 5, 4]})
    bad_codebook = {**state, "inv_quant.quantizer.implicit_codebook": torch.zeros(64000, 6)}
    with pytest.raises(ValueError, match="implicit_codebook"):
        convert_state_dict(bad_codebook, CosmosDiscreteVideoTokenizer(**infer_config(state)))


def test_bad_inputs(tmp_path, encoder_state):
    with pytest.raises(ValueError, match="encoder"):
        convert_cosmos_tokenizer()
    with pytest.raises(ValueError, match="missing"):
        infer_config(encoder_state)  # decoder half missing
    with pytest.raises(FileNotFoundError):
        load_official_state_dict(tmp_path / "nope.jit")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="Unsupported"):
        load_official_state_dict(tmp_path / "weights.bin")
    conflicting = tmp_path / "other.safetensors"
    save_file({"quant_conv.conv3d.bias": torch.ones(6)}, str(conflicting))
    with pytest.raises(ValueError, match="Conflicting"):
        convert_cosmos_tokenizer(
            encoder=shared_path(*FIXTURE, "encoder_state.safetensors"), decoder=conflicting, output_dir=None
        )


def test_cli_sub_command(tmp_path, cases):
    parser = argparse.ArgumentParser(prog="lumos-hf")
    convert_tokenizer.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "convert-tokenizer",
            "--encoder",
            str(shared_path(*FIXTURE, "encoder_state.safetensors")),
            "--decoder",
            str(shared_path(*FIXTURE, "decoder_state.safetensors")),
            "--config",
            str(shared_path(*FIXTURE, "config.json")),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert args.func(args) == 0
    _assert_matches_official(CosmosDiscreteVideoTokenizer.from_pretrained(tmp_path / "out").eval(), cases)
