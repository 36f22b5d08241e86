"""Lumos-1 model configuration."""

from __future__ import annotations

import math
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers.activations import ACT2FN
from transformers.configuration_utils import PreTrainedConfig
from transformers.modeling_rope_utils import RopeParameters

from .sequence_format import POSITION_SCALE
from .tokens import OFFICIAL_TOKEN_LAYOUT as OFFICIAL
from .tokens import TokenLayout


def _llama_intermediate_size(hidden_size: int, multiple_of: int = 256) -> int:
    """Llama's SwiGLU width: 2/3 of 4·hidden, rounded up to a multiple of 256 (Chameleon-7B: 4096 → 11008)."""
    return multiple_of * -(-int(8 * hidden_size / 3) // multiple_of)


# The paper's Table B1 gives layers, hidden size, heads and head dim; the MLP width is not published, so the presets
# follow the Llama/Chameleon ratio above. Key/value heads are not published either: full multi-head attention, as
# in Chameleon.
LUMOS_PRESETS: dict[str, dict[str, int]] = {
    "lumos-1-0.5b": {"num_hidden_layers": 16, "hidden_size": 1024, "num_attention_heads": 16, "head_dim": 64},
    "lumos-1-1b": {"num_hidden_layers": 16, "hidden_size": 2048, "num_attention_heads": 32, "head_dim": 64},
    "lumos-1-3b": {"num_hidden_layers": 28, "hidden_size": 3072, "num_attention_heads": 24, "head_dim": 128},
}


# Sizes that must be integers >= 1 (a config with 0 or -1 layers would build a model that fails later or silently).
POSITIVE_INTEGERS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "max_position_embeddings",
    "model_parallel_size",
    "query_chunk_size",
    "loss_chunk_size",
    "video_vocab_size",
)


@strict
class LumosConfig(PreTrainedConfig):
    r"""
    Configuration of [`LumosForVideoGeneration`]: a Llama/Chameleon decoder (RMSNorm, SwiGLU, Chameleon QK-norm)
    over one vocabulary of text and discrete video tokens, with MM-RoPE and block-causal frame attention.

    Vocabulary: ids `[0, text_vocab_size)` are Chameleon's text BPE, ids `video_token_offset + k` for
    `k < video_vocab_size` are video tokens (Cosmos FSQ indices). `vocab_size` is derived from the two. The ids of
    the control and size tokens (`*_token_id`, `size_token_offset`, `num_size_tokens`, ...) form the model's
    `token_layout` (official by default; a compact vocabulary sets its own).

    MM-RoPE (LUMOS_SPEC 3): channel `j` of the rotary angle vector uses the t, h or w position given by
    `mm_rope_channel_pattern[j % len(pattern)]`; visual content tokens get positions
    `(t, h, w) = position_scale * (frame, row, column) + p0`. `mm_rope=False` gives plain 1D RoPE everywhere.

    Example:

    ```python
    >>> from lumos_hf import LumosConfig, LumosForVideoGeneration

    >>> config = LumosConfig.from_preset("lumos-1-1b")
    >>> (config.num_hidden_layers, config.hidden_size, config.head_dim, config.vocab_size)
    (16, 2048, 64, 129536)
    >>> tiny = LumosConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
    ...                    video_vocab_size=64)
    >>> model = LumosForVideoGeneration(tiny)
    ```
    """

    model_type = "lumos"
    keys_to_ignore_at_inference = ["cache"]
    ignore_keys_at_rope_validation = {"mrope_section"}
    base_model_tp_plan = {
        "layers.*.self_attn.q_proj": "colwise",
        "layers.*.self_attn.k_proj": "colwise",
        "layers.*.self_attn.v_proj": "colwise",
        "layers.*.self_attn.o_proj": "rowwise",
        "layers.*.mlp.gate_proj": "colwise",
        "layers.*.mlp.up_proj": "colwise",
        "layers.*.mlp.down_proj": "rowwise",
    }

    hidden_size: int = 2048
    intermediate_size: int | None = None
    num_hidden_layers: int = 16
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    hidden_act: str = "silu"
    mlp_bias: bool = False  # the SwiGLU MLP is Llama's; Lumos-1 has no MLP biases
    max_position_embeddings: int = 131072
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-5
    qk_norm_eps: float = 1e-5
    swin_norm: bool = False
    model_parallel_size: int = 1
    attention_dropout: float = 0.0
    # Queries per chunk of the `block_causal_chunked` attention (not `attention_chunk_size`, which transformers'
    # caches read as Llama-4 chunked attention).
    query_chunk_size: int = 1024
    use_cache: bool = True
    tie_word_embeddings: bool = False
    rope_parameters: RopeParameters | dict | None = None
    # Vocabulary layout (`token_layout`).
    text_vocab_size: int = OFFICIAL.text_vocab_size
    video_token_offset: int = OFFICIAL.video_token_offset
    video_vocab_size: int = OFFICIAL.video_vocab_size
    vocab_size: int | None = None
    pad_token_id: int | None = OFFICIAL.pad_token_id
    bos_token_id: int | None = OFFICIAL.bos_token_id
    eos_token_id: int | list[int] | None = OFFICIAL.eos_token_id
    sep_token_id: int = OFFICIAL.sep_token_id
    frame_start_token_id: int = OFFICIAL.frame_start_token_id
    frame_end_token_id: int = OFFICIAL.frame_end_token_id
    new_line_token_id: int = OFFICIAL.new_line_token_id
    video_start_token_id: int = OFFICIAL.video_start_token_id
    video_end_token_id: int = OFFICIAL.video_end_token_id
    mask_token_id: int = OFFICIAL.mask_token_id
    size_token_offset: int = OFFICIAL.size_token_offset
    num_size_tokens: int = OFFICIAL.num_size_tokens
    digit_token_offset: int = OFFICIAL.digit_token_offset
    frames_placeholder_token_id: int = OFFICIAL.frames_placeholder_token_id
    fps_placeholder_token_id: int = OFFICIAL.fps_placeholder_token_id
    # MM-RoPE.
    mm_rope: bool = True
    mm_rope_channel_pattern: str = "tttthhwwhhwwhhww"
    position_scale: list[int] | None = None
    # Training loss.
    loss_chunk_size: int = 2000
    z_loss_weight: float = 0.0

    def __post_init__(self, **kwargs: Any) -> None:
        if self.head_dim is None and isinstance(self.num_attention_heads, int) and self.num_attention_heads > 0:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.intermediate_size is None:
            self.intermediate_size = _llama_intermediate_size(self.hidden_size)
        if self.vocab_size is None:
            self.vocab_size = self.video_token_offset + self.video_vocab_size
        self.position_scale = list(POSITION_SCALE if self.position_scale is None else self.position_scale)
        super().__post_init__(**kwargs)
        if self.rope_parameters is not None:
            self.rope_parameters.setdefault("mrope_section", self.mrope_section)

    @property
    def mrope_section(self) -> list[int]:
        """How many of the d/2 rotary frequencies take the t, h and w positions (`[t, h, w]`, summing to d/2), as
        Qwen2-VL's `rope_parameters["mrope_section"]`; Lumos interleaves them by `mm_rope_channel_pattern`."""
        pattern = self.mm_rope_channel_pattern if self.mm_rope else "t"
        repeats = self.head_dim // 2 // len(pattern)
        return [pattern.count(axis) * repeats for axis in "thw"]

    def validate_architecture(self) -> None:
        """Part of `@strict` validation: sizes and shapes the model can be built with."""
        for name in POSITIVE_INTEGERS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("rms_norm_eps", "qk_norm_eps"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a finite float > 0, got {getattr(self, name)!r}")
        if not 0 <= self.initializer_range < math.inf or not 0 <= self.z_loss_weight < math.inf:
            raise ValueError(
                f"initializer_range and z_loss_weight must be finite and >= 0, got {self.initializer_range!r}, "
                f"{self.z_loss_weight!r}"
            )
        if not 0 <= self.attention_dropout < 1:
            raise ValueError(f"attention_dropout must be in [0, 1), got {self.attention_dropout!r}")
        if self.hidden_act not in ACT2FN:
            raise ValueError(f"hidden_act must be one of transformers' activations, got {self.hidden_act!r}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of num_key_value_heads "
                f"({self.num_key_value_heads})"
            )
        if self.num_attention_heads % self.model_parallel_size or self.num_key_value_heads % self.model_parallel_size:
            raise ValueError(
                f"model_parallel_size ({self.model_parallel_size}) must divide num_attention_heads "
                f"({self.num_attention_heads}) and num_key_value_heads ({self.num_key_value_heads}): it sets the "
                "QK-norm affine groups"
            )
        pattern = self.mm_rope_channel_pattern
        if set(pattern) - set("thw") or (self.head_dim // 2) % len(pattern):
            raise ValueError(
                f"mm_rope_channel_pattern must use the letters t, h, w and its length must divide head_dim / 2 "
                f"({self.head_dim // 2}), got {pattern!r}"
            )
        given = (self.rope_parameters or {}).get("mrope_section")
        if given is not None and list(given) != self.mrope_section:
            raise ValueError(
                f"rope_parameters['mrope_section'] ({list(given)}) disagrees with mm_rope_channel_pattern "
                f"{pattern!r}, which gives {self.mrope_section}: set the pattern (the section is derived from it)"
            )
        if len(self.position_scale) != 3:
            raise ValueError(f"position_scale takes three integers (t, h, w), got {self.position_scale}")
        if self.vocab_size != self.video_token_offset + self.video_vocab_size:
            raise ValueError(
                f"vocab_size ({self.vocab_size}) must equal video_token_offset + video_vocab_size "
                f"({self.video_token_offset} + {self.video_vocab_size})"
            )
        TokenLayout.from_object(self)  # raises on ids that clash or fall outside their ranges

    @property
    def token_layout(self) -> TokenLayout:
        """The ids of the sequence format this model was trained with."""
        return TokenLayout.from_object(self)

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> LumosConfig:
        """Configuration of an official size: `lumos-1-0.5b`, `lumos-1-1b` or `lumos-1-3b` (paper, Table B1)."""
        if name not in LUMOS_PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(LUMOS_PRESETS)}")
        return cls(**{**LUMOS_PRESETS[name], **kwargs})


__all__ = ["LumosConfig", "LUMOS_PRESETS"]
