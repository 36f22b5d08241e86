"""
Conversion of NVIDIA's official Cosmos discrete tokenizer weights (`encoder.jit`, `decoder.jit`, `autoencoder.jit`, or
`.safetensors` state dicts with the same key names) into a [`CosmosDiscreteVideoTokenizer`].

The architecture is read off the weights (channels, channel multipliers, residual blocks, attention levels, patch
size, latent channels, FSQ levels); the compression factors, which the weights cannot tell apart when the unused
sampling convolutions are present, come from the official config or default to DV4x8x8. Every key is mapped
strictly: only the unused hybrid up/down-sampling convolutions and the known constant buffers may be left out, and
those buffers are checked against the configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_kl_cosmos import _WAVELETS

from .modeling_cosmos_dv import CosmosDiscreteVideoTokenizer

# Official config keys that map onto `CosmosDiscreteVideoTokenizer.__init__` arguments.
_CONFIG_KEYS = (
    "in_channels",
    "out_channels",
    "channels",
    "channels_mult",
    "num_res_blocks",
    "attn_resolutions",
    "resolution",
    "patch_size",
    "patch_method",
    "z_channels",
    "z_factor",
    "levels",
    "spatial_compression",
    "temporal_compression",
)
_DEFAULT_LEVELS = (8, 8, 8, 5, 5, 5)
_REQUIRED_KEYS = (
    "encoder.conv_in.0.conv3d.weight",
    "encoder.conv_out.0.conv3d.weight",
    "quant_conv.conv3d.weight",
    "decoder.conv_in.0.conv3d.weight",
    "decoder.conv_out.0.conv3d.weight",
)
_HYBRID_SAMPLING_CONV = re.compile(
    r"^(encoder\.down|decoder\.up)\.\d+\.(downsample|upsample)\.conv[123]\.conv3d\.(weight|bias)$"
)
_PATCHER_BUFFER = re.compile(r"^(encoder\.patcher3d|decoder\.unpatcher3d)\.(wavelets|_arange|patch_size_buffer)$")
_QUANTIZER_BUFFER = re.compile(r"^(inv_quant\.)?quantizer\.(_levels|_basis|implicit_codebook)$")


def load_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """
    Reads the state dict of an official file: `.safetensors` (read safely), or a TorchScript archive (`.jit`, `.pt`).

    TorchScript archives can only be read with `torch.jit.load`, which deserialises the archived program: use it only
    on trusted files such as NVIDIA's releases.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if path.suffix in (".jit", ".pt", ".pth"):
        return {k: v.detach().clone() for k, v in torch.jit.load(str(path), map_location="cpu").state_dict().items()}
    raise ValueError(f"Unsupported weight file {path.name!r}: expected .jit (TorchScript) or .safetensors.")


def merge_state_dicts(*state_dicts: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Merges official state dicts (e.g. encoder and decoder); a key present twice must hold the same tensor."""
    merged: dict[str, torch.Tensor] = {}
    for state_dict in state_dicts:
        for key, value in state_dict.items():
            if key in merged and (merged[key].shape != value.shape or not torch.equal(merged[key], value)):
                raise ValueError(f"Conflicting values for {key!r} in the given weight files.")
            merged[key] = value
    return merged


def _count(state_dict: Mapping[str, Any], pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for key in state_dict if (m := regex.match(key))})


def infer_config(
    state_dict: Mapping[str, torch.Tensor],
    official_config: Mapping[str, Any] | None = None,
    spatial_compression: int | None = None,
    temporal_compression: int | None = None,
) -> dict[str, Any]:
    """
    Model configuration of an official (merged encoder + decoder) state dict.

    Values read from the weights win; an `official_config` (the tokenizer's `config.json`) supplies what the weights
    cannot tell (compression factors, reference resolution) and is checked against them. Without it the compression
    factors default to DV4x8x8 (spatial 8, temporal 4) unless given.
    """
    official = dict(official_config or {})
    if official.get("legacy_mode"):
        raise ValueError("Official configs with `legacy_mode: true` are not supported.")
    missing = [key for key in _REQUIRED_KEYS if key not in state_dict]
    if missing:
        raise ValueError(
            f"Not an official Cosmos discrete tokenizer state dict (encoder and decoder): missing {missing}."
        )

    conv_in = state_dict["encoder.conv_in.0.conv3d.weight"]
    channels, patched_in = conv_in.shape[0], conv_in.shape[1]
    patched_out = state_dict["decoder.conv_out.0.conv3d.weight"].shape[0]
    if "encoder.patcher3d.patch_size_buffer" in state_dict:
        patch_size = int(state_dict["encoder.patcher3d.patch_size_buffer"].reshape(-1)[0])
    else:  # RGB input: in_channels * patch_size**3 == patched_in
        patch_size = round((patched_in / official.get("in_channels", 3)) ** (1 / 3))
    if patched_in % patch_size**3 or patched_out % patch_size**3:
        raise ValueError(f"Cannot infer the patch size: conv_in has {patched_in} and conv_out {patched_out} channels.")

    num_levels = _count(state_dict, r"^encoder\.down\.(\d+)\.")
    channels_mult = [
        state_dict[f"encoder.down.{i}.block.0.conv1.0.conv3d.weight"].shape[0] // channels for i in range(num_levels)
    ]
    resolution = int(official.get("resolution", 1024))
    level_resolutions = [resolution // patch_size // 2**i for i in range(num_levels)]
    attn_levels = [i for i in range(num_levels) if any(k.startswith(f"encoder.down.{i}.attn.") for k in state_dict)]
    attn_resolutions = [level_resolutions[i] for i in attn_levels]
    if "attn_resolutions" in official:  # keep the official list when it selects the same levels
        if [i for i, r in enumerate(level_resolutions) if r in official["attn_resolutions"]] != attn_levels:
            raise ValueError(
                f"Official config has attn_resolutions={official['attn_resolutions']} but the weights have attention "
                f"at levels {attn_levels}."
            )
        attn_resolutions = list(official["attn_resolutions"])
    z_channels = state_dict["decoder.conv_in.0.conv3d.weight"].shape[1]
    encoder_z = state_dict["encoder.conv_out.0.conv3d.weight"].shape[0]
    if encoder_z % z_channels:
        raise ValueError(
            f"Encoder output ({encoder_z}) is not a multiple of the decoder input ({z_channels}) channels."
        )
    embedding_dim = state_dict["quant_conv.conv3d.weight"].shape[0]

    levels_buffer = state_dict.get("quantizer._levels", state_dict.get("inv_quant.quantizer._levels"))
    if levels_buffer is not None:
        levels = [int(x) for x in levels_buffer]
    elif "levels" in official:
        levels = [int(x) for x in official["levels"]]
    elif embedding_dim == len(_DEFAULT_LEVELS):
        levels = list(_DEFAULT_LEVELS)
    else:
        raise ValueError(
            f"Cannot infer the FSQ levels of a {embedding_dim}-channel quantiser: pass the official config."
        )
    if len(levels) != embedding_dim:
        raise ValueError(f"FSQ levels {levels} do not match the {embedding_dim} channels of quant_conv.")

    wavelets = state_dict.get("encoder.patcher3d.wavelets")
    patch_method = "rearrange" if wavelets is not None and torch.equal(wavelets, _WAVELETS["rearrange"]) else "haar"
    config = {
        "in_channels": patched_in // patch_size**3,
        "out_channels": patched_out // patch_size**3,
        "channels": channels,
        "channels_mult": channels_mult,
        "num_res_blocks": _count(state_dict, r"^encoder\.down\.0\.block\.(\d+)\."),
        "attn_resolutions": attn_resolutions,
        "resolution": resolution,
        "patch_size": patch_size,
        "patch_method": patch_method,
        "z_channels": z_channels,
        "z_factor": encoder_z // z_channels,
        "levels": levels,
        "spatial_compression": int(spatial_compression or official.get("spatial_compression", 8)),
        "temporal_compression": int(temporal_compression or official.get("temporal_compression", 4)),
    }
    for key in _CONFIG_KEYS:
        if key in official and _as_list(official[key]) != _as_list(config[key]):
            raise ValueError(
                f"Official config has {key}={official[key]!r} but the weights (or arguments) give {config[key]!r}."
            )
    return config


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


def _rename(key: str, num_levels: int) -> str:
    """Official module path -> `CosmosDiscreteVideoTokenizer` module path (no existence check)."""
    key = key.replace(".conv3d.", ".")
    key = re.sub(r"\b(conv_in|conv_out|conv1|conv2)\.0\.", r"\1.conv_s.", key)
    key = re.sub(r"\b(conv_in|conv_out|conv1|conv2)\.1\.", r"\1.conv_t.", key)
    key = key.replace(".nin_shortcut.", ".conv_shortcut.")
    key = key.replace(".mid.block_1.", ".mid_block.resnets.0.").replace(".mid.block_2.", ".mid_block.resnets.1.")
    key = key.replace(".mid.attn_1.0.", ".mid_block.attentions.0.").replace(
        ".mid.attn_1.1.", ".mid_block.temp_attentions.0."
    )
    key = re.sub(r"^encoder\.down\.(\d+)\.", r"encoder.down_blocks.\1.", key)
    key = re.sub(r"^decoder\.up\.(\d+)\.", lambda m: f"decoder.up_blocks.{num_levels - 1 - int(m.group(1))}.", key)
    key = key.replace(".block.", ".resnets.")
    key = re.sub(r"\.attn\.(\d+)\.0\.", r".attentions.\1.", key)
    key = re.sub(r"\.attn\.(\d+)\.1\.", r".temp_attentions.\1.", key)
    key = key.replace(".downsample.", ".downsamplers.0.").replace(".upsample.", ".upsamplers.0.")
    key = re.sub(r"(attentions\.\d+)\.(q|k|v)\.", r"\1.to_\2.", key)
    return re.sub(r"(attentions\.\d+)\.proj_out\.", r"\1.to_out.0.", key)


def _check_buffer(key: str, value: torch.Tensor, model: CosmosDiscreteVideoTokenizer) -> None:
    config = model.config
    name = key.rsplit(".", 1)[1]
    if name == "wavelets":
        expected = _WAVELETS[config.patch_method]
    elif name == "_arange":
        expected = torch.arange(_WAVELETS[config.patch_method].shape[0])
    elif name == "patch_size_buffer":
        expected = torch.tensor([config.patch_size])
    elif name == "_levels":
        expected = model.quantizer.levels
    elif name == "_basis":
        expected = model.quantizer.basis
    else:  # implicit_codebook
        expected = model.quantizer.implicit_codebook()
    if value.shape != expected.shape or not torch.allclose(value.double(), expected.double(), atol=1e-6):
        raise ValueError(
            f"Buffer {key!r} does not match the configuration (levels {list(config.levels)}, "
            f"patch {config.patch_size} {config.patch_method!r}): got {value.flatten()[:8].tolist()}."
        )


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor], model: CosmosDiscreteVideoTokenizer
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """
    Maps an official state dict onto `model`'s parameter names, strictly.

    Returns:
        `(converted, skipped)`: the converted state dict (every key of `model.state_dict()`) and the official keys that
        were dropped (unused hybrid sampling convolutions and verified constant buffers).
    """
    targets = model.state_dict()
    num_levels = len(model.config.channels_mult)
    converted: dict[str, torch.Tensor] = {}
    skipped, unmapped = [], []
    for key, value in state_dict.items():
        if _PATCHER_BUFFER.match(key) or _QUANTIZER_BUFFER.match(key):
            _check_buffer(key, value, model)
            skipped.append(key)
            continue
        new_key = _rename(key, num_levels)
        if new_key in targets:
            if targets[new_key].shape != value.shape:
                raise ValueError(
                    f"{key!r} has shape {tuple(value.shape)}, {new_key!r} expects {tuple(targets[new_key].shape)}."
                )
            converted[new_key] = value
        elif _HYBRID_SAMPLING_CONV.match(key):
            skipped.append(key)
        else:
            unmapped.append(key)
    if unmapped:
        raise ValueError(f"{len(unmapped)} official keys have no counterpart in the model: {unmapped[:10]}.")
    missing = sorted(set(targets) - set(converted))
    if missing:
        raise ValueError(f"{len(missing)} model weights are missing from the official files: {missing[:10]}.")
    return converted, skipped


def convert_cosmos_tokenizer(
    encoder: str | Path | None = None,
    decoder: str | Path | None = None,
    autoencoder: str | Path | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    output_dir: str | Path | None = None,
    spatial_compression: int | None = None,
    temporal_compression: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> CosmosDiscreteVideoTokenizer:
    """
    Builds a [`CosmosDiscreteVideoTokenizer`] from official weights and, with `output_dir`, saves it with
    `save_pretrained` (safetensors).

    Args:
        encoder, decoder: `encoder.jit` / `decoder.jit` or `.safetensors` state dicts with the official key names.
        autoencoder: `autoencoder.jit` (or state dict) holding both halves, instead of or besides `encoder`/`decoder`.
        config: the official tokenizer config (path to JSON or dict), optional.
        output_dir: where to save the converted model.
        spatial_compression, temporal_compression: override the compression factors (default: config or DV4x8x8).
        dtype: dtype of the saved weights.
    """
    paths = [p for p in (encoder, decoder, autoencoder) if p is not None]
    if not paths:
        raise ValueError("Give `encoder` and `decoder`, or `autoencoder`.")
    state_dict = merge_state_dicts(*(load_official_state_dict(p) for p in paths))
    if isinstance(config, str | Path):
        config = json.loads(Path(config).read_text())
    model_config = infer_config(state_dict, config, spatial_compression, temporal_compression)
    model = CosmosDiscreteVideoTokenizer(**model_config)
    converted, _ = convert_state_dict(state_dict, model)
    model.load_state_dict(converted, strict=True)
    if dtype != torch.float32:
        model = model.to(dtype)
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir)
    return model
