"""The Lumos-1 token sequence format (LUMOS_SPEC 2-3): every part of the package builds and reads sequences here.

    sequence = [bos] + text + [sep] + video + [sep]                      (a text-dropped sample starts at the video)
    video    = [video_start, size(seconds), size(fps)] + frames + [video_end]
    frame    = [frame_start, size(H/32), size(W/32)] + rows + [frame_end]
    rows     = for each of the h = H/8 latent rows: its w = W/8 video tokens (raster order), then new_line

A frame of an `h x w` latent grid has `h * (w + 1)` content tokens (video and new-line tokens) and
`FRAME_HEADER_LENGTH + h * (w + 1) + 1` tokens. Ids come from a `TokenLayout` (the official one by default).
Resolutions are multiples of 32 px (one size unit = 4 latents); `num_frames = 1 + 4k` pixel frames give
`1 + k` latent frames (Cosmos DV4x8x8). The MM-RoPE positions, visual-content flags and frame segments of any
batch of sequences come from `compute_mm_rope_layout`, vectorised (no Python loop over tokens).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .tokens import OFFICIAL_TOKEN_LAYOUT, TokenLayout

PIXELS_PER_SIZE_UNIT = 32  # size tokens count frame heights and widths in units of 32 px
SPATIAL_COMPRESSION = 8  # one latent per 8 x 8 pixels
TEMPORAL_COMPRESSION = 4  # and per 4 frames after the first
LATENTS_PER_SIZE_UNIT = PIXELS_PER_SIZE_UNIT // SPATIAL_COMPRESSION
POSITION_SCALE = (TEMPORAL_COMPRESSION, SPATIAL_COMPRESSION, SPATIAL_COMPRESSION)  # MM-RoPE (t, h, w) scale
FRAME_HEADER_LENGTH = 3  # [frame_start, size(H/32), size(W/32)]
VIDEO_HEADER_LENGTH = 3  # [video_start, size(seconds), size(fps)]
IGNORE_INDEX = -100  # labels that are not scored
DEFAULT_BUCKET_TARGET_SIZE = 352  # the official 256p bucket family: 448 x 256 for 16:9 (generation default)
HIGH_RES_BUCKET_TARGET_SIZE = 512  # the official 384p bucket family: 672 x 384 for 16:9 (last training stage)
DEFAULT_HEIGHT, DEFAULT_WIDTH = 256, 448  # the official 256p bucket


# ---------------------------------------------------------------------------------------------------------------------
# Geometry


def check_resolution(height: int, width: int, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> None:
    """Raise unless `height` and `width` are ints, positive multiples of 32 that a size token can encode."""
    for name, value in (("height", height), ("width", width)):
        _check_int(name, value)
        largest = PIXELS_PER_SIZE_UNIT * (layout.num_size_tokens - 1)
        if value <= 0 or value % PIXELS_PER_SIZE_UNIT or value > largest:
            raise ValueError(
                f"{name} must be a positive multiple of {PIXELS_PER_SIZE_UNIT} up to {largest}, got {value}"
            )


def latent_grid_size(height: int, width: int, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> tuple[int, int]:
    """Latent grid `(h, w) = (height / 8, width / 8)` of a frame."""
    check_resolution(height, width, layout)
    return height // SPATIAL_COMPRESSION, width // SPATIAL_COMPRESSION


def check_num_frames(num_frames: int) -> None:
    _check_int("num_frames", num_frames)
    if num_frames < 1 or (num_frames - 1) % TEMPORAL_COMPRESSION:
        raise ValueError(f"num_frames must be 1 + {TEMPORAL_COMPRESSION}k (1, 5, 9, ..., 25, ...), got {num_frames}")


def num_latent_frames(num_frames: int) -> int:
    """Latent frames `T = 1 + (num_frames - 1) / 4` of `num_frames = 1 + 4k` pixel frames."""
    check_num_frames(num_frames)
    return 1 + (num_frames - 1) // TEMPORAL_COMPRESSION


def num_pixel_frames(latent_frames: int) -> int:
    """Pixel frames `1 + 4 (T - 1)` of `T` latent frames."""
    return 1 + TEMPORAL_COMPRESSION * (latent_frames - 1)


def num_content_tokens(rows: int, cols: int) -> int:
    """Content tokens (video and new-line tokens) of a frame of `rows x cols` latents."""
    return rows * (cols + 1)


def frame_length(rows: int, cols: int) -> int:
    """Tokens of a frame of `rows x cols` latents, framing included."""
    return FRAME_HEADER_LENGTH + num_content_tokens(rows, cols) + 1


def frame_content(frames: torch.Tensor) -> torch.Tensor:
    """The content tokens `[..., h * (w + 1)]` of frames `[..., L_f]` (a view: writing to it edits the frames)."""
    return frames[..., FRAME_HEADER_LENGTH:-1]


def video_token_positions(rows: int, cols: int) -> torch.LongTensor:
    """Indices `[h * w]` (raster order) of the video tokens within a frame's tokens."""
    content = torch.arange(num_content_tokens(rows, cols)).view(rows, cols + 1)[:, :cols]
    return FRAME_HEADER_LENGTH + content.flatten()


def duration_and_fps(num_frames: int, fps: int, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> tuple[int, int]:
    """Seconds and fps of the video header: `round((num_frames - 1) / fps)` (at least 1) and fps; (1, 1) for images."""
    check_num_frames(num_frames)
    _check_int("fps", fps)
    if not 1 <= fps < layout.num_size_tokens:
        raise ValueError(f"fps must be in [1, {layout.num_size_tokens - 1}], got {fps}")
    if num_frames == 1:
        return 1, 1
    seconds = max(1, math.floor((num_frames - 1) / fps + 0.5))
    if seconds >= layout.num_size_tokens:
        raise ValueError(f"(num_frames - 1) / fps must be at most {layout.num_size_tokens - 1} seconds, got {seconds}")
    return seconds, fps


def crop_size_list(target_size: int = HIGH_RES_BUCKET_TARGET_SIZE, max_ratio: float = 4.0) -> list[tuple[int, int]]:
    """The official bucket list: the largest `(width, height)` grids of 32 px patches with at most
    `(target_size / 32)²` patches, for every aspect ratio up to `max_ratio` (e.g. 672x384 for `target_size=512`,
    448x256 for 16:9 sources at `target_size=352`)."""
    if isinstance(target_size, bool) or not isinstance(target_size, int) or target_size < PIXELS_PER_SIZE_UNIT:
        raise ValueError(f"target_size must be an int >= {PIXELS_PER_SIZE_UNIT}, got {target_size!r}")
    if not max_ratio >= 1.0:
        raise ValueError(f"max_ratio must be >= 1, got {max_ratio}")
    num_patches = (target_size // PIXELS_PER_SIZE_UNIT) ** 2
    sizes, wp, hp = [], num_patches, 1
    while wp > 0:
        if max(wp, hp) / min(wp, hp) <= max_ratio:
            sizes.append((wp * PIXELS_PER_SIZE_UNIT, hp * PIXELS_PER_SIZE_UNIT))
        if (hp + 1) * wp <= num_patches:
            hp += 1
        else:
            wp -= 1
    return sizes


def closest_crop_size(width: int, height: int, crop_sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The bucket closest in aspect ratio to a `width x height` frame (ties: the larger bucket), as the official code."""
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if not crop_sizes:
        raise ValueError("crop_sizes is empty")
    scored = [(min(cw / width, ch / height) / max(cw / width, ch / height), (cw, ch)) for cw, ch in crop_sizes]
    return max(scored)[1]


# ---------------------------------------------------------------------------------------------------------------------
# Building sequences


def video_header(num_frames: int, fps: int, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> list[int]:
    """`[video_start, size(seconds), size(fps)]`; images (`num_frames == 1`) get `[video_start, size(1), size(1)]`."""
    seconds, fps = duration_and_fps(num_frames, fps, layout)
    return [layout.video_start_token_id, layout.size_token(seconds), layout.size_token(fps)]


def frame_tokens(content: torch.LongTensor, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> torch.LongTensor:
    """Tokens `[..., L_f]` of frames around their content ids `[..., h, w]` (video ids or MASK), new lines added."""
    rows, cols = content.shape[-2:]
    if rows % LATENTS_PER_SIZE_UNIT or cols % LATENTS_PER_SIZE_UNIT or not rows or not cols:
        raise ValueError(f"a latent grid has sides that are positive multiples of 4, got {rows}x{cols}")
    lead = content.shape[:-2]
    header = [layout.frame_start_token_id]
    header += [layout.size_token(rows // LATENTS_PER_SIZE_UNIT), layout.size_token(cols // LATENTS_PER_SIZE_UNIT)]
    new_lines = content.new_full((*lead, rows, 1), layout.new_line_token_id)
    return torch.cat(
        [
            content.new_tensor(header).expand(*lead, -1),
            torch.cat([content, new_lines], dim=-1).flatten(-2),
            content.new_full((*lead, 1), layout.frame_end_token_id),
        ],
        dim=-1,
    )


def video_frame_tokens(latents: torch.LongTensor, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> torch.LongTensor:
    """Concatenated frame tokens `[T * L_f]` of latent frames `[T, h, w]` of FSQ indices."""
    return frame_tokens(latents.long() + layout.video_token_offset, layout).flatten()


def frame_scaffold(rows: int, cols: int, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> torch.LongTensor:
    """A fully masked frame `[L_f]` for AR-DF sampling (LUMOS_SPEC 7, step 1): MASK at every video token."""
    return frame_tokens(torch.full((rows, cols), layout.mask_token_id, dtype=torch.long), layout)


def mask_content(frames: torch.LongTensor, masked: torch.BoolTensor, layout: TokenLayout) -> torch.LongTensor:
    """Frames `[..., L_f]` with the content tokens where `masked [..., h * (w + 1)]` replaced by MASK (a copy)."""
    frames = frames.clone()
    frame_content(frames).masked_fill_(masked, layout.mask_token_id)
    return frames


def fill_video_placeholders(
    input_ids: torch.LongTensor, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT
) -> torch.LongTensor:
    """Replace the frame-count and fps placeholders of official pre-tokenized text by number tokens.

    The video header `[video_start, size(d), size(fps)]` gives the duration d (seconds) and fps; the frame count is
    `d * fps` (84 for 7 s at 12 fps, 1 for an image). Only the text before the first video start is searched (inside
    frames, the placeholder ids are video tokens). A sequence without placeholders is returned unchanged.

    Args:
        input_ids: `[L]` token ids.

    Returns:
        `[L']` token ids with each placeholder replaced by the digit tokens of its number.
    """
    starts = (input_ids == layout.video_start_token_id).nonzero()
    text = input_ids[: int(starts[0])] if starts.numel() else input_ids
    placeholders = (text == layout.frames_placeholder_token_id) | (text == layout.fps_placeholder_token_id)
    if not placeholders.any():
        return input_ids
    start = first_video_start(input_ids, layout)
    header = input_ids[start + 1 : start + VIDEO_HEADER_LENGTH] - layout.size_token_offset
    if header.shape[0] < 2 or ((header < 0) | (header >= layout.num_size_tokens)).any():
        raise ValueError(
            f"the video header must be [{layout.video_start_token_id}, size(seconds), size(fps)] with size tokens "
            f"{layout.size_token_offset}..{layout.size_token_offset + layout.num_size_tokens - 1}"
        )
    duration, fps = header.tolist()
    numbers = {
        layout.frames_placeholder_token_id: layout.number_token_ids(duration * fps),
        layout.fps_placeholder_token_id: layout.number_token_ids(fps),
    }
    pieces, begin = [], 0
    for index in placeholders.nonzero().squeeze(-1).tolist():  # a few placeholders, not a loop over tokens
        pieces += [input_ids[begin:index], input_ids.new_tensor(numbers[int(input_ids[index])])]
        begin = index + 1
    return torch.cat([*pieces, input_ids[begin:]])


def pad_sequences(
    sequences: Sequence[torch.Tensor], pad_value: int, padding_side: str = "left", length: int | None = None
) -> tuple[torch.LongTensor, torch.LongTensor]:
    """Stack sequences `[L_i]` into `[B, L]` padded with `pad_value` on one side, and their attention mask `[B, L]`
    (1 = real token). `length` pads further (default: the longest sequence)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if not sequences:
        raise ValueError("sequences must hold at least one sequence")
    lengths = torch.tensor([len(sequence) for sequence in sequences])
    length = int(lengths.max()) if length is None else length
    if length < int(lengths.max()):
        raise ValueError(f"length ({length}) is shorter than the longest sequence ({int(lengths.max())})")
    positions = torch.arange(length)
    real = positions < lengths[:, None] if padding_side == "right" else positions >= (length - lengths)[:, None]
    padded = torch.full((len(sequences), length), pad_value, dtype=torch.long)
    padded[real] = torch.cat([torch.as_tensor(sequence, dtype=torch.long) for sequence in sequences])
    return padded, real.long()


def left_pad_batches(
    batches: Sequence[tuple[torch.LongTensor, torch.LongTensor]], pad_value: int
) -> tuple[torch.LongTensor, torch.LongTensor]:
    """Stack left-padded `(input_ids [B_i, L_i], attention_mask [B_i, L_i])` batches into `[sum B_i, max L_i]`."""
    length = max(ids.shape[1] for ids, _ in batches)
    pad = [length - ids.shape[1] for ids, _ in batches]
    ids = torch.cat([torch.nn.functional.pad(ids, (p, 0), value=pad_value) for (ids, _), p in zip(batches, pad)])
    mask = torch.cat([torch.nn.functional.pad(mask, (p, 0), value=0) for (_, mask), p in zip(batches, pad)])
    return ids, mask


# ---------------------------------------------------------------------------------------------------------------------
# Reading sequences


def first_video_start(input_ids: torch.LongTensor, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> int:
    """Index of the first video start token of one sequence `[L]`; it must be followed by a whole video header."""
    if input_ids.dim() != 1:
        raise ValueError(f"input_ids must be one sequence [L], got shape {tuple(input_ids.shape)}")
    starts = (input_ids == layout.video_start_token_id).nonzero()
    if starts.numel() == 0:
        raise ValueError(f"input_ids has no video start token ({layout.video_start_token_id})")
    start = int(starts[0, 0])
    if start + VIDEO_HEADER_LENGTH > input_ids.shape[0]:
        raise ValueError(
            f"input_ids ends inside its video header [{layout.video_start_token_id}, size(seconds), size(fps)]"
        )
    return start


def count_frames(input_ids: torch.LongTensor, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> int:
    """Frames of one sequence `[L]`: 1 for an image, more for a video."""
    return int((input_ids == layout.frame_start_token_id).sum())


def parse_video_tokens(input_ids: torch.LongTensor, layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT) -> torch.LongTensor:
    """Latent grids `[T, h, w]` (FSQ indices) of the frames of one sequence `[L]`.

    The frames between the last video start (or the sequence start) and the following video end (or the sequence
    end) are read; a frame's grid size comes from its size tokens. Raises `ValueError` on a malformed frame (wrong
    length, missing new line or frame end, a token that is not a video token, such as a leftover MASK) or on frames
    of different sizes.
    """
    starts = (input_ids == layout.video_start_token_id).nonzero()
    begin = int(starts[-1, 0]) + VIDEO_HEADER_LENGTH if starts.numel() else 0
    ends = (input_ids[begin:] == layout.video_end_token_id).nonzero()
    video = input_ids[begin : begin + int(ends[0, 0])] if ends.numel() else input_ids[begin:]
    frame_starts = (video == layout.frame_start_token_id).nonzero().flatten().tolist()
    if not frame_starts:
        raise ValueError(f"no frame (token {layout.frame_start_token_id}) found in the video")
    grids = []
    for number, start in enumerate(frame_starts):
        where = f"frame {number} (video offset {start})"
        if start + FRAME_HEADER_LENGTH > video.shape[0]:
            raise ValueError(f"{where}: the sequence ends inside the frame header")
        size_units = (video[start + 1 : start + FRAME_HEADER_LENGTH] - layout.size_token_offset).tolist()
        if not all(0 < units < layout.num_size_tokens for units in size_units):
            raise ValueError(
                f"{where}: expected two size tokens after the frame start, got "
                f"{video[start + 1 : start + FRAME_HEADER_LENGTH].tolist()}"
            )
        rows, cols = (units * LATENTS_PER_SIZE_UNIT for units in size_units)
        end = start + frame_length(rows, cols) - 1
        if end >= video.shape[0] or int(video[end]) != layout.frame_end_token_id:
            raise ValueError(
                f"{where}: expected {rows} rows of {cols} tokens and a new line, then {layout.frame_end_token_id}"
            )
        content = frame_content(video[start : end + 1]).view(rows, cols + 1)
        if (content[:, -1] != layout.new_line_token_id).any():
            raise ValueError(f"{where}: every row must end with the new-line token {layout.new_line_token_id}")
        grid = content[:, :-1] - layout.video_token_offset
        if ((grid < 0) | (grid >= layout.video_vocab_size)).any():
            raise ValueError(f"{where}: holds tokens that are not video tokens (e.g. MASK {layout.mask_token_id})")
        if grids and grid.shape != grids[0].shape:
            raise ValueError(
                f"{where}: grid {tuple(grid.shape)} differs from the first frame's {tuple(grids[0].shape)}"
            )
        grids.append(grid)
    return torch.stack(grids)


# ---------------------------------------------------------------------------------------------------------------------
# MM-RoPE layout


@dataclass
class MMRoPELayout:
    """Layout of a batch of token sequences.

    Attributes:
        position_ids: `[3, B, L]` long: the t, h and w positions of every token. Text-like tokens carry their 1D
            index p (among non-padding tokens) in all three rows; visual content tokens carry the scaled 3D
            positions `t = 4f + p0`, `h = 8r + p0`, `w = 8c + p0`.
        visual_mask: `[B, L]` bool: True for visual content tokens (video and new-line tokens of a frame).
        frame_ids: `[B, L]` long: index of the frame segment (from its frame start through its frame end) a token
            lies in, -1 outside frames. Tokens of one frame attend to each other bidirectionally.
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
    token_layout: TokenLayout = OFFICIAL_TOKEN_LAYOUT,
    position_scale: tuple[int, int, int] = POSITION_SCALE,
    mm_rope: bool = True,
    validate: bool = True,
) -> MMRoPELayout:
    """Derive MM-RoPE positions, visual-content flags and frame segment ids from token ids (LUMOS_SPEC 3).

    Args:
        input_ids: `[B, L]` or `[L]` token ids of whole sequences (for a KV-cached chunk, pass the cached prefix plus
            the chunk and slice the result).
        attention_mask: optional `[B, L]` padding mask (1 = real token). Padding may sit on either side; positions
            count real tokens only.
        token_layout: the ids of frame starts, frame ends and size tokens.
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
    is_start = (input_ids == token_layout.frame_start_token_id) & real
    is_end = (input_ids == token_layout.frame_end_token_id) & real
    starts_seen = is_start.long().cumsum(-1)
    ends_before = is_end.long().cumsum(-1) - is_end.long()
    open_frames = starts_seen - ends_before
    in_segment = open_frames > 0
    frame_ids = torch.where(in_segment, starts_seen - 1, -1)

    # Offset of each token from its segment's frame start, and the segment's size tokens n_h = H/32, n_w = W/32.
    start_index = torch.where(is_start, arange, -1).cummax(-1).values
    safe_start = start_index.clamp_min(0)
    offset = arange - start_index
    n_h = input_ids.gather(1, (safe_start + 1).clamp_max(length - 1)) - token_layout.size_token_offset
    n_w = input_ids.gather(1, (safe_start + 2).clamp_max(length - 1)) - token_layout.size_token_offset
    visual_mask = in_segment & (offset >= FRAME_HEADER_LENGTH) & ~is_end
    row_length = LATENTS_PER_SIZE_UNIT * n_w + 1  # W/8 video tokens and one new-line token
    content_index = (offset - FRAME_HEADER_LENGTH).clamp_min(0)
    row = torch.div(content_index, row_length.clamp_min(1), rounding_mode="floor")
    col = content_index - row * row_length

    if validate:
        _validate_frames(token_layout, is_start, is_end, open_frames, starts_seen, offset, n_h, n_w, row, visual_mask)

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
    layout: TokenLayout,
    is_start: torch.BoolTensor,
    is_end: torch.BoolTensor,
    open_frames: torch.LongTensor,
    starts_seen: torch.LongTensor,
    offset: torch.LongTensor,
    n_h: torch.LongTensor,
    n_w: torch.LongTensor,
    row: torch.LongTensor,
    visual_mask: torch.BoolTensor,
) -> None:
    """Raise `ValueError` on malformed frames; one host synchronisation when the sequence is well formed."""
    length = is_start.shape[1]
    nested = is_start & (open_frames > 1)
    orphan_end = is_end & (starts_seen == 0) | is_end & (open_frames <= 0)
    start_positions = is_start.nonzero()
    # A frame start must be followed by two size tokens (rows, columns), both >= 1.
    has_room = start_positions[:, 1] + FRAME_HEADER_LENGTH - 1 < length
    num_sizes = layout.num_size_tokens
    bad_size = is_start & ((n_h < 1) | (n_h >= num_sizes) | (n_w < 1) | (n_w >= num_sizes))
    # A closed frame holds exactly H/8 rows of W/8 + 1 content tokens; an open one no more.
    expected = num_content_tokens(LATENTS_PER_SIZE_UNIT * n_h, LATENTS_PER_SIZE_UNIT * n_w)
    wrong_count = is_end & (offset - FRAME_HEADER_LENGTH != expected)
    overflow = visual_mask & (row >= LATENTS_PER_SIZE_UNIT * n_h)
    flags = torch.stack(
        [nested.any(), orphan_end.any(), ~has_room.all(), bad_size.any(), wrong_count.any(), overflow.any()]
    )
    if not bool(flags.any()):
        return
    nested_, orphan_, room_, size_ = flags.tolist()[:4]  # otherwise the content does not fit the sizes
    start, end = layout.frame_start_token_id, layout.frame_end_token_id
    if nested_:
        raise ValueError(f"malformed sequence: a frame start token ({start}) appears inside an unfinished frame")
    if orphan_:
        raise ValueError(f"malformed sequence: a frame end token ({end}) appears without a matching frame start")
    if room_ or size_:
        raise ValueError(
            f"malformed sequence: every frame start ({start}) must be followed by two size tokens size(H/32) and "
            f"size(W/32), ids {layout.size_token_offset + 1}..{layout.size_token_offset + num_sizes - 1}"
        )
    raise ValueError(
        "malformed sequence: a frame's content does not match its size tokens; a frame with size tokens "
        f"size(H/32), size(W/32) holds H/8 rows of W/8 video tokens and one new-line token before its end ({end})"
    )


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
