"""Token ids of the Lumos-1 vocabulary (LUMOS_SPEC section 1) and helpers for number and size tokens.

The vocabulary has 129,536 ids: Chameleon's 65,536 text BPE ids, then 64,000 video ids (65,536 + FSQ index).
These are the official defaults; `LumosConfig` carries them so that a checkpoint can override them.
"""

from __future__ import annotations

BOS_TOKEN_ID = 0
PAD_TOKEN_ID = 1
EOS_TOKEN_ID = 2
SEP_TOKEN_ID = 8710  # <reserved08706>: ends each conversation turn
FRAME_START_TOKEN_ID = 8197  # <racm3:break>
FRAME_END_TOKEN_ID = 8196  # <eoss>
NEW_LINE_TOKEN_ID = 8803  # <reserved08799>: after each row of video tokens
VIDEO_START_TOKEN_ID = 9004  # <reserved09000>
VIDEO_END_TOKEN_ID = 9005  # <reserved09001>
MASK_TOKEN_ID = 9003  # <reserved08999>: masked token of the discrete diffusion
SIZE_TOKEN_OFFSET = 8804  # size(n) = <reserved{8800+n:05d}> = 8804 + n
NUM_SIZE_TOKENS = 196  # <reserved08800> .. <reserved08995>: ids 8804 .. 8999
DIGIT_TOKEN_OFFSET = 16399  # text digits "0".."9" are 16399 .. 16408
FRAMES_PLACEHOLDER_TOKEN_ID = 65539  # <video_frames_placeholder> in pre-tokenized training text
FPS_PLACEHOLDER_TOKEN_ID = 65540  # <video_fps_placeholder>

TEXT_VOCAB_SIZE = 65536
VIDEO_TOKEN_OFFSET = 65536
VIDEO_VOCAB_SIZE = 64000
VOCAB_SIZE = VIDEO_TOKEN_OFFSET + VIDEO_VOCAB_SIZE  # 129,536

PROMPT_TEMPLATE = (
    "Generate a video with a resolution of {width}x{height}, consisting of {num_frames} frames at {fps} frames "
    "per second, according to the following prompt:\n "
)


def size_token_id(n: int, size_token_offset: int = SIZE_TOKEN_OFFSET) -> int:
    """Id of the size token for the integer `n` (grid sizes in units of 32 px, seconds, fps)."""
    if not 0 <= n < NUM_SIZE_TOKENS:
        raise ValueError(f"size tokens encode integers in [0, {NUM_SIZE_TOKENS - 1}], got {n}")
    return size_token_offset + n


def number_token_ids(n: int) -> list[int]:
    """Text tokens of a non-negative integer written in decimal: Chameleon tokenizes numbers digit by digit."""
    if n < 0:
        raise ValueError(f"number_token_ids takes a non-negative integer, got {n}")
    return [DIGIT_TOKEN_OFFSET + int(d) for d in str(n)]
