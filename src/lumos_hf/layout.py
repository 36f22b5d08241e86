"""Token layout of Lumos sequences: MM-RoPE positions, visual-content flags and frame segments (LUMOS_SPEC 3-4).

Everything is derived from the token ids alone, vectorised over the batch and the sequence (no Python loop over
tokens): the frame structure `[8197, size(H/32), size(W/32)] + rows + [8196]` gives every visual content token its
latent frame, row and column; text-like tokens keep their 1D index.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .tokens import FRAME_END_TOKEN_ID, FRAME_START_TOKEN_ID, NUM_SIZE_TOKENS, SIZE_TOKEN_OFFSET


@dataclass
class MMRoPELayout:
    """Layout of a batch of token sequences.

    Attributes:
        position_ids: `[3, B, L]` long: the t, h and w positions of every token. Text-like tokens carry their 1D
            index p (among non-padding tokens) in all three rows; visual content tokens carry the scaled 3D
            positions `t = 4f + p0`, `h = 8r + p0`, `w = 8c + p0`.
        visual_mask: `[B, L]` bool: True for visual content tokens (video and new-line tokens of a frame).
        frame_ids: `[B, L]` long: index of the frame segment (from its 8197 through its 8196) a token lies in, -1
            outside frames. Tokens of one frame attend to each other bidirectionally.
    """

    position_ids: torch.LongTensor
    visual_mask: torch.BoolTensor
    frame_ids: torch.LongTensor

    def __getitem__(self, index: slice) -> MMRoPELayout:
        """Slice along the sequence: `layout[-n:]` is the layout of the last n tokens."""
        return MMRoPELayout(self.position_ids[..., index], self.visual_mask[:, index], self.frame_ids[:, index])


def compute_mm_rope_layout(
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor | None = None,
    position_scale: tuple[int, int, int] = (4, 8, 8),
    frame_start_token_id: int = FRAME_START_TOKEN_ID,
    frame_end_token_id: int = FRAME_END_TOKEN_ID,
    size_token_offset: int = SIZE_TOKEN_OFFSET,
    num_size_tokens: int = NUM_SIZE_TOKENS,
    mm_rope: bool = True,
    validate: bool = True,
) -> MMRoPELayout:
    """Derive MM-RoPE positions, visual-content flags and frame segment ids from token ids.

    Args:
        input_ids: `[B, L]` or `[L]` token ids of whole sequences (for a KV-cached chunk, pass the cached prefix plus
            the chunk and slice the result).
        attention_mask: optional `[B, L]` padding mask (1 = real token). Padding may sit on either side; positions
            count real tokens only.
        position_scale: `(t, h, w)` multipliers of the latent frame, row and column (the Cosmos compression 4x8x8).
        mm_rope: False gives every token its plain 1D position (the 1D-RoPE ablation); frames are still parsed.
        validate: check the frame structure and raise `ValueError` on malformed frames.

    Returns:
        `MMRoPELayout` with `position_ids [3, B, L]`, `visual_mask [B, L]` and `frame_ids [B, L]`.
    """
    if input_ids.dim() == 1:
        input_ids = input_ids.unsqueeze(0)
        attention_mask = attention_mask.unsqueeze(0) if attention_mask is not None else None
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape [batch, length] or [length], got {tuple(input_ids.shape)}")
    batch_size, length = input_ids.shape
    device = input_ids.device
    real = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    arange = torch.arange(length, device=device).expand(batch_size, length)
    position = (real.long().cumsum(-1) - 1).clamp_min(0)  # [B, L] 1D index among real tokens

    # Frame segments: a token is inside segment k when k+1 starts and k ends have been seen (ends strictly before).
    is_start = (input_ids == frame_start_token_id) & real
    is_end = (input_ids == frame_end_token_id) & real
    starts_seen = is_start.long().cumsum(-1)
    ends_before = is_end.long().cumsum(-1) - is_end.long()
    open_frames = starts_seen - ends_before
    in_segment = open_frames > 0
    frame_ids = torch.where(in_segment, starts_seen - 1, -1)

    # Offset of each token from its segment's 8197, and the segment's size tokens n_h = H/32, n_w = W/32.
    start_index = torch.where(is_start, arange, -1).cummax(-1).values
    safe_start = start_index.clamp_min(0)
    offset = arange - start_index
    n_h = input_ids.gather(1, (safe_start + 1).clamp_max(length - 1)) - size_token_offset
    n_w = input_ids.gather(1, (safe_start + 2).clamp_max(length - 1)) - size_token_offset
    visual_mask = in_segment & (offset >= 3) & ~is_end
    row_length = 4 * n_w + 1  # W/8 video tokens and one new-line token
    content_index = (offset - 3).clamp_min(0)
    row = torch.div(content_index, row_length.clamp_min(1), rounding_mode="floor")
    col = content_index - row * row_length

    if validate:
        _validate_frames(
            input_ids, is_start, is_end, open_frames, starts_seen, offset, n_h, n_w, row, visual_mask, num_size_tokens
        )

    if not mm_rope:
        return MMRoPELayout(position_ids=position.expand(3, -1, -1), visual_mask=visual_mask, frame_ids=frame_ids)
    # p0: the 1D index of the first visual content token of each sequence; all frames share it.
    has_visual = visual_mask.any(-1, keepdim=True)
    first_visual = visual_mask.long().argmax(-1, keepdim=True)
    p0 = torch.where(has_visual, position.gather(1, first_visual), 0)
    scale_t, scale_h, scale_w = position_scale
    t = scale_t * frame_ids + p0
    h = scale_h * row + p0
    w = scale_w * col + p0
    position_ids = torch.stack(
        [
            torch.where(visual_mask, t, position),
            torch.where(visual_mask, h, position),
            torch.where(visual_mask, w, position),
        ]
    )
    return MMRoPELayout(position_ids=position_ids, visual_mask=visual_mask, frame_ids=frame_ids)


def _validate_frames(
    input_ids: torch.LongTensor,
    is_start: torch.BoolTensor,
    is_end: torch.BoolTensor,
    open_frames: torch.LongTensor,
    starts_seen: torch.LongTensor,
    offset: torch.LongTensor,
    n_h: torch.LongTensor,
    n_w: torch.LongTensor,
    row: torch.LongTensor,
    visual_mask: torch.BoolTensor,
    num_size_tokens: int,
) -> None:
    """Raise `ValueError` on malformed frames; one host synchronisation when the sequence is well formed."""
    length = input_ids.shape[1]
    nested = is_start & (open_frames > 1)
    orphan_end = is_end & (starts_seen == 0) | is_end & (open_frames <= 0)
    start_positions = is_start.nonzero()
    # A frame start must be followed by two size tokens (rows, columns), both >= 1.
    has_room = start_positions[:, 1] + 2 < length
    bad_size = is_start & ((n_h < 1) | (n_h >= num_size_tokens) | (n_w < 1) | (n_w >= num_size_tokens))
    # A closed frame holds exactly H/8 = 4 n_h rows of W/8 + 1 = 4 n_w + 1 content tokens; an open one no more.
    expected = 4 * n_h * (4 * n_w + 1)
    wrong_count = is_end & (offset - 3 != expected)
    overflow = visual_mask & (row >= 4 * n_h)
    flags = torch.stack(
        [nested.any(), orphan_end.any(), ~has_room.all(), bad_size.any(), wrong_count.any(), overflow.any()]
    )
    if not bool(flags.any()):
        return
    nested_, orphan_, room_, size_ = flags.tolist()[:4]  # otherwise the content does not fit the sizes
    if nested_:
        raise ValueError("malformed sequence: a frame start token (8197) appears inside an unfinished frame")
    if orphan_:
        raise ValueError("malformed sequence: a frame end token (8196) appears without a matching frame start (8197)")
    if room_ or size_:
        raise ValueError(
            "malformed sequence: every frame start (8197) must be followed by two size tokens size(H/32) and "
            f"size(W/32), ids {SIZE_TOKEN_OFFSET + 1}..{SIZE_TOKEN_OFFSET + num_size_tokens - 1}"
        )
    raise ValueError(
        "malformed sequence: a frame's content does not match its size tokens; a frame with size tokens "
        "size(H/32), size(W/32) holds H/8 rows of W/8 video tokens and one new-line token before its end (8196)"
    )
