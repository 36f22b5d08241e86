"""AR-DF data collator (LUMOS_SPEC 2 and 5): official pre-tokenized placeholders, CFG text drop, masking, padding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import get_worker_info

from ..scheduling_ardf import cosine_schedule
from ..sequence_format import IGNORE_INDEX, count_frames, fill_video_placeholders, first_video_start, pad_sequences
from ..tokens import OFFICIAL_TOKEN_LAYOUT, TokenLayout
from .masking import MASKING_MODES, MaskingMode, MaskRatioSchedule, apply_ardf_mask


@dataclass
class ARDFDataCollator:
    """Batch token sequences for AR-DF training (images and videos mixed, any lengths and resolutions).

    Per sample, in order: replace the official placeholders (`sequence_format.fill_video_placeholders`); with probability
    `text_drop_prob`, drop the text of a video sample (more than one frame; images too with `text_drop_images`)
    for classifier-free guidance, so that it starts at the video start token 9004; mask it with `apply_ardf_mask`
    (labels: the original id at masked video tokens, -100 elsewhere). Then pad on the right.

    Features are mappings with `input_ids` (list of ints, 1D tensor or array; our processor's output or the official
    pre-tokenized format) and optionally `labels` (only checked for length: the labels are recomputed).

    Randomness: with `seed`, the collator owns a `torch.Generator`, so two collators with the same seed produce the
    same batches. In a DataLoader worker the generator is re-seeded from `seed` and the worker's seed
    (`get_worker_info().seed`: the loader's base seed, drawn anew each epoch, plus the worker id), so workers and
    epochs do not repeat each other's masks; pass a seeded `generator` to the DataLoader (or call `torch.manual_seed`)
    for reproducible multi-worker runs. Without `seed`, torch's global RNG is used (seeded per worker by PyTorch).

    Args:
        masking_mode: `"tube"` (default), `"random"` or `"diffusion_forcing"` (see `lumos_hf.training.masking`).
        min_masking_rate: lower clip of the mask ratio, in `[0, 1]`.
        mask_ratio_schedule: maps `u ~ U(0, 1)` (tensor) to mask ratios in `[0, 1]`; cosine by default.
        text_drop_prob: probability in `[0, 1]` of dropping the text of a video sample.
        text_drop_images: also drop the text of single-frame (image) samples.
        pad_to_multiple_of: pad the batch length up to a multiple of this positive int.
        max_length: raise `ValueError` when a processed sample is longer (never truncates).
        seed: seed of the collator's own generator (None: global RNG).
        token_layout: the model's token ids (padding, MASK, frames, video tokens); official by default.

    Returns (from `__call__`): `input_ids`, `attention_mask` (1 = real token) and `labels`, each `[B, L]` long.

    Example:

    ```python
    >>> from lumos_hf import ARDFDataCollator

    >>> frame = [8197, 8805, 8805, *([65536 + 7] * 4 + [8803]) * 4, 8196]  # a 32x32 frame: 24 tokens, 20 content
    >>> video = [0, 500, 8710, 9004, 8806, 8805, *frame, *frame, 9005, 8710]
    >>> image = [0, 501, 8710, 9004, 8805, 8805, *frame, 9005, 8710]
    >>> collator = ARDFDataCollator(seed=0)
    >>> batch = collator([{"input_ids": video}, {"input_ids": image}])
    >>> batch["input_ids"].shape, batch["attention_mask"].sum(-1).tolist()
    (torch.Size([2, 56]), [56, 32])
    >>> bool(((batch["labels"] == -100) | (batch["labels"] >= 65536)).all())  # only masked video tokens are scored
    True
    ```
    """

    masking_mode: MaskingMode = "tube"
    min_masking_rate: float = 0.7
    mask_ratio_schedule: MaskRatioSchedule = cosine_schedule
    text_drop_prob: float = 0.1
    text_drop_images: bool = False
    pad_to_multiple_of: int | None = None
    max_length: int | None = None
    seed: int | None = None
    token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT
    _generator: torch.Generator | None = field(default=None, init=False, repr=False, compare=False)
    _worker_seed: int | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.masking_mode not in MASKING_MODES:
            raise ValueError(f"masking_mode must be one of {MASKING_MODES}, got {self.masking_mode!r}")
        for name in ("min_masking_rate", "text_drop_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not callable(self.mask_ratio_schedule):
            raise TypeError("mask_ratio_schedule must be a callable mapping a tensor of u ~ U(0, 1) to mask ratios")
        for name in ("pad_to_multiple_of", "max_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be None or a positive int, got {value!r}")
        if self.seed is not None:
            if not isinstance(self.seed, int):
                raise TypeError(f"seed must be None or an int, got {type(self.seed).__name__}")
            self._generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """Collate `features` into `input_ids`, `attention_mask` and `labels`, each `[B, L]` long."""
        if len(features) == 0:
            raise ValueError("features must hold at least one sample")
        generator = self._current_generator()
        sequences, labels = [], []
        for index, feature in enumerate(features):
            input_ids = _feature_input_ids(feature, index, self.token_layout.vocab_size)
            try:
                masked, sample_labels = self._process(input_ids, generator)
            except ValueError as error:
                raise ValueError(f"features[{index}]: {error}") from error
            sequences.append(masked)
            labels.append(sample_labels)
        return self._pad(sequences, labels)

    def _process(
        self, input_ids: torch.LongTensor, generator: torch.Generator | None
    ) -> tuple[torch.LongTensor, torch.LongTensor]:
        """Placeholders, CFG text drop, length check and masking of one sequence `[L]`."""
        layout = self.token_layout
        input_ids = fill_video_placeholders(input_ids, layout)
        drop = float(torch.rand((), generator=generator)) < self.text_drop_prob
        if drop and (self.text_drop_images or count_frames(input_ids, layout) > 1):
            input_ids = input_ids[first_video_start(input_ids, layout) :]
        if self.max_length is not None and input_ids.shape[0] > self.max_length:
            raise ValueError(
                f"{input_ids.shape[0]} tokens exceed max_length={self.max_length}; the collator never truncates "
                "(it would cut a frame): filter or re-bucket long samples"
            )
        return apply_ardf_mask(
            input_ids,
            self.masking_mode,
            generator=generator,
            schedule=self.mask_ratio_schedule,
            min_masking_rate=self.min_masking_rate,
            token_layout=layout,
        )

    def _current_generator(self) -> torch.Generator | None:
        """The collator's generator, re-seeded once per DataLoader worker (and epoch) inside worker processes."""
        worker = get_worker_info()
        if self._generator is not None and worker is not None and worker.seed != self._worker_seed:
            self._generator.manual_seed((self.seed * 1_000_003 + worker.seed) % 2**63)
            self._worker_seed = worker.seed
        return self._generator

    def _pad(self, sequences: list[torch.LongTensor], labels: list[torch.LongTensor]) -> dict[str, torch.Tensor]:
        length = max(sequence.shape[0] for sequence in sequences)
        if self.pad_to_multiple_of is not None:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids, attention_mask = pad_sequences(sequences, self.token_layout.pad_token_id, "right", length)
        padded_labels = pad_sequences(labels, IGNORE_INDEX, "right", length)[0]
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": padded_labels}


def _feature_input_ids(feature: Mapping[str, Any], index: int, vocab_size: int) -> torch.LongTensor:
    """`feature["input_ids"]` as a 1D long tensor, validated (and `labels`, when given, of the same length)."""
    if not isinstance(feature, Mapping) or "input_ids" not in feature:
        raise TypeError(f"features[{index}] must be a mapping with 'input_ids', got {type(feature).__name__}")
    input_ids = _as_1d_long(feature["input_ids"], f"features[{index}]['input_ids']")
    if int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size:
        raise ValueError(f"features[{index}]['input_ids'] must hold ids in [0, {vocab_size - 1}]")
    if feature.get("labels") is not None:
        labels = _as_1d_long(feature["labels"], f"features[{index}]['labels']")
        if labels.shape != input_ids.shape:
            raise ValueError(
                f"features[{index}]['labels'] must have the length of its input_ids ({input_ids.shape[0]}), "
                f"got {labels.shape[0]}"
            )
    return input_ids


def _as_1d_long(values: Any, name: str) -> torch.LongTensor:
    try:
        tensor = torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be a sequence of ints or an integer tensor/array: {error}") from error
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold integers, got dtype {tensor.dtype}")
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise ValueError(f"{name} must be one non-empty sequence (1D), got shape {tuple(tensor.shape)}")
    return tensor.long()
