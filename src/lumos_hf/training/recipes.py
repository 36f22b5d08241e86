"""Training recipes shared by `examples/train_lumos.py` and `examples/train_lora.py` (LUMOS_SPEC 5).

The paper trains in stages: text-to-image at 256p, then image/video joint training at 256p, then at 384p, with
AdamW (betas 0.9 / 0.95, weight decay 0.1), lr 5e-5 (1B, 256p) and gradient clipping at 4. The resolution of a
stage is the resolution of its pre-tokenized data (`lumos-hf pretokenize --target-size`); a stage here selects the
samples (`"image"`: single-frame samples only; `"joint"`: everything) and the classifier-free-guidance text drop.

Everything plugs into `transformers.Trainer` as is: `LumosForVideoGeneration` returns the AR-DF loss and honours
`num_items_in_batch`, and `ARDFDataCollator` builds the masked batches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..configuration_lumos import LUMOS_PRESETS, LumosConfig
from ..modeling_lumos import LumosForVideoGeneration
from ..sequence_format import count_frames
from ..tokens import OFFICIAL_TOKEN_LAYOUT, TokenLayout
from .collator import ARDFDataCollator
from .masking import MASKING_MODES


@dataclass(frozen=True)
class StageRecipe:
    """One stage of the paper's curriculum.

    Args:
        name: `"image"` or `"joint"`.
        kinds: sample kinds trained in this stage (`"image"`: one frame, `"video"`: more).
        text_drop_images: CFG text drop also on images. In the image stage every sample is an image, so without it
            the model would never learn the unconditional branch that guidance needs at inference.
        description: one line for `--help` and the docs.
    """

    name: str
    kinds: tuple[str, ...]
    text_drop_images: bool
    description: str


STAGE_RECIPES: dict[str, StageRecipe] = {
    "image": StageRecipe("image", ("image",), True, "stage 1: text-to-image (single-frame samples only)"),
    "joint": StageRecipe("joint", ("image", "video"), False, "stages 2-3: image/video joint training (all samples)"),
}

# LUMOS_SPEC 5: the optimiser of the official recipe (1B, 256p).
LUMOS_OPTIMIZER_DEFAULTS: dict[str, float] = {
    "learning_rate": 5e-5,
    "adam_beta1": 0.9,
    "adam_beta2": 0.95,
    "weight_decay": 0.1,
    "max_grad_norm": 4.0,
}


@dataclass
class ModelArguments:
    """Which model to train (the conventions of transformers' `run_clm.py`)."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "a LumosForVideoGeneration folder or Hub id (converted checkpoint)"}
    )
    config_name: str | None = field(
        default=None,
        metadata={"help": f"train from scratch: a preset ({', '.join(LUMOS_PRESETS)}) or a config folder / file"},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={"help": "comma-separated config overrides, e.g. 'hidden_size=64,num_hidden_layers=2'"},
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "sdpa, flex_attention, eager (flash attention cannot mask training frames)"}
    )
    dtype: str | None = field(
        default=None, metadata={"help": "dtype to load the weights in (float32, bfloat16); default: float32"}
    )


@dataclass
class DataArguments:
    """Training data: a `lumos-hf pretokenize` folder or official pre-tokenized files."""

    dataset: str = field(
        metadata={"help": "pretokenize output folder, a datasets folder, or a .jsonl/.json/.parquet/.arrow file"}
    )
    max_length: int | None = field(
        default=None, metadata={"help": "drop samples longer than this many tokens (the collator never truncates)"}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "keep the first N samples (debugging)"})
    streaming: bool = field(default=False, metadata={"help": "stream the dataset (needs --max_steps)"})


@dataclass
class LumosTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the defaults of LUMOS_SPEC 5 and the AR-DF options."""

    learning_rate: float = field(
        default=LUMOS_OPTIMIZER_DEFAULTS["learning_rate"], metadata={"help": "peak learning rate (paper: 5e-5, 1B)"}
    )
    adam_beta1: float = field(default=LUMOS_OPTIMIZER_DEFAULTS["adam_beta1"], metadata={"help": "AdamW beta1"})
    adam_beta2: float = field(default=LUMOS_OPTIMIZER_DEFAULTS["adam_beta2"], metadata={"help": "AdamW beta2"})
    weight_decay: float = field(
        default=LUMOS_OPTIMIZER_DEFAULTS["weight_decay"], metadata={"help": "AdamW weight decay"}
    )
    max_grad_norm: float = field(
        default=LUMOS_OPTIMIZER_DEFAULTS["max_grad_norm"], metadata={"help": "gradient clipping"}
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False, metadata={"help": "every trainable parameter gets a gradient in each step"}
    )
    stage: str = field(default="joint", metadata={"help": f"recipe stage: {', '.join(STAGE_RECIPES)}"})
    masking_mode: str = field(default="tube", metadata={"help": f"AR-DF masking: {', '.join(MASKING_MODES)}"})
    min_masking_rate: float = field(default=0.7, metadata={"help": "lower clip of the AR-DF mask ratio"})
    text_drop_prob: float = field(default=0.1, metadata={"help": "CFG text drop probability"})

    def __post_init__(self) -> None:
        if self.stage not in STAGE_RECIPES:
            raise ValueError(f"stage must be one of {sorted(STAGE_RECIPES)}, got {self.stage!r}")
        super().__post_init__()


def parse_config_overrides(overrides: str | None) -> dict[str, Any]:
    """`"hidden_size=64,mm_rope=false"` → `{"hidden_size": 64, "mm_rope": False}` (ints, floats, booleans, strings)."""
    result: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in (overrides or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"config overrides must look like 'key=value,key=value', got {item!r}")
        result[key.strip()] = _parse_value(value.strip())
    return result


def _parse_value(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def build_model(args: ModelArguments) -> LumosForVideoGeneration:
    """A pretrained model (`model_name_or_path`) or a randomly initialised one (`config_name` + overrides)."""
    overrides = parse_config_overrides(args.config_overrides)
    dtype = getattr(torch, args.dtype) if args.dtype else None
    if args.model_name_or_path is not None:
        if args.config_name is not None:
            raise ValueError("give model_name_or_path (pretrained) or config_name (from scratch), not both")
        return LumosForVideoGeneration.from_pretrained(
            args.model_name_or_path, attn_implementation=args.attn_implementation, dtype=dtype, **overrides
        )
    if args.config_name is None:
        raise ValueError("give model_name_or_path (a converted checkpoint) or config_name (a preset or a config)")
    if args.config_name in LUMOS_PRESETS:
        config = LumosConfig.from_preset(args.config_name, **overrides)
    else:
        config = LumosConfig.from_pretrained(args.config_name, **overrides)
    config._attn_implementation = args.attn_implementation
    model = LumosForVideoGeneration(config)
    return model.to(dtype) if dtype is not None else model


def load_training_dataset(
    path: str | os.PathLike, streaming: bool = False
) -> datasets.Dataset | datasets.IterableDataset:
    """Load pre-tokenized samples (rows with `input_ids`).

    Accepts the folder written by `lumos-hf pretokenize` (or any `save_to_disk` folder), a `datasets` folder of data
    files, or one `.jsonl` / `.json` / `.parquet` / `.arrow` file (e.g. the official `official_samples.jsonl`).
    """
    path = Path(path)
    if path.is_dir() and (path / datasets.config.DATASET_STATE_JSON_FILENAME).exists():
        dataset = datasets.load_from_disk(str(path))
        return dataset.to_iterable_dataset() if streaming else dataset
    if path.is_dir():
        dataset = datasets.load_dataset(str(path), split="train", streaming=streaming)
    elif path.is_file():
        formats = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".arrow": "arrow"}
        if path.suffix not in formats:
            raise ValueError(f"dataset file must be one of {sorted(formats)}, got {path.name}")
        dataset = datasets.load_dataset(formats[path.suffix], data_files=str(path), split="train", streaming=streaming)
    else:
        raise FileNotFoundError(f"dataset {path} does not exist")
    if "input_ids" not in (dataset.column_names or []):
        raise ValueError(f"dataset {path} has no input_ids column (columns: {dataset.column_names})")
    return dataset


def sample_kind(example: dict[str, Any], token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> str:
    """`"image"` (one frame) or `"video"`: the `kind` column when present, else counted from the frame tokens."""
    if example.get("kind") in ("image", "video"):
        return example["kind"]
    return "image" if count_frames(torch.as_tensor(example["input_ids"]), token_layout) == 1 else "video"


def prepare_stage_dataset(
    dataset: datasets.Dataset | datasets.IterableDataset,
    stage: str,
    max_length: int | None = None,
    max_samples: int | None = None,
    token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT,
) -> datasets.Dataset | datasets.IterableDataset:
    """The samples of `stage` (`STAGE_RECIPES`), without those longer than `max_length`, the first `max_samples`."""
    if stage not in STAGE_RECIPES:
        raise ValueError(f"stage must be one of {sorted(STAGE_RECIPES)}, got {stage!r}")
    kinds = STAGE_RECIPES[stage].kinds

    def keep(example: dict[str, Any]) -> bool:
        if max_length is not None and len(example["input_ids"]) > max_length:
            return False
        return sample_kind(example, token_layout) in kinds

    if set(kinds) != {"image", "video"} or max_length is not None:
        dataset = dataset.filter(keep)
    if max_samples is not None:
        dataset = dataset.take(max_samples)
    return dataset


class ResumableARDFCollator(TrainerCallback):
    """`ARDFDataCollator` whose randomness per batch is a function of `(seed, epoch, batch content)`.

    Masks drawn from a global RNG cannot be replayed exactly after `Trainer(resume_from_checkpoint=...)`: the data
    loader collates one batch ahead, so the RNG state saved with a checkpoint is already past the next batch. Here
    every batch seeds its own generator from a hash of `seed`, the current epoch and its token ids, so a resumed
    run draws the same masks and CFG text drops as an uninterrupted one, whatever the process, rank or data-loader
    worker. Register the same object as a callback, so that it follows the epochs (masks change every epoch):

    ```python
    collator = ResumableARDFCollator(ARDFDataCollator(), seed=args.seed)
    trainer = Trainer(..., data_collator=collator, callbacks=[collator])
    ```

    With `persistent_workers=True`, workers keep the epoch they started with; use non-persistent workers.
    """

    def __init__(self, collator: ARDFDataCollator, seed: int = 0) -> None:
        if not isinstance(collator, ARDFDataCollator):
            raise TypeError(f"collator must be an ARDFDataCollator, got {type(collator).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        self.collator = collator
        self.seed = seed
        self.epoch = 0

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        digest = hashlib.blake2b(f"{self.seed}:{self.epoch}".encode(), digest_size=8)
        for feature in features:
            digest.update(np.asarray(feature["input_ids"], dtype=np.int64).tobytes())
        batch_seed = int.from_bytes(digest.digest(), "little") % 2**63
        return dataclasses.replace(self.collator, seed=batch_seed)(features)

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        # `state.epoch` is the fractional epoch reached so far: an integer at an epoch start, less when resuming.
        self.epoch = math.floor(state.epoch + 1e-6)


def build_collator(
    args: LumosTrainingArguments, token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT
) -> ResumableARDFCollator:
    """The AR-DF collator of a stage: masking options from `args`, CFG text drop per `STAGE_RECIPES`, seeded with
    `args.seed` (see `ResumableARDFCollator`: also pass it to `Trainer(callbacks=[...])`). `token_layout` is the
    model's (`model.config.token_layout`)."""
    collator = ARDFDataCollator(
        token_layout=token_layout,
        masking_mode=args.masking_mode,
        min_masking_rate=args.min_masking_rate,
        text_drop_prob=args.text_drop_prob,
        text_drop_images=STAGE_RECIPES[args.stage].text_drop_images,
    )
    return ResumableARDFCollator(collator, seed=args.seed)


__all__ = [
    "LUMOS_OPTIMIZER_DEFAULTS",
    "STAGE_RECIPES",
    "DataArguments",
    "LumosTrainingArguments",
    "ModelArguments",
    "ResumableARDFCollator",
    "StageRecipe",
    "build_collator",
    "build_model",
    "load_training_dataset",
    "parse_config_overrides",
    "prepare_stage_dataset",
    "sample_kind",
]
