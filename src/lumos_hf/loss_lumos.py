"""AR-DF training loss: cross-entropy over masked video tokens on the video logits only (LUMOS_SPEC 5).

Labels are not shifted (the model predicts the masked token at its own position). Only positions whose label is a
video id (`>= video_token_offset`) are scored, against the `video_vocab_size` video logits. The fp32 logits are
built `chunk_size` rows at a time and recomputed in the backward pass, so the `[tokens, vocab]` fp32 logits are
never materialised: peak memory is one chunk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def _chunk_loss(
    hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, z_loss_weight: float
) -> torch.Tensor:
    """Summed CE (+ z-loss) of one chunk: hidden `[n, D]`, weight `[V, D]`, target `[n]` in `[0, V)`."""
    logits = F.linear(hidden, weight).float()  # [n, V]
    lse = torch.logsumexp(logits, dim=-1)
    loss = (lse - logits.gather(-1, target[:, None]).squeeze(-1)).sum()
    if z_loss_weight:
        loss = loss + z_loss_weight * lse.pow(2).sum()
    return loss


def visual_cross_entropy(
    hidden_states: torch.Tensor,
    lm_head_weight: torch.Tensor,
    labels: torch.LongTensor,
    video_token_offset: int,
    video_vocab_size: int,
    chunk_size: int = 2000,
    num_items_in_batch: int | torch.Tensor | None = None,
    z_loss_weight: float = 0.0,
) -> torch.Tensor:
    """Mean cross-entropy over the video-labelled positions.

    Args:
        hidden_states: `[B, L, D]` final hidden states (after the last norm).
        lm_head_weight: `[vocab_size, D]` output projection; rows `video_token_offset ... + video_vocab_size` are used.
        labels: `[B, L]`; positions with a label `>= video_token_offset` are scored, all others (-100, text,
            new-line tokens) are ignored.
        chunk_size: rows of fp32 logits computed at a time.
        num_items_in_batch: divisor for the summed loss (the number of scored tokens in the whole accumulated batch,
            as `Trainer` passes it for gradient accumulation); defaults to this batch's count.
        z_loss_weight: weight of the z-loss `logsumexp(logits)^2` (0 disables it).

    Returns:
        Scalar loss (0 with a gradient path when nothing is scored).
    """
    if labels.shape != hidden_states.shape[:-1]:
        raise ValueError(f"labels must have shape {tuple(hidden_states.shape[:-1])}, got {tuple(labels.shape)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    labels = labels.to(hidden_states.device)
    scored = labels >= video_token_offset
    hidden = hidden_states[scored]  # [N, D]
    target = labels[scored] - video_token_offset  # [N]
    if (target >= video_vocab_size).any():
        raise ValueError(
            f"labels hold ids >= video_token_offset + video_vocab_size ({video_token_offset + video_vocab_size})"
        )
    weight = lm_head_weight[video_token_offset : video_token_offset + video_vocab_size]
    total = hidden_states.new_zeros((), dtype=torch.float32) + 0.0 * hidden_states.sum()
    for start in range(0, hidden.shape[0], chunk_size):
        chunk = slice(start, start + chunk_size)
        if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
            total = total + checkpoint(
                _chunk_loss, hidden[chunk], weight, target[chunk], z_loss_weight, use_reentrant=False
            )
        else:
            total = total + _chunk_loss(hidden[chunk], weight, target[chunk], z_loss_weight)
    if num_items_in_batch is None:
        num_items_in_batch = max(int(hidden.shape[0]), 1)
    if isinstance(num_items_in_batch, torch.Tensor):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch
