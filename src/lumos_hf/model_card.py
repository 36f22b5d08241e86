"""The Hub model card of a Lumos pipeline folder: `huggingface_hub`'s `ModelCardData` (license, `pipeline_tag`,
`library_name`, tags, base model) rendered with the package's template (`templates/model_card.md`) by
`ModelCard.from_template`. This module imports nothing from the package."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
TAGS = ["lumos-1", "text-to-video", "text-to-image", "image-to-video", "autoregressive", "video-generation"]
PAPER_DEFAULTS = (
    "50 steps per latent frame, guidance 15 for videos (16 for images, the paper's evaluation), history mask "
    "ratio 0.7 (periodic), 25 frames at 12 fps, a 256p (448x256) or 384p (672x384) bucket"
)
COMPONENTS = {
    "transformer": "the Lumos language model (MM-RoPE, block-causal attention)",
    "video_tokenizer": "Cosmos DV4x8x8 discrete video tokenizer (FSQ)",
    "processor": "prompt template and text tokenizer (user text never becomes control tokens)",
    "scheduler": "AR-DF parallel decoding of each latent frame",
}


def lumos_model_card(
    repo_id: str,
    components: dict[str, str],
    generation_defaults: dict[str, Any],
    *,
    remote_code: bool,
    license: str = "other",
    base_model: str | list[str] | None = None,
    title: str | None = None,
    summary: str | None = None,
    tags: list[str] | None = None,
) -> ModelCard:
    """
    The model card of a pipeline folder.

    Args:
        repo_id: the Hub repository (or local folder) the usage snippets load from.
        components: component folder name -> class name (`model_index.json`'s components).
        generation_defaults: the pipeline's `generation_defaults` (height, width, frames, fps, steps, guidance,
            history mask).
        remote_code: whether the folder carries its own code: the snippets then load it with
            `trust_remote_code=True` (no `lumos_hf` needed), else with `lumos_hf.LumosPipeline`.
        license: a Hub license id (`"apache-2.0"`, ...; `"other"` when unknown).
        base_model: the Hub id(s) of the model(s) the weights come from.
        title, summary: the card's heading and first paragraph.
        tags: extra tags after the package's own (`TAGS`).
    """
    if not isinstance(repo_id, str) or not repo_id:
        raise ValueError(f"repo_id must be a non-empty string, got {repo_id!r}")
    card_data = ModelCardData(
        license=license,
        library_name="diffusers",
        pipeline_tag="text-to-video",
        tags=[*TAGS, *(tag for tag in tags or [] if tag not in TAGS)],
        base_model=base_model,
    )
    loader = (
        f'DiffusionPipeline.from_pretrained("{repo_id}", trust_remote_code=True)'
        if remote_code
        else f'LumosPipeline.from_pretrained("{repo_id}")'
    )
    imports = "from diffusers import DiffusionPipeline" if remote_code else "from lumos_hf import LumosPipeline"
    usage_code = (
        f"{imports}\nfrom diffusers.utils import export_to_video\n\n"
        f"pipe = {loader}\n"
        'video = pipe("a red panda eating bamboo in the snow").frames[0]  # [frames, H, W, 3] in [0, 1]\n'
        f'export_to_video(video, "lumos.mp4", fps={generation_defaults["fps"]})'
    )
    remote = ", trust_remote_code=True" if remote_code else ""
    pipeline_code = (
        "from transformers import pipeline\n\n"
        f'text_to_video = pipeline("text-to-video", model="{repo_id}"{remote})\n'
        'frames = text_to_video("a red panda eating bamboo in the snow")["frames"]  # PIL images'
    )
    rows = [
        {"folder": name, "cls": cls, "about": COMPONENTS.get(name, "")} for name, cls in sorted(components.items())
    ]
    defaults = [
        (name, "15 (videos), 16 (images)" if name == "guidance_scale" and value is None else value)
        for name, value in generation_defaults.items()
    ]
    return ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        title=title or f"Lumos-1: {os.path.basename(repo_id.rstrip('/'))}",
        summary=summary or "A Lumos-1 text-to-video, text-to-image and image-to-video pipeline.",
        made_by=f"lumos_hf {importlib.metadata.version('lumos_hf')}",
        usage_code=usage_code,
        pipeline_code=pipeline_code,
        components=rows,
        defaults=defaults,
        paper_defaults=PAPER_DEFAULTS,
    )
