"""PEFT LoRA for `LumosForVideoGeneration`: default target modules, adapters, new-token embeddings, loading, merging.

```python
from lumos_hf.training.lora import add_lora_adapter, load_lora_adapter, merge_lora_adapter

model = add_lora_adapter(model, r=16)  # a PeftModel: only the LoRA weights train
...  # train (Trainer or a plain loop)
model.save_pretrained("lora")  # adapter_config.json + adapter_model.safetensors

base = LumosForVideoGeneration.from_pretrained("lumos-1-1b")
merged = merge_lora_adapter(load_lora_adapter(base, "lora"))  # a plain LumosForVideoGeneration again
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from ..modeling_lumos import LumosForVideoGeneration

# Every projection of the attention and the SwiGLU MLP of each decoder layer (as for Llama). The embeddings, the LM
# head and the norms stay frozen: the vocabulary layout is fixed by the video tokenizer.
LUMOS_LORA_TARGET_MODULES: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)
# Attention projections only: a smaller adapter (about a third of the parameters of the default).
LUMOS_LORA_ATTENTION_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
EMBEDDING_MODULE = "model.embed_tokens"


def get_lumos_lora_config(
    r: int = 16,
    lora_alpha: int | None = None,
    lora_dropout: float = 0.0,
    target_modules: Sequence[str] | str | None = None,
    trainable_token_indices: Sequence[int] | None = None,
    train_embeddings: bool = False,
    **kwargs: Any,
) -> LoraConfig:
    """A `peft.LoraConfig` for Lumos-1.

    Args:
        r: LoRA rank.
        lora_alpha: LoRA scaling numerator (default `r`, i.e. a scale of 1).
        lora_dropout: dropout on the LoRA branch.
        target_modules: module names (default `LUMOS_LORA_TARGET_MODULES`, all linear layers of the decoder layers),
            or a PEFT regex string.
        trainable_token_indices: ids whose input embeddings train (PEFT `TrainableTokens`: only these rows are
            trained and saved): new or repurposed tokens, such as `<reservedNNNNN>` ids given a new meaning. Ids
            are in `[0, vocab_size)`; the vocabulary is fixed (text 0..65535, video 65536.., LUMOS_SPEC 1).
        train_embeddings: train (and save) the whole input embedding matrix instead (`modules_to_save`).
        **kwargs: other `LoraConfig` fields (`use_rslora`, `use_dora`, `layers_to_transform`, `bias`, ...).
    """
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ValueError(f"r must be a positive int, got {r!r}")
    if not 0 <= lora_dropout < 1:
        raise ValueError(f"lora_dropout must be in [0, 1), got {lora_dropout}")
    if trainable_token_indices is not None and train_embeddings:
        raise ValueError("give either trainable_token_indices (some rows) or train_embeddings (the whole matrix)")
    if target_modules is None:
        target_modules = list(LUMOS_LORA_TARGET_MODULES)
    elif not isinstance(target_modules, str):
        target_modules = list(target_modules)
        if not target_modules or not all(isinstance(name, str) for name in target_modules):
            raise TypeError("target_modules must be a non-empty sequence of module names or a regex string")
        if "lm_head" in target_modules:
            raise ValueError(
                "target_modules must not include lm_head: the AR-DF loss projects with lm_head.weight directly "
                "(chunked, video rows only), so an adapter on the head would get no gradient"
            )
    if trainable_token_indices is not None:
        indices = list(trainable_token_indices)
        if not indices or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices):
            raise ValueError("trainable_token_indices must be a non-empty sequence of non-negative int token ids")
        kwargs["trainable_token_indices"] = {EMBEDDING_MODULE: sorted(set(indices))}
    if train_embeddings:
        kwargs["modules_to_save"] = [*(kwargs.get("modules_to_save") or []), EMBEDDING_MODULE]
    return LoraConfig(
        r=r,
        lora_alpha=r if lora_alpha is None else lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=target_modules,
        **kwargs,
    )


def add_lora_adapter(
    model: LumosForVideoGeneration,
    config: LoraConfig | None = None,
    adapter_name: str = "default",
    **config_kwargs: Any,
) -> PeftModel:
    """Wrap `model` in a `PeftModel` with a new LoRA adapter; only the adapter (and chosen embeddings) train.

    Args:
        model: the base model (frozen by PEFT).
        config: a `LoraConfig`; default `get_lumos_lora_config(**config_kwargs)`.
        adapter_name: name of the adapter.
    """
    _check_model(model)
    if config is None:
        config = get_lumos_lora_config(**config_kwargs)
    elif config_kwargs:
        raise ValueError(f"give either config or LoRA keyword arguments, not both (got {sorted(config_kwargs)})")
    if not isinstance(config, LoraConfig):
        raise TypeError(f"config must be a peft.LoraConfig, got {type(config).__name__}")
    _check_token_indices(model, config)
    peft_model = get_peft_model(model, config, adapter_name=adapter_name)
    if getattr(model, "is_activation_checkpointing", False):
        # Frozen embeddings give the checkpointed layers inputs without grad: let the gradient reach the adapters.
        model.enable_input_require_grads()
    return peft_model


def load_lora_adapter(
    model: LumosForVideoGeneration | PeftModel,
    adapter_path: str | os.PathLike,
    adapter_name: str = "default",
    is_trainable: bool = False,
    **kwargs: Any,
) -> PeftModel:
    """Load a saved adapter (a folder with `adapter_config.json`, local or on the Hub) into `model`.

    A `LumosForVideoGeneration` is wrapped into a `PeftModel`; a `PeftModel` gets the adapter added under
    `adapter_name` (switch with `set_adapter`). Weights load from safetensors only.
    """
    if isinstance(model, PeftModel):
        model.load_adapter(str(adapter_path), adapter_name=adapter_name, is_trainable=is_trainable, **kwargs)
        return model
    _check_model(model)
    return PeftModel.from_pretrained(
        model, str(adapter_path), adapter_name=adapter_name, is_trainable=is_trainable, **kwargs
    )


def merge_lora_adapter(model: PeftModel, adapter_names: Sequence[str] | None = None) -> LumosForVideoGeneration:
    """Fold the adapter(s) into the base weights and return the plain `LumosForVideoGeneration`.

    The result saves and loads like any Lumos checkpoint (`save_pretrained` / `from_pretrained`), with no PEFT at
    inference time.
    """
    if not isinstance(model, PeftModel):
        raise TypeError(
            f"model must be a peft.PeftModel (from add_lora_adapter / load_lora_adapter), got {type(model).__name__}"
        )
    merged = model.merge_and_unload(adapter_names=list(adapter_names) if adapter_names is not None else None)
    _check_model(merged)
    return merged


def load_lora_into_pipeline(
    pipeline: Any,
    adapter_path: str | os.PathLike,
    merge: bool = True,
    adapter_name: str = "default",
    **kwargs: Any,
) -> Any:
    """Load a LoRA adapter into the `transformer` component of a `LumosPipeline` (any object with `.transformer`).

    With `merge=True` (default) the adapter is folded into the weights: the pipeline keeps a plain
    `LumosForVideoGeneration` and runs at the base model's speed. With `merge=False` the transformer becomes a
    `PeftModel` whose adapter can be switched or disabled (`pipeline.transformer.disable_adapter()`).

    Returns:
        The pipeline (changed in place).
    """
    if not hasattr(pipeline, "transformer"):
        raise TypeError(f"pipeline must have a `transformer` component, got {type(pipeline).__name__}")
    transformer = load_lora_adapter(pipeline.transformer, adapter_path, adapter_name=adapter_name, **kwargs)
    if merge:
        transformer = merge_lora_adapter(transformer)
    transformer.eval()
    if hasattr(pipeline, "register_modules"):  # diffusers pipelines track their components in the config
        pipeline.register_modules(transformer=transformer)
    else:
        pipeline.transformer = transformer
    return pipeline


def count_trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """`(trainable, total)` parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def _check_model(model: Any) -> None:
    if not isinstance(model, LumosForVideoGeneration):
        raise TypeError(f"model must be a LumosForVideoGeneration, got {type(model).__name__}")


def _check_token_indices(model: LumosForVideoGeneration, config: LoraConfig) -> None:
    indices = config.trainable_token_indices
    if indices is None:
        return
    ids = torch.tensor(
        [i for values in (indices.values() if isinstance(indices, dict) else [indices]) for i in values]
    )
    if ids.numel() and int(ids.max()) >= model.config.vocab_size:
        raise ValueError(
            f"trainable_token_indices must be ids < vocab_size ({model.config.vocab_size}), got {int(ids.max())}"
        )


__all__ = [
    "LUMOS_LORA_ATTENTION_MODULES",
    "LUMOS_LORA_TARGET_MODULES",
    "add_lora_adapter",
    "count_trainable_parameters",
    "get_lumos_lora_config",
    "load_lora_adapter",
    "load_lora_into_pipeline",
    "merge_lora_adapter",
]
