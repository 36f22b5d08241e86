"""lumos_hf: Lumos-1 autoregressive video generation as a transformers model and a diffusers pipeline.

Importing the package registers `LumosConfig`, `LumosModel` (`AutoModel`) and `LumosForVideoGeneration`
(`AutoModelForMaskedLM`: AR-DF predicts masked video tokens in place, with unshifted labels) with transformers' Auto
classes and the
`text-to-video`, `text-to-image` and `image-to-video` tasks with `transformers.pipeline`. The
components built on diffusers, datasets or video I/O are imported lazily (PEP 562), on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from .configuration_lumos import LUMOS_PRESETS, LumosConfig
from .hf_pipelines import register_pipelines
from .modeling_lumos import LumosCache, LumosForVideoGeneration, LumosModel, LumosPreTrainedModel
from .sequence_format import MMRoPELayout, compute_mm_rope_layout
from .tokens import TokenLayout

__version__ = "0.1.0"

AutoConfig.register(LumosConfig.model_type, LumosConfig, exist_ok=True)
AutoModel.register(LumosConfig, LumosModel, exist_ok=True)
AutoModelForMaskedLM.register(LumosConfig, LumosForVideoGeneration, exist_ok=True)
register_pipelines()  # transformers' pipeline("text-to-video" | "text-to-image" | "image-to-video")

# Public name → submodule, imported on first access.
_LAZY_IMPORTS: dict[str, str] = {
    "LumosPipeline": "pipeline_lumos",
    "LumosPipelineOutput": "pipeline_lumos",
    "LumosTextToVideoPipeline": "hf_pipelines",
    "LumosTextToImagePipeline": "hf_pipelines",
    "LumosImageToVideoPipeline": "hf_pipelines",
    "LumosProcessor": "processing_lumos",
    "ARDFScheduler": "scheduling_ardf",
    "ARDFSchedulerOutput": "scheduling_ardf",
    "convert_text_tokenizer": "text_tokenizer",
    "CosmosDiscreteVideoTokenizer": "video_tokenizer",
    "CosmosDiscreteVideoTokenizerOutput": "video_tokenizer",
    "FSQuantizer": "video_tokenizer",
    "convert_cosmos_tokenizer": "video_tokenizer.conversion",
    "read_video": "data.video_io",
    "write_video": "data.video_io",
    "bucket_crop": "video_processing_lumos",
    "frames_to_tensor": "video_processing_lumos",
    "tensor_to_frames": "video_processing_lumos",
    "ARDFDataCollator": "training",
    "apply_ardf_mask": "training",
    "pretokenize": "data.pretokenize",
    "load_pretokenized": "data.pretokenize",
    "LUMOS_LORA_TARGET_MODULES": "training.lora",
    "get_lumos_lora_config": "training.lora",
    "add_lora_adapter": "training.lora",
    "load_lora_adapter": "training.lora",
    "merge_lora_adapter": "training.lora",
    "load_lora_into_pipeline": "training.lora",
    "LumosTrainingArguments": "training.recipes",
    "ResumableARDFCollator": "training.recipes",
    "STAGE_RECIPES": "training.recipes",
}

__all__ = [
    "LUMOS_PRESETS",
    "LumosCache",
    "LumosConfig",
    "LumosForVideoGeneration",
    "LumosModel",
    "LumosPreTrainedModel",
    "MMRoPELayout",
    "TokenLayout",
    "__version__",
    "compute_mm_rope_layout",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_IMPORTS:
        value = getattr(importlib.import_module(f".{_LAZY_IMPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lumos_hf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY_IMPORTS])
