"""Token ids of the Lumos-1 vocabulary (LUMOS_SPEC section 1) and `TokenLayout`, the ids one model uses.

The official vocabulary has 129,536 ids: Chameleon's 65,536 text BPE ids, then 64,000 video ids (65,536 + FSQ index).
`TokenLayout()` is that layout; a model with a compact vocabulary (e.g. the shapes demo model) carries its own
`TokenLayout` in its config and processor, and every part of the package reads the ids from there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

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


@dataclass(frozen=True)
class TokenLayout:
    """Where the control tokens, size tokens and video tokens sit in a model's vocabulary (default: official).

    Attributes:
        bos_token_id, pad_token_id, eos_token_id, sep_token_id: sequence start, padding, end, turn separator.
        frame_start_token_id, frame_end_token_id, new_line_token_id: frame framing and the end of a latent row.
        video_start_token_id, video_end_token_id: around the frames of a video.
        mask_token_id: a masked video token of the discrete diffusion.
        size_token_offset, num_size_tokens: `size(n) = size_token_offset + n` for `0 <= n < num_size_tokens`.
        digit_token_offset: the text ids of the digits "0".."9" (numbers tokenize digit by digit).
        frames_placeholder_token_id, fps_placeholder_token_id: placeholders in official pre-tokenized text.
        text_vocab_size: text ids are `[0, text_vocab_size)`.
        video_token_offset, video_vocab_size: video token k (an FSQ index) is `video_token_offset + k`.
    """

    bos_token_id: int = BOS_TOKEN_ID
    pad_token_id: int = PAD_TOKEN_ID
    eos_token_id: int = EOS_TOKEN_ID
    sep_token_id: int = SEP_TOKEN_ID
    frame_start_token_id: int = FRAME_START_TOKEN_ID
    frame_end_token_id: int = FRAME_END_TOKEN_ID
    new_line_token_id: int = NEW_LINE_TOKEN_ID
    video_start_token_id: int = VIDEO_START_TOKEN_ID
    video_end_token_id: int = VIDEO_END_TOKEN_ID
    mask_token_id: int = MASK_TOKEN_ID
    size_token_offset: int = SIZE_TOKEN_OFFSET
    num_size_tokens: int = NUM_SIZE_TOKENS
    digit_token_offset: int = DIGIT_TOKEN_OFFSET
    frames_placeholder_token_id: int = FRAMES_PLACEHOLDER_TOKEN_ID
    fps_placeholder_token_id: int = FPS_PLACEHOLDER_TOKEN_ID
    text_vocab_size: int = TEXT_VOCAB_SIZE
    video_token_offset: int = VIDEO_TOKEN_OFFSET
    video_vocab_size: int = VIDEO_VOCAB_SIZE

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TypeError(f"TokenLayout.{field.name} must be a non-negative int, got {value!r}")
        if self.num_size_tokens < 2 or self.video_vocab_size < 1:
            raise ValueError("TokenLayout needs num_size_tokens >= 2 and video_vocab_size >= 1")
        if self.video_token_offset < self.text_vocab_size:
            raise ValueError(
                f"video ids must follow the text ids: video_token_offset ({self.video_token_offset}) < "
                f"text_vocab_size ({self.text_vocab_size})"
            )
        controls = {name: value for name, value in self.control_token_ids().items()}
        outside = {name: value for name, value in controls.items() if value >= self.video_token_offset}
        if outside:
            raise ValueError(f"control tokens must be text-range ids (< {self.video_token_offset}), got {outside}")
        size_range = range(self.size_token_offset, self.size_token_offset + self.num_size_tokens)
        clashes = {name: value for name, value in controls.items() if value in size_range}
        if clashes or len(set(controls.values())) != len(controls):
            raise ValueError(f"control token ids must be distinct and outside the size tokens, got {controls}")

    @property
    def vocab_size(self) -> int:
        """All ids: text (and control) ids, then the video ids."""
        return self.video_token_offset + self.video_vocab_size

    def control_token_ids(self) -> dict[str, int]:
        """The ids that structure a sequence (padding, BOS and EOS included), by field name."""
        names = (
            "bos",
            "pad",
            "eos",
            "sep",
            "frame_start",
            "frame_end",
            "new_line",
            "video_start",
            "video_end",
            "mask",
        )
        return {f"{name}_token_id": getattr(self, f"{name}_token_id") for name in names}

    def size_token(self, n: int) -> int:
        """Id of the size token of the integer `n` (grid sizes in units of 32 px, seconds, fps)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < self.num_size_tokens:
            raise ValueError(f"size tokens encode integers in [0, {self.num_size_tokens - 1}], got {n!r}")
        return self.size_token_offset + n

    def number_token_ids(self, n: int) -> list[int]:
        """Text ids of a non-negative integer written in decimal, digit by digit."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"number_token_ids takes a non-negative int, got {n!r}")
        return [self.digit_token_offset + int(digit) for digit in str(n)]

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def compact(cls, text_vocab_size: int, video_vocab_size: int) -> TokenLayout:
        """A compact vocabulary for small models: the control tokens and placeholders at ids 0-11, 48 size tokens at
        16-63, room for `text_tokenizer.build_compact_tokenizer`'s 256 byte symbols at 64-319 ("0".."9" at 79-88),
        text ids below `text_vocab_size` (> 320) and the video codes right after them."""
        controls = ("bos", "pad", "eos", "sep", "frame_start", "frame_end", "new_line", "video_start", "video_end",
                    "mask", "frames_placeholder", "fps_placeholder")  # fmt: skip
        return cls(
            **{f"{name}_token_id": i for i, name in enumerate(controls)},
            size_token_offset=16,
            num_size_tokens=48,
            digit_token_offset=79,
            text_vocab_size=text_vocab_size,
            video_token_offset=text_vocab_size,
            video_vocab_size=video_vocab_size,
        )

    @classmethod
    def from_object(cls, source: Any) -> TokenLayout:
        """The layout stored as attributes of `source` (a `LumosConfig` or a `LumosProcessor`)."""
        return cls(**{field.name: getattr(source, field.name) for field in fields(cls)})


OFFICIAL_TOKEN_LAYOUT = TokenLayout()
