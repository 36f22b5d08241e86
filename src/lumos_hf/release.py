"""The official Lumos-1 release -> one complete Hub pipeline folder (`lumos-hf convert-release`).

Inputs, as the official repository ships them: a Lumos checkpoint folder (e.g. `1B/stage-2-joint-384p`: Chameleon
`config.json` + weights), Chameleon's `text_tokenizer.json`, and the Cosmos DV4x8x8 folder (`encoder.jit` +
`decoder.jit`, or `autoencoder.jit`, or `.safetensors` state dicts with the official key names; its `config.json`
when present). Output: `model_index.json` with the generation defaults, `transformer/`, `video_tokenizer/`,
`processor/`, `scheduler/`, the remote-code files (`lumos_hf.remote_code`) and a model card (`README.md`,
`lumos_hf.model_card`), so that `DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)` and
`transformers.pipeline("text-to-video", model=folder, trust_remote_code=True)` work where `lumos_hf` is not installed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from .conversion_lumos import convert_lumos_checkpoint
from .pipeline_lumos import GENERATION_DEFAULTS, LumosPipeline
from .processing_lumos import LumosProcessor
from .scheduling_ardf import ARDFScheduler
from .text_tokenizer import convert_text_tokenizer
from .video_tokenizer.conversion import convert_cosmos_tokenizer

# The official buckets (width x height) by the resolution a checkpoint folder's name gives.
RESOLUTION_BUCKETS = {"256p": (448, 256), "384p": (672, 384), "480p": (768, 480)}
COSMOS_FILES = (("encoder", "decoder"), ("autoencoder",))
COSMOS_SUFFIXES = (".jit", ".safetensors")


def find_cosmos_weights(cosmos_dir: str | os.PathLike) -> dict[str, Path]:
    """The weight files of an official Cosmos tokenizer folder: `{"encoder": ..., "decoder": ...}` or
    `{"autoencoder": ...}` (`.jit` preferred over `.safetensors`), or `FileNotFoundError` saying what was looked for."""
    folder = Path(cosmos_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"cosmos_dir {cosmos_dir} is not a folder (the Cosmos DV4x8x8 tokenizer folder)")
    for names in COSMOS_FILES:
        found = {}
        for name in names:
            candidates = [
                folder / f"{name}{suffix}" for suffix in COSMOS_SUFFIXES if (folder / f"{name}{suffix}").is_file()
            ]
            if candidates:
                found[name] = candidates[0]
        if len(found) == len(names):
            return found
    raise FileNotFoundError(
        f"cosmos_dir {cosmos_dir} holds neither encoder.jit + decoder.jit nor autoencoder.jit (or their "
        ".safetensors state dicts)"
    )


def default_generation_config(lumos_dir: str | os.PathLike) -> dict[str, Any]:
    """The official sampling defaults, at the resolution bucket the checkpoint folder's name gives (256p when it names
    none): e.g. `stage-2-joint-384p` and `v2-stage2-joint-384p-sft` -> 384 x 672."""
    match = re.search(r"(?:^|-)(\d+p)(?:-|$)", Path(lumos_dir).resolve().name)
    width, height = RESOLUTION_BUCKETS.get(match[1] if match else "", RESOLUTION_BUCKETS["256p"])
    return {**GENERATION_DEFAULTS, "height": height, "width": width}


def convert_release(
    lumos_dir: str | os.PathLike,
    text_tokenizer: str | os.PathLike,
    cosmos_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    dtype: torch.dtype | None = None,
    generation_config: dict[str, Any] | None = None,
    remote_code: bool = True,
    repo_id: str | None = None,
    license: str = "other",
    base_model: str | None = None,
) -> LumosPipeline:
    """
    Convert the official release into a pipeline folder (written into `output_dir`, which should be empty: the
    command writes it atomically) and return the pipeline.

    Args:
        lumos_dir: official Lumos checkpoint folder (`config.json` + safetensors).
        text_tokenizer: official `text_tokenizer.json`.
        cosmos_dir: official Cosmos DV4x8x8 folder (see `find_cosmos_weights`).
        output_dir: the pipeline folder to write.
        dtype: cast the transformer and video tokenizer (default: the checkpoint's dtype; the tokenizer float32).
        generation_config: overrides of the sampling defaults (`default_generation_config(lumos_dir)`).
        remote_code: write the package's code into the folder.
        repo_id: the Hub repository the card's snippets load from (default: `output_dir`).
        license, base_model: the card's metadata.
    """
    lumos_dir, text_tokenizer = Path(lumos_dir), Path(text_tokenizer)
    if not (lumos_dir / "config.json").is_file():
        raise FileNotFoundError(f"lumos_dir {lumos_dir} has no config.json: give an official checkpoint folder")
    if not text_tokenizer.is_file():
        raise FileNotFoundError(f"text_tokenizer {text_tokenizer} is not a file (the official text_tokenizer.json)")
    cosmos_weights = find_cosmos_weights(cosmos_dir)
    cosmos_config = Path(cosmos_dir) / "config.json"
    defaults = {**default_generation_config(lumos_dir), **(generation_config or {})}
    processor = LumosProcessor(convert_text_tokenizer(text_tokenizer))  # cheap checks before the heavy conversions

    output_dir = Path(output_dir)
    transformer = convert_lumos_checkpoint(lumos_dir, None, dtype=dtype, remote_code=False)  # saved with the pipeline
    video_tokenizer = convert_cosmos_tokenizer(
        **cosmos_weights,
        config=cosmos_config if cosmos_config.is_file() else None,
        dtype=dtype if dtype is not None else torch.float32,
    )
    pipeline = LumosPipeline(
        transformer=transformer.eval(),
        video_tokenizer=video_tokenizer.eval(),
        processor=processor,
        scheduler=ARDFScheduler(),
        generation_config=defaults,
    )
    pipeline.save_pretrained(output_dir, remote_code=remote_code)
    card = pipeline.model_card(
        repo_id or str(output_dir),
        remote_code=remote_code,
        license=license,
        base_model=base_model,
        summary=f"Lumos-1 converted from the official checkpoint `{lumos_dir.name}`.",
        title=f"Lumos-1 ({lumos_dir.name})",
    )
    card.save(output_dir / "README.md")
    return pipeline
