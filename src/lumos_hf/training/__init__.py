"""Training utilities: the AR-DF data collator and masking (LUMOS_SPEC 5)."""

from .collator import ARDFDataCollator, fill_video_placeholders
from .masking import (
    MASKING_MODES,
    MaskingMode,
    MaskRatioSchedule,
    apply_ardf_mask,
    cosine_schedule,
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
    "cosine_schedule",
    "diffusion_forcing_mask",
    "fill_video_placeholders",
    "frame_content_positions",
    "random_mask",
    "sample_mask_ratios",
    "tube_mask",
]
