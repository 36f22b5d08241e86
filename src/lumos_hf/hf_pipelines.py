"""transformers pipeline tasks `text-to-video`, `text-to-image` and `image-to-video` over a [`LumosPipeline`].

After `register_pipelines()` (called on `import lumos_hf`), `transformers.pipeline("text-to-video")` uses the shipped
shapes demo model (`lumos_hf.demo`), and `transformers.pipeline("text-to-video", model=path)` works
with a folder written by `LumosPipeline.save_pretrained` (its root `config.json` lets transformers recognise it); the
task pipelines wrap the whole diffusers pipeline and forward the generation arguments to it. A folder written with
`save_pretrained(path, remote_code=True)` also works without `lumos_hf`:
`pipeline("text-to-video", model=path, trust_remote_code=True)` (its `config.json` names this module's classes).

```python
>>> import tempfile
>>> from transformers import pipeline
>>> from lumos_hf import (ARDFScheduler, CosmosDiscreteVideoTokenizer, LumosConfig, LumosForVideoGeneration,
...                       LumosPipeline, LumosProcessor)
>>> from lumos_hf.testing import build_tiny_chameleon_tokenizer

>>> config = LumosConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
>>> pipe = LumosPipeline(transformer=LumosForVideoGeneration(config),  # tiny random components
...                      video_tokenizer=CosmosDiscreteVideoTokenizer(channels=16),
...                      processor=LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer()),
...                      scheduler=ARDFScheduler())
>>> path = tempfile.mkdtemp()
>>> pipe.save_pretrained(path)
>>> t2v = pipeline("text-to-video", model=path)
>>> out = t2v("A hawk turns its head", height=32, width=64, num_frames=9, fps=8, num_inference_steps=2)
>>> out["frames"][0].size, len(out["frames"]), out["fps"]
((64, 32), 9, 8)
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from transformers import Pipeline, PreTrainedModel
from transformers.pipelines import PIPELINE_REGISTRY

from .demo import MODEL_DIR
from .sequence_format import DEFAULT_BUCKET_TARGET_SIZE

if TYPE_CHECKING:
    from .modeling_lumos import LumosForVideoGeneration
    from .pipeline_lumos import LumosPipeline

GENERATION_ARGUMENTS = (
    "negative_prompt",
    "height",
    "width",
    "num_frames",
    "fps",
    "num_inference_steps",
    "guidance_scale",
    "history_mask_ratio",
    "history_mask",
    "generator",
)


class LumosPipelineLoader:
    """The "model class" of the Lumos tasks: `from_pretrained(path)` loads the whole [`LumosPipeline`] folder."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str, **kwargs: Any) -> LumosPipeline:
        from .pipeline_lumos import LumosPipeline

        dtype = kwargs.get("dtype")
        options = {"dtype": None if dtype in (None, "auto") else dtype}
        for key in ("revision", "token", "cache_dir", "local_files_only", "trust_remote_code"):
            if kwargs.get(key) is not None:
                options[key] = kwargs[key]
        return LumosPipeline.from_pretrained(pretrained_model_name_or_path, **options)


def pipeline_around(transformer: LumosForVideoGeneration) -> LumosPipeline:
    """The [`LumosPipeline`] of a remote-code folder whose root transformer `AutoModelForMaskedLM` loaded (transformers'
    `pipeline(..., trust_remote_code=True)`): the other components come from the folder's sub-folders, the
    generation defaults from its `model_index.json`."""
    from .pipeline_lumos import LumosPipeline
    from .processing_lumos import LumosProcessor
    from .scheduling_ardf import ARDFScheduler
    from .video_tokenizer.modeling_cosmos_dv import CosmosDiscreteVideoTokenizer

    path = transformer.name_or_path
    return LumosPipeline(
        transformer=transformer,
        video_tokenizer=CosmosDiscreteVideoTokenizer.from_pretrained(path, subfolder="video_tokenizer"),
        processor=LumosProcessor.from_pretrained(path, subfolder="processor"),
        scheduler=ARDFScheduler.from_pretrained(path, subfolder="scheduler"),
        generation_config=LumosPipeline.load_config(path).get("generation_config"),
    )


class LumosTextToVideoPipeline(Pipeline):
    """`pipeline("text-to-video", model=path)`: a prompt (or a list) to `{"frames": [PIL images], "fps": int}`.

    Call arguments are those of [`LumosPipeline.__call__`] (`num_frames`, `height`, `width`, `fps`,
    `num_inference_steps`, `guidance_scale`, `negative_prompt`, `history_mask_ratio`, `history_mask`, `generator`),
    plus `seed` (an int: a `torch.Generator` seeded with it).
    """

    _load_tokenizer = False
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False
    default_num_frames: int | None = None  # None: the pipeline's own default (its generation_config)

    def __init__(self, model: LumosPipeline | PreTrainedModel, **kwargs: Any):
        from diffusers.pipelines.pipeline_utils import DiffusionPipeline

        if isinstance(model, PreTrainedModel):
            model = pipeline_around(model)
        elif not isinstance(model, DiffusionPipeline):
            raise TypeError(
                f"model must be a LumosPipeline (a saved LumosPipeline folder), got {type(model).__name__}"
            )
        super().__init__(model=model, **kwargs)

    def _sanitize_parameters(self, seed: int | None = None, **kwargs: Any):
        unknown = sorted(set(kwargs) - set(GENERATION_ARGUMENTS))
        if unknown:
            raise TypeError(f"unexpected arguments {unknown}; accepted: {[*GENERATION_ARGUMENTS, 'seed']}")
        forward = dict(kwargs)
        if seed is not None:
            forward["generator"] = torch.Generator().manual_seed(seed)
        return {}, forward, {}

    def preprocess(self, inputs: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(inputs, str):
            raise TypeError(f"{self.task} takes a prompt (str) or a list of prompts, got {type(inputs).__name__}")
        return {"prompt": inputs}

    def _forward(self, model_inputs: dict[str, Any], **forward_params: Any) -> dict[str, Any]:
        if self.default_num_frames is not None:
            forward_params.setdefault("num_frames", self.default_num_frames)
        fps = forward_params.setdefault("fps", self.model.generation_defaults["fps"])
        frames = self.model(**model_inputs, **forward_params, output_type="pil").frames[0]
        return {"frames": frames, "fps": fps if len(frames) > 1 else 1}

    def postprocess(self, model_outputs: dict[str, Any], **kwargs: Any) -> Any:
        return model_outputs


class LumosTextToImagePipeline(LumosTextToVideoPipeline):
    """`pipeline("text-to-image", model=path)`: a prompt (or a list) to a PIL image (`num_frames=1`)."""

    default_num_frames = 1

    def postprocess(self, model_outputs: dict[str, Any], **kwargs: Any) -> Any:
        return model_outputs["frames"][0]


class LumosImageToVideoPipeline(LumosTextToVideoPipeline):
    """`pipeline("image-to-video", model=path)`: `pipe(image, prompt="...")` or `pipe({"image": ..., "prompt": ...})`
    to `{"frames": [PIL images], "fps": int}`; the first frame is the image, resized and centre-cropped to
    `height` x `width` (default: the pipeline's `generation_config` size, else the official 256p bucket closest to its
    aspect ratio). The image is a PIL image, a
    path or a URL."""

    def _sanitize_parameters(self, prompt: str | None = None, **kwargs: Any):
        preprocess, forward, postprocess = super()._sanitize_parameters(**kwargs)
        preprocess = {key: forward[key] for key in ("height", "width") if key in forward}
        if prompt is not None:
            preprocess["prompt"] = prompt
        return preprocess, forward, postprocess

    def preprocess(
        self, inputs: Any, prompt: str = "", height: int | None = None, width: int | None = None
    ) -> dict[str, Any]:
        from transformers.image_utils import load_image

        from .video_processing_lumos import bucket_crop

        if isinstance(inputs, dict):
            prompt, inputs = inputs.get("prompt", prompt), inputs.get("image")
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        image = load_image(inputs)
        size = (width, height) if height and width else None
        saved = self.model.config.get("generation_config") or {}
        if size is None and "height" in saved and "width" in saved:  # the model's own size, e.g. the demo's 64x64
            size = (saved["width"], saved["height"])
        return {"prompt": prompt, "image": bucket_crop(image, target_size=DEFAULT_BUCKET_TARGET_SIZE, size=size)[0]}


TASKS: dict[str, type[LumosTextToVideoPipeline]] = {
    "text-to-video": LumosTextToVideoPipeline,
    "text-to-image": LumosTextToImagePipeline,
    "image-to-video": LumosImageToVideoPipeline,
}


def register_pipelines() -> None:
    """Register the Lumos tasks with transformers' `pipeline()`, with the shipped shapes demo model as their default
    model (idempotent; imports neither diffusers nor the pipeline: they load when a task pipeline is built)."""
    default = {"model": (str(MODEL_DIR), None)}  # a local folder: no Hub revision
    for task, pipeline_class in TASKS.items():
        registered = PIPELINE_REGISTRY.supported_tasks.get(task, {})
        if registered.get("impl") is not pipeline_class:
            PIPELINE_REGISTRY.register_pipeline(
                task, pipeline_class=pipeline_class, pt_model=LumosPipelineLoader, default=default, type="multimodal"
            )
