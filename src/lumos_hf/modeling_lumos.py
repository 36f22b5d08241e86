"""Lumos-1: a Llama/Chameleon decoder over text and discrete video tokens with MM-RoPE and block-causal attention.

Shapes: B batch, L new tokens, P cached tokens, H query heads, K key/value heads, d head dim, D hidden size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.cache_utils import Cache, DynamicCache
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS, dynamic_rope_update
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel, slice_logits_to_keep
from transformers.models.llama.modeling_llama import (
    LlamaMLP,
    LlamaRMSNorm,
    apply_rotary_pos_emb,
    eager_attention_forward,
)
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs, can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import capture_outputs

from .attention_lumos import ATTN_IMPLEMENTATION as BLOCK_CAUSAL_CHUNKED
from .attention_lumos import block_causal_block_mask, block_causal_ranges
from .configuration_lumos import LumosConfig
from .loss_lumos import visual_cross_entropy
from .sequence_format import compute_mm_rope_layout


class LumosCache(DynamicCache):
    """A `DynamicCache` that also keeps the token ids it holds (`token_ids`, `[B, P]`).

    MM-RoPE positions and frame segments of a new chunk depend on the whole sequence (the first visual token, the
    frame count, the open frame), so the model derives them from the cached ids plus the chunk.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.token_ids: torch.LongTensor | None = None

    def append_tokens(self, input_ids: torch.LongTensor) -> None:
        self.token_ids = input_ids if self.token_ids is None else torch.cat([self.token_ids, input_ids], dim=-1)

    def crop(self, tokens_to_remove: int) -> None:
        """Drop the last `-tokens_to_remove` tokens (a negative count, as `DynamicCache.crop`)."""
        super().crop(tokens_to_remove)
        if tokens_to_remove < 0 and self.token_ids is not None:
            self.token_ids = self.token_ids[:, :tokens_to_remove]

    def batch_repeat_interleave(self, repeats: int) -> None:
        super().batch_repeat_interleave(repeats)
        if self.token_ids is not None:
            self.token_ids = self.token_ids.repeat_interleave(repeats, dim=0)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        super().batch_select_indices(indices)
        if self.token_ids is not None:
            self.token_ids = self.token_ids[indices]


class LumosQKLayerNorm(nn.Module):
    """Chameleon QK-norm: LayerNorm without affine over d, then a `[model_parallel_size, d]` weight and bias whose
    row g serves heads `g·(heads/mp) ... (g+1)·(heads/mp) - 1`. Input and output `[B, L, heads, d]`."""

    def __init__(self, num_heads: int, head_dim: int, model_parallel_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.heads_per_group = num_heads // model_parallel_size
        self.weight = nn.Parameter(torch.ones(model_parallel_size, head_dim))
        self.bias = nn.Parameter(torch.zeros(model_parallel_size, head_dim))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = F.layer_norm(hidden_states, hidden_states.shape[-1:], eps=self.eps)
        weight = self.weight.repeat_interleave(self.heads_per_group, dim=0)  # [heads, d]
        bias = self.bias.repeat_interleave(self.heads_per_group, dim=0)
        return hidden_states * weight + bias


class LumosMMRotaryEmbedding(nn.Module):
    """MM-RoPE: rotary angles whose channels take the t, h or w position (LUMOS_SPEC 3).

    Channel `j < d/2` (and its rotate-half partner `j + d/2`) rotates with frequency `inv_freq[j]` at position
    `position_ids[axis[j]]`, with `axis[j]` from the config's channel pattern ("tttthhwwhhwwhhww" repeated: the
    distributed meta MM-RoPE). Text-like tokens carry the same 1D position on all three axes, so they get plain RoPE.
    Computed once per forward and shared by all layers; angles are always fp32. transformers' rope types apply
    (`rope_parameters["rope_type"]`: linear, dynamic, yarn, ...), the dynamic ones through `dynamic_rope_update`.
    """

    inv_freq: torch.Tensor
    channel_axis: torch.Tensor

    def __init__(self, config: LumosConfig) -> None:
        super().__init__()
        self.config = config
        self.rope_type = config.rope_parameters["rope_type"]
        rope_init_fn: Callable = self.compute_default_rope_parameters
        if self.rope_type != "default":
            rope_init_fn = ROPE_INIT_FUNCTIONS[self.rope_type]
        inv_freq, self.attention_scaling = rope_init_fn(config)
        self.max_seq_len_cached = self.original_max_seq_len = config.max_position_embeddings
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.register_buffer("original_inv_freq", inv_freq.clone(), persistent=False)
        self.register_buffer("channel_axis", self.compute_channel_axis(config), persistent=False)

    @staticmethod
    def compute_default_rope_parameters(config: LumosConfig, **kwargs) -> tuple[torch.Tensor, float]:
        """`inv_freq = 1 / θ^(arange(0, d, 2) / d)`, `[d/2]`, exactly as the official code."""
        base = config.rope_parameters["rope_theta"]
        dim = config.head_dim
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        return inv_freq, 1.0

    def _apply(self, fn, recurse: bool = True):
        """Keep the frequencies in fp32 when the model is cast (`model.to(torch.bfloat16)`): angles stay exact."""
        super()._apply(fn, recurse)
        for name in ("inv_freq", "original_inv_freq"):
            buffer = getattr(self, name)
            if buffer.is_floating_point() and buffer.dtype != torch.float32 and buffer.device.type != "meta":
                inv_freq = (
                    self.compute_default_rope_parameters(self.config)[0] if self.rope_type == "default" else None
                )
                setattr(self, name, inv_freq.to(buffer.device) if inv_freq is not None else buffer.float())
        return self

    @staticmethod
    def compute_channel_axis(config: LumosConfig) -> torch.Tensor:
        """Index (0 = t, 1 = h, 2 = w) of the position that each of the d/2 frequencies uses: `[d/2]`."""
        pattern = config.mm_rope_channel_pattern if config.mm_rope else "t"
        axes = ["thw".index(axis) for axis in pattern]
        return torch.tensor(axes * (config.head_dim // 2 // len(axes)), dtype=torch.long)

    @torch.no_grad()
    @dynamic_rope_update
    def forward(self, x: torch.Tensor, position_ids: torch.LongTensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`position_ids [3, B, L]` (t, h, w), or `[B, L]` 1D positions used on all three axes → `cos, sin
        [B, L, d]` in `x.dtype`."""
        if position_ids.ndim == 2:
            position_ids = position_ids.unsqueeze(0).expand(3, -1, -1)
        elif position_ids.ndim != 3 or position_ids.shape[0] != 3:
            raise ValueError(f"position_ids must be [3, B, L] (t, h, w) or [B, L], got {tuple(position_ids.shape)}")
        positions = position_ids.index_select(0, self.channel_axis.to(position_ids.device))  # [d/2, B, L]
        freqs = positions.permute(1, 2, 0).float() * self.inv_freq.to(x.device, torch.float32)  # [B, L, d/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


class LumosAttention(nn.Module):
    """Multi-head attention with GQA and Chameleon QK-norm; q and k are normalised, then rotated with MM-RoPE."""

    def __init__(self, config: LumosConfig, layer_idx: int) -> None:
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.is_causal = True
        hidden, heads, kv_heads = config.hidden_size, config.num_attention_heads, config.num_key_value_heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)
        self.q_norm = LumosQKLayerNorm(heads, self.head_dim, config.model_parallel_size, config.qk_norm_eps)
        self.k_norm = LumosQKLayerNorm(kv_heads, self.head_dim, config.model_parallel_size, config.qk_norm_eps)

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = self.q_norm(self.q_proj(hidden_states).view(hidden_shape)).transpose(1, 2)  # [B, H, L, d]
        key_states = self.k_norm(self.k_proj(hidden_states).view(hidden_shape)).transpose(1, 2)  # [B, K, L, d]
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)

        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)

        if cache is not None:
            key_states, value_states = cache.update(key_states, value_states, self.layer_idx)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self,
            query_states,
            key_states,
            value_states,
            attention_mask,
            dropout=0.0 if not self.training else self.attention_dropout,
            scaling=self.scaling,
            **kwargs,
        )
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(attn_output), attn_weights


class LumosDecoderLayer(GradientCheckpointingLayer):
    """Pre-norm `h = x + Attn(RMSNorm(x)); y = h + MLP(RMSNorm(h))`, or with `swin_norm` the post-norm variant
    `h = x + RMSNorm(Attn(x)); y = h + RMSNorm(MLP(h))`."""

    def __init__(self, config: LumosConfig, layer_idx: int) -> None:
        super().__init__()
        self.swin_norm = config.swin_norm
        self.self_attn = LumosAttention(config=config, layer_idx=layer_idx)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> torch.Tensor:
        if self.swin_norm:
            attn_output, _ = self.self_attn(hidden_states, position_embeddings, attention_mask, cache, **kwargs)
            hidden_states = hidden_states + self.input_layernorm(attn_output)
            return hidden_states + self.post_attention_layernorm(self.mlp(hidden_states))
        attn_output, _ = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings, attention_mask, cache, **kwargs
        )
        hidden_states = hidden_states + attn_output
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))


class LumosPreTrainedModel(PreTrainedModel):
    config: LumosConfig
    config_class = LumosConfig  # the annotation is a string here (postponed annotations)
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["LumosDecoderLayer"]
    _skip_keys_device_placement = ["cache"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_record_outputs = {"hidden_states": LumosDecoderLayer, "attentions": LumosAttention}

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, LumosMMRotaryEmbedding):
            module.channel_axis.copy_(module.compute_channel_axis(module.config))

    @classmethod
    def from_pretrained(cls, *args: Any, strict: bool = True, **kwargs: Any) -> Any:
        """`PreTrainedModel.from_pretrained`, strict by default: a checkpoint that lacks weights of the model (which
        would stay randomly initialised), carries weights the model does not have, or has weights of another shape
        raises `ValueError` naming them. Loading the base `LumosModel` from a `LumosForVideoGeneration` checkpoint
        drops only the head. `strict=False` restores transformers' behaviour (a report, no error)."""
        output_loading_info = kwargs.pop("output_loading_info", False)
        if strict:  # collect mis-shaped weights (transformers would raise without naming them) and raise below
            kwargs["ignore_mismatched_sizes"] = True
        model, info = super().from_pretrained(*args, output_loading_info=True, **kwargs)
        if strict:
            unexpected = info.get("unexpected_keys", ())
            if cls.base_model_prefix and not hasattr(model, cls.base_model_prefix):  # the base model itself
                unexpected = [key for key in unexpected if key.startswith(f"{cls.base_model_prefix}.")]
            problems = {
                "missing (would be randomly initialised)": sorted(info.get("missing_keys", ())),
                "unexpected": sorted(unexpected),
                "of another shape": sorted(str(key) for key in info.get("mismatched_keys", ())),
            }
            problems = {kind: keys for kind, keys in problems.items() if keys}
            if problems:
                details = "; ".join(f"{kind}: {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
                                    for kind, keys in problems.items())  # fmt: skip
                raise ValueError(
                    f"{cls.__name__}.from_pretrained: the checkpoint does not match the config ({details}). "
                    "Pass strict=False to load it anyway."
                )
        return (model, info) if output_loading_info else model


def _check_flash_attention_allowed(
    attention_mask: torch.Tensor | None, frame_ids: torch.LongTensor, query_length: int
) -> bool:
    """Flash attention takes no arbitrary mask. It is exact only when the block-causal mask of the chunk is plain
    causal (no frame token in the chunk: returns True) or fully visible (the chunk lies inside one frame segment and
    all cached tokens precede it: returns False, i.e. not causal). Anything else raises `ValueError`."""
    if attention_mask is not None and not bool(attention_mask.all()):
        raise ValueError(
            "flash attention cannot apply a padding mask here; use attn_implementation='sdpa' or 'flex_attention'"
        )
    chunk_frames = frame_ids[:, -query_length:]
    if bool((chunk_frames < 0).all()):
        return True
    if query_length == 1 or bool((chunk_frames == chunk_frames[:, :1]).all() and (chunk_frames >= 0).all()):
        return False
    raise ValueError(
        "flash attention cannot express the block-causal frame mask of this chunk (it mixes frames and other tokens); "
        "use attn_implementation='sdpa' or 'flex_attention', or feed frames one chunk at a time with a KV cache"
    )


class LumosModel(LumosPreTrainedModel):
    def __init__(self, config: LumosConfig) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList([LumosDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = LumosMMRotaryEmbedding(config=config)
        self.gradient_checkpointing = False
        self.post_init()

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        frame_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids: `[B, L]` the new tokens (the whole sequence, or a chunk after the cached prefix).
            attention_mask: `[B, P + L]` padding mask (1 = real token), or None when nothing is padded.
            position_ids: `[3, B, L]` MM-RoPE (t, h, w) positions of the new tokens, or `[B, L]` 1D positions. Derived
                from the ids when omitted; with `inputs_embeds` and no ids, text-like 1D positions.
            frame_ids: `[B, P + L]` frame segment ids (-1 outside frames) for the block-causal mask. Derived when
                omitted; with `inputs_embeds` and no ids, -1 everywhere (causal).
            cache: a [`LumosCache`] (created when `use_cache=True`); with a plain `Cache` holding tokens,
                `position_ids` and `frame_ids` must be given.
        """
        if (input_ids is None) ^ (inputs_embeds is not None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if use_cache and cache is None:
            cache = LumosCache(config=self.config)
        query_length = inputs_embeds.shape[1]

        if position_ids is None or frame_ids is None:
            derived_positions, derived_frames = self._layout(
                input_ids, attention_mask, cache, inputs_embeds.shape[0], query_length
            )
            position_ids = derived_positions if position_ids is None else position_ids
            frame_ids = derived_frames if frame_ids is None else frame_ids
        if isinstance(cache, LumosCache) and input_ids is not None:
            cache.append_tokens(input_ids)

        implementation = self.config._attn_implementation
        if implementation == BLOCK_CAUSAL_CHUNKED:
            mask = block_causal_ranges(frame_ids, attention_mask, query_length, self.config.query_chunk_size)
        elif implementation == "flex_attention":
            ranges = block_causal_ranges(frame_ids, attention_mask, query_length)
            mask = block_causal_block_mask(ranges, kv_length=frame_ids.shape[1])
        elif "flash" in implementation:
            kwargs["is_causal"] = _check_flash_attention_allowed(attention_mask, frame_ids, query_length)
            mask = create_causal_mask(self.config, inputs_embeds, attention_mask, cache)
        else:
            mask = create_causal_mask(self.config, inputs_embeds, attention_mask, cache, block_sequence_ids=frame_ids)

        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        for decoder_layer in self.layers[: self.config.num_hidden_layers]:
            hidden_states = decoder_layer(
                hidden_states,
                position_embeddings=position_embeddings,
                attention_mask=mask,
                cache=cache,
                **kwargs,
            )
        hidden_states = self.norm(hidden_states)
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, cache=cache)

    def _layout(
        self,
        input_ids: torch.LongTensor | None,
        attention_mask: torch.Tensor | None,
        cache: Cache | None,
        batch_size: int,
        query_length: int,
    ) -> tuple[torch.LongTensor, torch.LongTensor]:
        """MM-RoPE positions `[3, B, L]` of the new tokens and frame ids `[B, P + L]`, derived from the full sequence."""
        past_length = cache.get_seq_length() if cache is not None else 0
        if input_ids is None:
            return self._text_layout(
                attention_mask, batch_size, past_length, query_length, self.embed_tokens.weight.device
            )
        full_ids = input_ids
        if past_length:
            if not isinstance(cache, LumosCache) or cache.token_ids is None or cache.token_ids.shape[1] != past_length:
                raise ValueError(
                    "a cache that does not record the ids of all its tokens (use LumosCache, fed with input_ids) needs "
                    "explicit position_ids and frame_ids: compute them on the whole sequence with "
                    "compute_mm_rope_layout(...) and slice the new tokens"
                )
            full_ids = torch.cat([cache.token_ids, input_ids], dim=-1)
        layout = compute_mm_rope_layout(
            full_ids,
            attention_mask,
            token_layout=self.config.token_layout,
            position_scale=tuple(self.config.position_scale),
            mm_rope=self.config.mm_rope,
        )
        if past_length and bool((layout.frame_ids[:, past_length - 1] >= 0).any()):
            open_frame = layout.frame_ids[:, past_length - 1] == layout.frame_ids[:, past_length]
            if bool(open_frame.any()):
                raise ValueError(
                    "a cached chunk must not start inside a frame that began in the cached prefix: tokens of a frame "
                    "attend to each other bidirectionally, so a frame must be fed in one chunk"
                )
        return layout.position_ids[..., -query_length:], layout.frame_ids

    @staticmethod
    def _text_layout(
        attention_mask: torch.Tensor | None, batch_size: int, past_length: int, query_length: int, device: torch.device
    ) -> tuple[torch.LongTensor, torch.LongTensor]:
        """The layout of embeddings without ids (as Qwen2-VL): text-like 1D positions `[B, L]` continuing the cache
        (counting real tokens only when a padding mask is given) and no frame segments (`frame_ids` -1: causal)."""
        if attention_mask is None:
            positions = torch.arange(past_length, past_length + query_length, device=device).expand(batch_size, -1)
            return positions, torch.full((batch_size, past_length + query_length), -1, dtype=torch.long, device=device)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -query_length:]
        return positions, torch.full_like(attention_mask, -1, dtype=torch.long)


class LumosForVideoGeneration(LumosPreTrainedModel):
    """Lumos-1 with its untied LM head over text and video ids, and the AR-DF loss over masked video tokens.

    Example:

    ```python
    >>> import torch
    >>> from lumos_hf import LumosConfig, LumosForVideoGeneration

    >>> config = LumosConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
    ...                      video_vocab_size=64)
    >>> model = LumosForVideoGeneration(config)
    >>> # BOS, text, sep, video start, size(1 s), size(1 fps), one 32x32 frame (4 rows of 4 video tokens + new line)
    >>> frame = [8197, 8805, 8805] + ([65536 + 7] * 4 + [8803]) * 4 + [8196]
    >>> input_ids = torch.tensor([[0, 100, 200, 8710, 9004, 8805, 8805] + frame])
    >>> out = model(input_ids, video_logits_only=True)
    >>> out.logits.shape
    torch.Size([1, 31, 64])
    ```
    """

    _tp_plan = {"lm_head": "colwise_gather_output"}
    _pp_plan = {"lm_head": (["hidden_states"], ["logits"])}

    def __init__(self, config: LumosConfig) -> None:
        super().__init__(config)
        self.model = LumosModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        frame_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        video_logits_only: bool = False,
        return_logits: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            labels: `[B, L]` unshifted targets; positions labelled with a video id are scored on the video logits,
                everything else (-100, text, new-line tokens) is ignored. `num_items_in_batch` (from `Trainer`)
                sets the divisor.
            logits_to_keep: keep the last `n` positions (int, 0 = all) or the given positions (tensor).
            video_logits_only: project onto the `video_vocab_size` video rows of the head only.
            return_logits: compute logits also when `labels` are given (default: only without labels).
        """
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs: BaseModelOutputWithPast = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            frame_ids=frame_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state

        loss = None
        if labels is not None:
            if type(self.lm_head) is not nn.Linear:
                raise ValueError(
                    f"the chunked visual loss projects with lm_head.weight, but lm_head is a {type(self.lm_head).__name__}"
                    " (e.g. a LoRA adapter): keep lm_head out of the adapter's target_modules"
                )
            loss = visual_cross_entropy(
                hidden_states,
                self.lm_head.weight,
                labels,
                self.config.video_token_offset,
                self.config.video_vocab_size,
                chunk_size=self.config.loss_chunk_size,
                num_items_in_batch=num_items_in_batch,
                z_loss_weight=self.config.z_loss_weight,
            )

        logits = None
        if return_logits or (return_logits is None and labels is None):
            kept = slice_logits_to_keep(hidden_states, logits_to_keep)
            if video_logits_only:
                offset, size = self.config.video_token_offset, self.config.video_vocab_size
                if type(self.lm_head) is nn.Linear:
                    logits = F.linear(kept, self.lm_head.weight[offset : offset + size])
                else:  # a wrapped head (PEFT, quantisation): run it, then keep the video columns
                    logits = self.lm_head(kept)[..., offset : offset + size]
            else:
                logits = self.lm_head(kept)

        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


__all__ = ["LumosCache", "LumosForVideoGeneration", "LumosModel", "LumosPreTrainedModel"]
