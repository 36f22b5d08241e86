"""The block-causal mask without a dense [L, L] tensor: key ranges, the analytic flex BlockMask, chunked attention."""

from __future__ import annotations

import pytest
import torch
from transformers.masking_utils import create_causal_mask
from utils import MIXED_SEQUENCES, padded_batch, tiny_config, video_sequence

from lumos_hf import LumosForVideoGeneration, compute_mm_rope_layout
from lumos_hf.attention_lumos import block_causal_block_mask, block_causal_ranges


def reference_mask(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The dense boolean mask of transformers' masking_utils (sdpa), `[B, L, L]`."""
    config = tiny_config()
    config._attn_implementation = "sdpa"
    layout = compute_mm_rope_layout(ids, mask)
    embeds = torch.zeros(*ids.shape, 8)
    dense = create_causal_mask(
        config, embeds, mask, None, block_sequence_ids=layout.frame_ids, allow_is_causal_skip=False
    )
    return dense[:, 0]


def dense_from_block_mask(block_mask, batch_size: int, q_length: int, kv_length: int) -> torch.Tensor:
    """Expand a BlockMask through its full/partial block lists and its mask_mod: `[B, Q, KV]`."""
    size = block_mask.BLOCK_SIZE[0]
    out = torch.zeros(batch_size, q_length, kv_length, dtype=torch.bool)
    q = torch.arange(q_length)[:, None]
    kv = torch.arange(kv_length)[None, :]
    for b in range(batch_size):
        evaluated = block_mask.mask_mod(torch.tensor(b), 0, q, kv)
        for qb in range(block_mask.kv_num_blocks.shape[-1]):
            rows = slice(qb * size, (qb + 1) * size)
            for kind in ("partial", "full"):
                counts = block_mask.kv_num_blocks if kind == "partial" else block_mask.full_kv_num_blocks
                indices = block_mask.kv_indices if kind == "partial" else block_mask.full_kv_indices
                for kb in indices[b, 0, qb, : counts[b, 0, qb]].tolist():
                    cols = slice(kb * size, (kb + 1) * size)
                    out[b, rows, cols] = True if kind == "full" else evaluated[rows, cols]
    return out


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("block_size", [8, 16])
def test_block_mask_equals_dense_reference(side, block_size):
    ids, mask = padded_batch(MIXED_SEQUENCES, side)
    layout = compute_mm_rope_layout(ids, mask)
    ranges = block_causal_ranges(layout.frame_ids, mask, ids.shape[1])
    block_mask = block_causal_block_mask(ranges, ids.shape[1], block_size=block_size)
    dense = dense_from_block_mask(block_mask, *ids.shape, ids.shape[1])
    reference = reference_mask(ids, mask)
    real = mask.bool()
    for b in range(ids.shape[0]):  # rows of padding queries are unused: compare real queries
        assert torch.equal(dense[b][real[b]], reference[b][real[b]])
    assert block_mask.full_kv_num_blocks.sum() > 0  # the full blocks skip the mask_mod


def test_ranges_of_a_cached_chunk():
    ids = torch.tensor([video_sequence(5, 3)])
    layout = compute_mm_rope_layout(ids)
    full = block_causal_ranges(layout.frame_ids, None, ids.shape[1])
    chunk = block_causal_ranges(layout.frame_ids, None, 24)
    assert torch.equal(chunk.kv_end, full.kv_end[:, -24:])
    last_frame_end = (ids[0] == 8196).nonzero().max().item()
    assert (chunk.kv_end[0, :-2] == last_frame_end + 1).all()  # the frame sees itself; 9005 and sep are causal


def test_ranges_reject_holes_in_the_padding_mask():
    ids = torch.tensor([video_sequence(3, 1)])
    mask = torch.ones_like(ids)
    mask[0, 5] = 0
    with pytest.raises(ValueError, match="left or right padding"):
        block_causal_ranges(compute_mm_rope_layout(ids).frame_ids, mask, ids.shape[1])


@pytest.mark.parametrize("side", ["left", "right"])
def test_chunked_attention_equals_sdpa(side):
    torch.manual_seed(0)
    model = LumosForVideoGeneration(tiny_config(query_chunk_size=16)).eval()
    ids, mask = padded_batch(MIXED_SEQUENCES, side)
    outputs = {}
    for implementation in ("sdpa", "block_causal_chunked"):
        model.set_attn_implementation(implementation)
        with torch.no_grad():
            outputs[implementation] = model(ids, attention_mask=mask).logits
    difference = (outputs["sdpa"] - outputs["block_causal_chunked"]).abs() * mask[..., None]
    assert difference.max() < 1e-5


def test_chunked_attention_gradients_equal_eager():
    torch.manual_seed(0)
    model = LumosForVideoGeneration(tiny_config(query_chunk_size=16)).train()
    ids = torch.tensor([video_sequence(5, 3)])
    labels = torch.where(ids >= 65536, ids, -100)
    grads = {}
    for implementation in ("eager", "block_causal_chunked"):
        model.set_attn_implementation(implementation)
        model.zero_grad()
        model(ids, labels=labels).loss.backward()
        grads[implementation] = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads.values()))
