"""LoRA on a `LumosPipeline` the way diffusers users load it: `load_lora_weights`, `set_adapters`, `fuse_lora`, ...

The LoRA lives in the `transformer` (a transformers model): adapters load through transformers' PEFT integration
(`load_adapter`) and are switched, weighted, fused, saved and removed on PEFT's tuner layers, as diffusers'
`PeftAdapterMixin` does for its own models (transformers' other adapter methods need a newer PEFT than PyPI has). Adapters are PEFT folders (`adapter_config.json` +
`adapter_model.safetensors`), as `PeftModel.save_pretrained`, `Trainer` (with `add_lora_adapter`) and
`save_lora_weights` write them; safetensors only.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from peft.tuners.lora import LoraLayer
from peft.tuners.tuners_utils import BaseTunerLayer
from peft.utils import get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


class LumosLoraLoaderMixin:
    """LoRA methods of [`LumosPipeline`], named and behaving as diffusers' `LoraBaseMixin`.

    Example:

    ```python
    >>> import tempfile
    >>> from lumos_hf import LumosPipeline, demo
    >>> from lumos_hf.training.lora import add_lora_adapter

    >>> pipe = LumosPipeline.from_pretrained(demo.model_path())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     add_lora_adapter(LumosPipeline.from_pretrained(demo.model_path()).transformer, r=4).save_pretrained(folder)
    ...     pipe.load_lora_weights(folder, adapter_name="style")
    >>> pipe.get_active_adapters()
    ['style']
    >>> pipe.set_adapters(["style"], adapter_weights=[0.5])
    >>> pipe.fuse_lora()
    >>> pipe.unfuse_lora()
    >>> pipe.unload_lora_weights()
    >>> pipe.get_list_adapters()
    {}
    ```
    """

    _fused_scale: float | None = None  # the lora_scale of the fused adapters, None while nothing is fused

    def load_lora_weights(self, pretrained_model_name_or_path: str | os.PathLike, adapter_name: str | None = None,
                          **kwargs) -> None:  # fmt: skip
        """Load a PEFT LoRA folder (local or a Hub repo id) into the transformer as `adapter_name` (default
        `default_{n}`) and make it the active adapter. Raises `ValueError` when the folder has no
        `adapter_model.safetensors` (pickled `.bin` adapters are refused) or when its weights do not fit the model
        (naming the modules); `kwargs` go to `transformer.load_adapter` (`revision`, `token`, ...)."""
        transformer = self.transformer
        adapter_name = adapter_name or f"default_{len(getattr(transformer, 'peft_config', {}))}"
        if not isinstance(adapter_name, str) or not adapter_name:
            raise TypeError(f"adapter_name must be a non-empty str, got {adapter_name!r}")
        if adapter_name in getattr(transformer, "peft_config", {}):
            raise ValueError(f"adapter_name {adapter_name!r} is already loaded; choose another name or delete it")
        path = Path(pretrained_model_name_or_path)
        if path.is_dir() and not (path / ADAPTER_WEIGHTS).is_file():
            found = sorted(p.name for p in path.iterdir())
            raise ValueError(f"{path} has no {ADAPTER_WEIGHTS} (only safetensors adapters load), found {found}")
        if path.exists() and not path.is_dir():
            raise ValueError(f"pretrained_model_name_or_path must be an adapter folder, got the file {path}")
        if path.is_dir():
            _check_adapter_shapes(transformer, path / ADAPTER_WEIGHTS)
        before = set(dict(transformer.named_parameters()))
        with warnings.catch_warnings():  # several adapters in one model are what this API is for
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            info = transformer.load_adapter(str(pretrained_model_name_or_path), adapter_name=adapter_name,
                                            use_safetensors=True, **kwargs)  # fmt: skip
        problems = {
            "missing": [k for k in getattr(info, "missing_keys", ()) if adapter_name in k and "lora_" in k],
            "unexpected": list(getattr(info, "unexpected_keys", ())),
            "of another shape": [str(k) for k in getattr(info, "mismatched_keys", ())],
        }
        problems = {kind: keys for kind, keys in problems.items() if keys}
        if problems or not set(dict(transformer.named_parameters())) - before:
            self.delete_adapters(adapter_name)
            details = "; ".join(f"{kind}: {', '.join(sorted(keys)[:6])}" for kind, keys in problems.items())
            raise ValueError(
                f"the adapter in {pretrained_model_name_or_path} does not fit this transformer "
                f"({details or 'no LoRA weights were loaded'}): it was made for another model or config"
            )
        self.set_adapters([adapter_name])

    def set_adapters(self, adapter_names: str | Sequence[str], adapter_weights: float | Sequence[float] | None = None,
                     ) -> None:  # fmt: skip
        """Activate `adapter_names` together, each scaled by its weight (default 1.0): PEFT's weighted sum of the
        adapters' updates, `W x + sum_i w_i (alpha_i / r_i) B_i A_i x`."""
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        weights = adapter_weights if isinstance(adapter_weights, Sequence) else [adapter_weights] * len(names)
        if len(weights) != len(names):
            raise ValueError(f"adapter_weights must give one weight per adapter ({len(names)}), got {len(weights)}")
        unknown = [name for name in names if name not in self.get_list_adapters().get("transformer", [])]
        if unknown or not names:
            raise ValueError(
                f"unknown adapter(s) {unknown}; loaded: {self.get_list_adapters().get('transformer', [])}"
            )
        for layer in self._lora_layers():
            layer.set_adapter(names)
            for name, weight in zip(names, weights):
                if isinstance(layer, LoraLayer) and name in layer.scaling:  # (trainable-token layers have no scale)
                    layer.set_scale(name, 1.0 if weight is None else float(weight))

    def get_active_adapters(self) -> list[str]:
        """The adapters applied now (none when LoRA is disabled)."""
        layers = self._lora_layers()
        if not layers or layers[0].disable_adapters:
            return []
        return list(layers[0].active_adapters)

    def get_list_adapters(self) -> dict[str, list[str]]:
        """Loaded adapters per component: `{"transformer": [...]}` (empty when none)."""
        names = list(getattr(self.transformer, "peft_config", {}))
        return {"transformer": names} if names else {}

    def disable_lora(self) -> None:
        """Run the base model (adapters stay loaded)."""
        for layer in self._lora_layers():
            layer.enable_adapters(False)

    def enable_lora(self) -> None:
        for layer in self._lora_layers():
            layer.enable_adapters(True)

    def delete_adapters(self, adapter_names: str | Sequence[str]) -> None:
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        for layer in self._lora_layers():
            for name in names:
                layer.delete_adapter(name)
        for name in names:
            getattr(self.transformer, "peft_config", {}).pop(name, None)
        if not getattr(self.transformer, "peft_config", None):
            self.unload_lora_weights()

    def fuse_lora(self, lora_scale: float = 1.0, adapter_names: Sequence[str] | None = None) -> None:
        """Merge the active (or the given) adapters, scaled by `lora_scale`, into the base weights: no LoRA cost at
        inference. `unfuse_lora` takes them out again."""
        if self._fused_scale is not None:
            raise ValueError("LoRA is already fused; call unfuse_lora() first")
        if isinstance(lora_scale, bool) or not isinstance(lora_scale, (int, float)) or not math.isfinite(lora_scale) \
                or lora_scale == 0:  # fmt: skip
            raise ValueError(f"lora_scale must be a finite non-zero number, got {lora_scale!r}")
        for layer in self._lora_layers():
            if isinstance(layer, LoraLayer):
                layer.scale_layer(lora_scale)
            layer.merge(adapter_names=list(adapter_names) if adapter_names is not None else None)
        self._fused_scale = float(lora_scale)

    def unfuse_lora(self) -> None:
        """Take the fused adapters out of the base weights again (no-op when nothing is fused)."""
        if self._fused_scale is None:
            return
        for layer in self._lora_layers():
            layer.unmerge()
            if isinstance(layer, LoraLayer):
                layer.scale_layer(1.0 / self._fused_scale)
        self._fused_scale = None

    def unload_lora_weights(self) -> None:
        """Remove every adapter and its layers: the transformer is the base model again (fused weights stay fused)."""
        transformer = self.transformer
        for name, module in list(transformer.named_modules()):
            if isinstance(module, BaseTunerLayer):
                parent, _, child = name.rpartition(".")
                setattr(transformer.get_submodule(parent) if parent else transformer, child, module.get_base_layer())
        if hasattr(transformer, "peft_config"):
            del transformer.peft_config
        transformer._hf_peft_config_loaded = False
        self._fused_scale = None

    def save_lora_weights(self, save_directory: str | os.PathLike, adapter_name: str | None = None) -> Path:
        """Write `adapter_name` (default: the only or first active adapter) as a PEFT folder, atomically:
        `adapter_config.json` + `adapter_model.safetensors`, which `load_lora_weights` and `PeftModel` read."""
        loaded = self.get_list_adapters().get("transformer", [])
        adapter_name = adapter_name or (self.get_active_adapters() or loaded or [None])[0]
        if adapter_name not in loaded:
            raise ValueError(f"no adapter {adapter_name!r} to save; loaded: {loaded}")
        state = get_peft_model_state_dict(self.transformer, adapter_name=adapter_name)
        directory = Path(save_directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, staging / ADAPTER_WEIGHTS)
            self.transformer.peft_config[adapter_name].save_pretrained(staging)  # adapter_config.json
            directory.mkdir(exist_ok=True)
            for item in staging.iterdir():
                item.replace(directory / item.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    def _lora_layers(self) -> list[BaseTunerLayer]:
        return [module for module in self.transformer.modules() if isinstance(module, BaseTunerLayer)]


def _check_adapter_shapes(transformer: nn.Module, weights: Path) -> None:
    """Raise `ValueError` naming the modules whose LoRA matrices in `weights` do not fit `transformer`'s layers (an
    adapter made for another model or config), before anything is injected."""
    modules = dict(transformer.named_modules())
    problems = []
    with safe_open(str(weights), framework="pt") as file:
        for key in file.keys():  # noqa: SIM118 (a safetensors file, not a dict)
            if ".lora_A." not in key and ".lora_B." not in key:
                continue
            name = key.split(".lora_")[0].removeprefix("base_model.model.")
            module = getattr(modules.get(name), "base_layer", modules.get(name))  # a layer with adapters already
            shape = tuple(file.get_slice(key).get_shape())
            if not isinstance(module, nn.Linear):
                problems.append(f"{name} (not a linear layer of this model)")
            elif ".lora_A." in key and shape[1] != module.in_features:
                problems.append(f"{name} (lora_A {shape}, layer in_features {module.in_features})")
            elif ".lora_B." in key and shape[0] != module.out_features:
                problems.append(f"{name} (lora_B {shape}, layer out_features {module.out_features})")
    if problems:
        raise ValueError(
            f"the adapter {weights} does not fit this transformer: it was made for another model or config; "
            f"{len(problems)} mismatched modules, e.g. {'; '.join(sorted(set(problems))[:4])}"
        )
