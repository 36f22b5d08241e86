"""Memory-efficient exact attention for the block-causal frame mask: `attn_implementation="block_causal_chunked"`.

Lumos's mask (LUMOS_SPEC 4) is a prefix mask: query i sees the keys `[start, end_i)`, where `start` skips left padding
and `end_i = i + 1` for text-like tokens or the end of i's frame segment + 1 inside a frame. So the `[L, L]` mask
never needs to exist: keys ranges are `[B, L]` integers, and attention runs `chunk_size` queries at a time against
just the keys they may see. In training each chunk is recomputed in the backward pass, so memory stays
O(chunk_size · L) per head on any device (flex attention has no CPU backward; sdpa needs the dense mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.flex_attention import BlockMask
from torch.utils.checkpoint import checkpoint
from transformers.modeling_utils import AttentionInterface

ATTN_IMPLEMENTATION = "block_causal_chunked"
DEFAULT_CHUNK_SIZE = 1024


@dataclass
class BlockCausalRanges:
    """Key ranges of the block-causal mask for the current queries.

    Attributes:
        kv_start: `[B, Q]` first visible key index of each query (in the cache + chunk coordinates).
        kv_end: `[B, Q]` one past the last visible key.
        chunks: `(q0, q1, k0, k1)` per query chunk: queries `q0:q1` only need keys `k0:k1` (host integers, computed
            once per forward and shared by all layers).
    """

    kv_start: torch.LongTensor
    kv_end: torch.LongTensor
    chunks: list[tuple[int, int, int, int]]


def block_causal_ranges(
    frame_ids: torch.LongTensor,
    attention_mask: torch.Tensor | None,
    query_length: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> BlockCausalRanges:
    """Key ranges of the last `query_length` tokens.

    Args:
        frame_ids: `[B, P + Q]` frame segment ids (-1 outside frames) of the cached prefix and the new tokens.
        attention_mask: `[B, P + Q]` padding mask (1 = real), left or right padded; None when nothing is padded.
    """
    batch_size, length = frame_ids.shape
    device = frame_ids.device
    arange = torch.arange(length, device=device).expand(batch_size, length)
    # End of each token's frame segment: the next position whose successor has another frame id.
    boundary = torch.ones_like(frame_ids, dtype=torch.bool)
    boundary[:, :-1] = frame_ids[:, 1:] != frame_ids[:, :-1]
    next_boundary = torch.where(boundary, arange, length).flip(-1).cummin(-1).values.flip(-1)
    kv_end = torch.where(frame_ids >= 0, next_boundary + 1, arange + 1)
    if attention_mask is None:
        kv_start = torch.zeros_like(kv_end)
    else:
        real = attention_mask.bool()
        runs = (real[:, 1:] & ~real[:, :-1]).sum(-1) + real[:, 0]
        if bool((runs > 1).any()):
            raise ValueError(f"{ATTN_IMPLEMENTATION} attention supports left or right padding only, not holes")
        first_real = real.long().argmax(-1, keepdim=True)
        kv_start = first_real.expand(batch_size, length)
        # Padding queries attend to themselves only (their outputs are unused but must stay finite).
        kv_start = torch.where(real, kv_start, arange)
        kv_end = torch.where(real, kv_end, arange + 1)
    kv_start, kv_end = kv_start[:, -query_length:], kv_end[:, -query_length:]
    # Key bounds of each chunk of queries, computed on device and moved to the host once.
    pad = -query_length % chunk_size
    chunk_start = F.pad(kv_start.amin(0), (0, pad), value=length).view(-1, chunk_size).amin(-1)
    chunk_end = F.pad(kv_end.amax(0), (0, pad), value=0).view(-1, chunk_size).amax(-1)
    chunks = [
        (q0, min(q0 + chunk_size, query_length), k0, k1)
        for q0, k0, k1 in zip(range(0, query_length, chunk_size), chunk_start.tolist(), chunk_end.tolist())
    ]
    return BlockCausalRanges(kv_start=kv_start, kv_end=kv_end, chunks=chunks)


def block_causal_block_mask(ranges: BlockCausalRanges, kv_length: int, block_size: int = 128) -> BlockMask:
    """Flex-attention `BlockMask` of the block-causal mask, built from the key ranges in O(blocks²) integer work.

    A (query block, key block) pair is full when every query of the block sees every key of the block, partial when
    some do, and skipped otherwise; only partial blocks evaluate the `mask_mod`. `create_block_mask` would instead
    evaluate the mask on all L² pairs (about 20 s for 90k tokens on CPU); this takes milliseconds.
    """
    kv_start, kv_end = ranges.kv_start, ranges.kv_end  # [B, Q]
    batch_size, query_length = kv_start.shape
    device = kv_start.device
    num_q_blocks = -(-query_length // block_size)
    num_kv_blocks = -(-kv_length // block_size)
    pad = num_q_blocks * block_size - query_length
    # Padded query rows see nothing; flex never reads them back.
    start = F.pad(kv_start, (0, pad), value=kv_length).view(batch_size, num_q_blocks, block_size)
    end = F.pad(kv_end, (0, pad), value=0).view(batch_size, num_q_blocks, block_size)
    real_rows = F.pad(torch.ones_like(kv_start, dtype=torch.bool), (0, pad)).view(batch_size, num_q_blocks, block_size)
    big = torch.iinfo(torch.long).max
    min_start = start.amin(-1)[..., None]  # [B, nQ, 1]
    max_start = torch.where(real_rows, start, -1).amax(-1)[..., None]
    min_end = torch.where(real_rows, end, big).amin(-1)[..., None]
    max_end = end.amax(-1)[..., None]
    k0 = torch.arange(num_kv_blocks, device=device) * block_size  # [nK]
    k1 = (k0 + block_size).clamp_max(kv_length)
    full = (max_start <= k0) & (min_end >= k1)  # [B, nQ, nK]
    partial = (max_end > k0) & (min_start < k1) & ~full

    def ordered(blocks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        counts = blocks.sum(-1, dtype=torch.int32)
        indices = torch.argsort(~blocks, dim=-1, stable=True).to(torch.int32)
        return counts[:, None], indices[:, None]

    padded_start = F.pad(kv_start, (0, pad), value=kv_length)
    padded_end = F.pad(kv_end, (0, pad), value=0)

    def mask_mod(b, h, q_idx, kv_idx):
        return (kv_idx >= padded_start[b, q_idx]) & (kv_idx < padded_end[b, q_idx])

    kv_num_blocks, kv_indices = ordered(partial)
    full_kv_num_blocks, full_kv_indices = ordered(full)
    return BlockMask.from_kv_blocks(
        kv_num_blocks,
        kv_indices,
        full_kv_num_blocks,
        full_kv_indices,
        BLOCK_SIZE=block_size,
        mask_mod=mask_mod,
        seq_lengths=(query_length, kv_length),
    )


def _attend(query, key, value, kv_start, kv_end, k0, scaling, dropout, training):
    """One query chunk: query `[B, H, c, d]`, key/value `[B, H, k, d]` (keys k0...), ranges `[B, c]`."""
    positions = torch.arange(k0, k0 + key.shape[2], device=query.device)
    visible = (positions >= kv_start[..., None]) & (positions < kv_end[..., None])  # [B, c, k]
    # An additive float mask keeps sdpa on its fused kernels (a boolean mask falls back to the slower math path).
    mask = torch.zeros(visible.shape, dtype=query.dtype, device=query.device).masked_fill_(~visible, float("-inf"))
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask=mask[:, None], dropout_p=dropout if training else 0.0, scale=scaling
    )


def block_causal_chunked_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: BlockCausalRanges,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """query `[B, H, Q, d]`, key/value `[B, K, P + Q, d]` → output `[B, Q, H, d]` (no attention weights)."""
    if not isinstance(attention_mask, BlockCausalRanges):
        raise TypeError(f"{ATTN_IMPLEMENTATION} attention needs the BlockCausalRanges built by LumosModel")
    groups = query.shape[1] // key.shape[1]
    outputs = []
    for q0, q1, k0, k1 in attention_mask.chunks:
        k = key[:, :, k0:k1].repeat_interleave(groups, dim=1)
        v = value[:, :, k0:k1].repeat_interleave(groups, dim=1)
        args = (query[:, :, q0:q1], k, v, attention_mask.kv_start[:, q0:q1], attention_mask.kv_end[:, q0:q1], k0)
        if torch.is_grad_enabled() and (query.requires_grad or key.requires_grad):
            out = checkpoint(_attend, *args, scaling, dropout, module.training, use_reentrant=False)
        else:
            out = _attend(*args, scaling, dropout, module.training)
        outputs.append(out)
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTN_IMPLEMENTATION, block_causal_chunked_attention_forward)
