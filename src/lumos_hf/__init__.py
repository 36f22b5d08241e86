"""lumos_hf: Lumos-1 autoregressive video generation as a transformers model and a diffusers pipeline.

Public names are imported lazily (PEP 562) so that `import lumos_hf` stays cheap and each component only
pulls in the libraries it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY_IMPORTS: dict[str, str] = {
    "LumosConfig": "configuration_lumos",
    "LumosModel": "modeling_lumos",
    "LumosForVideoGeneration": "modeling_lumos",
    "LumosPreTrainedModel": "modeling_lumos",
    "compute_mm_rope_layout": "layout",
    "MMRoPELayout": "layout",
}

__all__ = ["__version__", *_LAZY_IMPORTS]


def __getattr__(name: str) -> Any:
    if name in _LAZY_IMPORTS:
        module = importlib.import_module(f".{_LAZY_IMPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lumos_hf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .configuration_lumos import LumosConfig
    from .layout import MMRoPELayout, compute_mm_rope_layout
    from .modeling_lumos import LumosForVideoGeneration, LumosModel, LumosPreTrainedModel
