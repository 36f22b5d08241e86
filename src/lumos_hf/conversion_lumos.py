"""Conversion of official Lumos-1 checkpoints (Chameleon + MM-RoPE, transformers 4.44 format) to `LumosForVideoGeneration`.

The official parameter names already match ours; conversion maps the config, checks every key and shape strictly,
drops only the Chameleon image VQGAN (`model.vqmodel.*`, unused by Lumos) and saves with `save_pretrained`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file

from .configuration_lumos import LumosConfig
from .modeling_lumos import LumosForVideoGeneration, LumosModel

logger = logging.getLogger(__name__)

UNUSED_KEY_PREFIXES = ("model.vqmodel.",)

# Official config keys and what becomes of them. Keys mapped one to one:
_CONFIG_KEYS = [
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "rms_norm_eps",
    "max_position_embeddings",
    "swin_norm",
    "model_parallel_size",
    "attention_dropout",
    "initializer_range",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "z_loss_weight",
    "tie_word_embeddings",
    "use_cache",
]
# Keys with no effect on Lumos (LUMOS_SPEC 4: `mask_image_logits` does nothing, the image-token map is empty;
# `vq_config` describes the unused Chameleon VQGAN) or bookkeeping:
_IGNORED_CONFIG_KEYS = {
    "architectures",
    "model_type",
    "mm_rope",
    "mask_image_logits",
    "vocabulary_map",
    "vq_config",
    "torch_dtype",
    "dtype",
    "transformers_version",
    "_name_or_path",
    "dropout",
    "rope_theta",
    "rope_scaling",
    "vocab_size",
    "hidden_act",
    "attention_bias",
    "mlp_bias",
}


def lumos_config_from_official(official: dict) -> LumosConfig:
    """Map an official `config.json` (model_type `chameleon`, `mm_rope: true`) to a `LumosConfig`."""
    if official.get("model_type") != "chameleon" or not official.get("mm_rope", False):
        raise ValueError(
            "not an official Lumos-1 checkpoint: config.json must have model_type 'chameleon' and mm_rope true, got "
            f"model_type={official.get('model_type')!r}, mm_rope={official.get('mm_rope')!r}"
        )
    unsupported = {
        "hidden_act": (official.get("hidden_act", "silu"), "silu"),
        "attention_bias": (official.get("attention_bias", False), False),
        "mlp_bias": (official.get("mlp_bias", False), False),
        "rope_scaling": (official.get("rope_scaling"), None),
    }
    for key, (value, expected) in unsupported.items():
        if value != expected:
            raise ValueError(f"official config has {key}={value!r}; Lumos-1 checkpoints use {expected!r}")
    unknown = sorted(set(official) - set(_CONFIG_KEYS) - _IGNORED_CONFIG_KEYS)
    if unknown:
        logger.warning("official config keys not used by LumosConfig: %s", ", ".join(unknown))
    kwargs = {key: official[key] for key in _CONFIG_KEYS if key in official}
    vocab_size = official.get("vocab_size", 129536)
    config = LumosConfig(
        **kwargs,
        video_vocab_size=vocab_size - 65536,
        rope_parameters={"rope_type": "default", "rope_theta": float(official.get("rope_theta", 10000.0))},
    )
    return config


def load_official_state_dict(checkpoint_dir: str | Path) -> dict[str, torch.Tensor]:
    """Read `model.safetensors`, sharded safetensors (`model.safetensors.index.json`) or `pytorch_model*.bin`.

    `.bin` files are read with `torch.load(weights_only=True)`, which refuses arbitrary pickled objects.
    """
    checkpoint_dir = Path(checkpoint_dir)
    single = checkpoint_dir / "model.safetensors"
    if single.exists():
        return load_file(single)
    for index_name, loader in (
        ("model.safetensors.index.json", load_file),
        ("pytorch_model.bin.index.json", lambda p: torch.load(p, map_location="cpu", weights_only=True)),
    ):
        index = checkpoint_dir / index_name
        if index.exists():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                state.update(loader(checkpoint_dir / shard))
            return state
    single_bin = checkpoint_dir / "pytorch_model.bin"
    if single_bin.exists():
        return torch.load(single_bin, map_location="cpu", weights_only=True)
    raise FileNotFoundError(
        f"no weights in {checkpoint_dir}: expected model.safetensors, model.safetensors.index.json, "
        "pytorch_model.bin or pytorch_model.bin.index.json"
    )


def map_official_state_dict(
    state_dict: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Check official weights against the model's `expected` state dict: same names, same shapes.

    Drops only `model.vqmodel.*`. Raises `ValueError` naming every missing, unexpected or mis-shaped key.
    """
    kept = {k: v for k, v in state_dict.items() if not k.startswith(UNUSED_KEY_PREFIXES)}
    missing = sorted(set(expected) - set(kept))
    unexpected = sorted(set(kept) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(kept[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(kept) & set(expected)
        if kept[k].shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        lines = []
        if missing:
            lines.append(f"missing keys ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            lines.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
        if mismatched:
            lines.append(f"shape mismatches ({len(mismatched)}): {'; '.join(mismatched)}")
        raise ValueError("the official checkpoint does not match the Lumos architecture:\n" + "\n".join(lines))
    return kept


def convert_lumos_checkpoint(
    input_dir: str | Path,
    output_dir: str | Path | None,
    dtype: torch.dtype | None = None,
    remote_code: bool = True,
    max_shard_size: str = "5GB",
) -> LumosForVideoGeneration:
    """Convert an official checkpoint folder into a `LumosForVideoGeneration` folder.

    Args:
        input_dir: folder with the official `config.json` and weights.
        output_dir: where `save_pretrained` writes the converted model (safetensors); None: not saved.
        dtype: cast the weights (default: keep the checkpoint's dtype).
        remote_code: also write the modeling code and `auto_map`, so that the folder loads with
            `AutoModelForMaskedLM.from_pretrained(dir, trust_remote_code=True)` (and the base model with `AutoModel`)
            where `lumos_hf` is not installed.

    Returns:
        The converted model (weights on CPU; built on the meta device, so no random initialisation is spent).
    """
    input_dir = Path(input_dir)
    config_path = input_dir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{config_path} does not exist: input_dir must be an official checkpoint folder")
    config = lumos_config_from_official(json.loads(config_path.read_text()))
    state_dict = load_official_state_dict(input_dir)
    if dtype is None:
        dtype = next(iter(state_dict.values())).dtype
    with torch.device("meta"):
        model = LumosForVideoGeneration(config)
    state_dict = map_official_state_dict(state_dict, model.state_dict())
    model.load_state_dict({k: v.to(dtype) for k, v in state_dict.items()}, strict=True, assign=True)
    # Non-persistent buffers (rotary frequencies) are not in the checkpoint: build them for real.
    model.model.rotary_emb = type(model.model.rotary_emb)(config)
    model.config.dtype = dtype
    if remote_code:
        model.config.auto_map = {"AutoModel": f"{LumosModel.__module__.rsplit('.', 1)[-1]}.{LumosModel.__name__}"}
        model.register_for_auto_class("AutoModelForMaskedLM")
        model.config.register_for_auto_class()
    if output_dir is not None:
        model.save_pretrained(output_dir, max_shard_size=max_shard_size)
    return model
