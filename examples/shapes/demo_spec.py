"""What the shapes demo model is made of: its compact vocabulary, its text tokenizer and its size.

Shared by the scripts of `examples/shapes/` (run them from the repository root):

    python examples/shapes/train_tokenizer.py --output_dir runs/shapes/tokenizer       # video tokenizer
    python examples/shapes/prepare_data.py --run_dir runs/shapes                       # processor + token dataset
    python examples/shapes/train_model.py --run_dir runs/shapes                        # Lumos by AR-DF (Trainer)
    python examples/shapes/export_pipeline.py --run_dir runs/shapes --output_dir DIR   # the shipped pipeline
"""

from __future__ import annotations

import math

from lumos_hf import LumosConfig, LumosProcessor
from lumos_hf.data import shapes
from lumos_hf.text_tokenizer import build_compact_tokenizer
from lumos_hf.tokens import TokenLayout

# The video tokenizer of the shipped model: the DV4x8x8 architecture, narrower, with a 1,000-code FSQ (docs/demo.md
# records a wider 4,096-code variant that reconstructs better but did not give a better model in the same budget).
TOKENIZER_CONFIG = {
    "channels": 32,
    "channels_mult": (1, 2),
    "num_res_blocks": 1,
    "attn_resolutions": (),
    "z_channels": 16,
    "levels": (8, 5, 5, 5),
}

# 512 text ids (controls 0-11, size tokens 16-63, bytes 64-319 with "0".."9" at 79-88, word merges above) and the
# tokenizer's video codes from id 512.
LAYOUT = TokenLayout.compact(text_vocab_size=512, video_vocab_size=math.prod(TOKENIZER_CONFIG["levels"]))

TEMPLATE_WORDS = (
    "Generate", "Ġa", "Ġvideo", "Ġwith", "Ġresolution", "Ġof", "Ġconsisting", "Ġframes", "Ġat", "Ġper", "Ġsecond",
    "Ġaccording", "Ġto", "Ġthe", "Ġfollowing", "Ġprompt", "Ġan", "Ġimage",
)  # fmt: skip
CAPTION_WORDS = tuple(
    "Ġ" + word
    for word in {
        *shapes.COLOURS,
        *shapes.SHAPES,
        *(word for motion in shapes.MOTIONS for word in motion.split()),
        *shapes.BACKGROUNDS,
        "on",
        "background",
        "and",
    }
)

MODEL_CONFIG = {
    "hidden_size": 256,
    "intermediate_size": 704,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "max_position_embeddings": 4096,
}

# Generation defaults saved with the pipeline (`generation_config` in `model_index.json`).
GENERATION_DEFAULTS = {
    "height": shapes.FRAME_SIZE,
    "width": shapes.FRAME_SIZE,
    "num_frames": shapes.NUM_FRAMES,
    "fps": shapes.FPS,
    "num_inference_steps": 8,
    "guidance_scale": 3.0,
    # The official ratio: at temperature 0.3 it beats 0.8 on shape and consistency (docs/demo.md, "History mask ratio").
    "history_mask_ratio": 0.7,
}
# Scheduler settings saved with the pipeline (`scheduler/scheduler_config.json`); the rest are the official defaults.
SCHEDULER_CONFIG = {"temperature": 0.3}  # sharper shapes than the official 1.0 in the benchmark (docs/demo.md)


def build_processor() -> LumosProcessor:
    tokenizer = build_compact_tokenizer(LAYOUT, (*TEMPLATE_WORDS, *CAPTION_WORDS))
    return LumosProcessor(tokenizer=tokenizer, **LAYOUT.to_dict())


def build_config(**overrides) -> LumosConfig:
    """The demo model's config; `overrides` change any field (the ablation variants)."""
    return LumosConfig(**{**MODEL_CONFIG, **LAYOUT.to_dict(), **overrides})
