"""Training: the AR-DF data collator and masking (LUMOS_SPEC 5), Trainer and LoRA recipes, video-tokenizer training."""

from .collator import ARDFDataCollator
from .masking import (
    MASKING_MODES,
    MaskingMode,
    MaskRatioSchedule,
    apply_ardf_mask,
    diffusion_forcing_mask,
    frame_content_positions,
    random_mask,
    sample_mask_ratios,
    tube_mask,
)

__all__ = [
    "MASKING_MODES",
    "ARDFDataCollator",
    "MaskRatioSchedule",
    "MaskingMode",
    "apply_ardf_mask",
    "diffusion_forcing_mask",
    "frame_content_positions",
    "random_mask",
    "sample_mask_ratios",
    "tube_mask",
]
