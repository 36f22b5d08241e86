"""Conversion of the official `text_tokenizer.json` (Chameleon's 65,536-token byte-level BPE) into a
`PreTrainedTokenizerFast` for Lumos (LUMOS_SPEC section 1).

The BPE (vocabulary, merges, pre-tokenizer) is kept untouched. The conversion checks that the special tokens sit at Chameleon's ids, appends the
five tokens the official Lumos code adds at run time (`<|image|>`, `<|video|>` and the three video placeholders, ids
65536..65540, so that `<video_frames_placeholder>` is 65539 and `<video_fps_placeholder>` 65540 as in the official
pre-tokenized data) and assigns the special-token roles. Its post-processor makes `tokenizer(text)` prepend `<s>`;
`tokenizer(text, add_special_tokens=False)` gives the bare text ids that `LumosProcessor` uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokenizers import AddedToken, Tokenizer
from transformers import PreTrainedTokenizerFast

from .tokens import (
    BOS_TOKEN_ID,
    DIGIT_TOKEN_OFFSET,
    EOS_TOKEN_ID,
    FRAME_END_TOKEN_ID,
    FRAME_START_TOKEN_ID,
    MASK_TOKEN_ID,
    NEW_LINE_TOKEN_ID,
    NUM_SIZE_TOKENS,
    PAD_TOKEN_ID,
    SEP_TOKEN_ID,
    SIZE_TOKEN_OFFSET,
    TEXT_VOCAB_SIZE,
    VIDEO_END_TOKEN_ID,
    VIDEO_START_TOKEN_ID,
)


def reserved_token(token_id: int) -> str:
    """Name of Chameleon's reserved token with id `token_id` (`<reservedNNNNN>` has id NNNNN + 4)."""
    return f"<reserved{token_id - 4:05d}>"


# Tokens whose ids the Lumos sequence format relies on.
CHAMELEON_SPECIAL_TOKENS: dict[str, int] = {
    "<s>": BOS_TOKEN_ID,
    "<pad>": PAD_TOKEN_ID,
    "</s>": EOS_TOKEN_ID,
    "<eoss>": FRAME_END_TOKEN_ID,
    "<racm3:break>": FRAME_START_TOKEN_ID,
    reserved_token(SEP_TOKEN_ID): SEP_TOKEN_ID,
    reserved_token(NEW_LINE_TOKEN_ID): NEW_LINE_TOKEN_ID,
    reserved_token(SIZE_TOKEN_OFFSET): SIZE_TOKEN_OFFSET,
    reserved_token(SIZE_TOKEN_OFFSET + NUM_SIZE_TOKENS - 1): SIZE_TOKEN_OFFSET + NUM_SIZE_TOKENS - 1,
    reserved_token(MASK_TOKEN_ID): MASK_TOKEN_ID,
    reserved_token(VIDEO_START_TOKEN_ID): VIDEO_START_TOKEN_ID,
    reserved_token(VIDEO_END_TOKEN_ID): VIDEO_END_TOKEN_ID,
}

# Added by the official Lumos item processor after Chameleon's vocabulary, in this order (ids 65536..65540).
LUMOS_ADDED_TOKENS: tuple[str, ...] = (
    "<|image|>",
    "<|video|>",
    "<video_resolution_placeholder>",
    "<video_frames_placeholder>",
    "<video_fps_placeholder>",
)


def _check_layout(backend: Tokenizer) -> None:
    """Raise `ValueError` unless `backend` has Chameleon's special tokens and digit tokens at the official ids."""
    for token, expected in CHAMELEON_SPECIAL_TOKENS.items():
        found = backend.token_to_id(token)
        if found != expected:
            raise ValueError(f"text tokenizer: {token!r} must have id {expected} (Chameleon layout), got {found}")
    digits = [backend.encode(str(d), add_special_tokens=False).ids for d in range(10)]
    expected_digits = [[DIGIT_TOKEN_OFFSET + d] for d in range(10)]
    if digits != expected_digits:
        raise ValueError(f"text tokenizer: digits 0..9 must encode to {expected_digits}, got {digits}")
    if backend.get_vocab_size(with_added_tokens=False) != TEXT_VOCAB_SIZE:
        raise ValueError(
            f"text tokenizer: the BPE vocabulary must have {TEXT_VOCAB_SIZE} ids, "
            f"got {backend.get_vocab_size(with_added_tokens=False)}"
        )


def _add_lumos_tokens(backend: Tokenizer) -> None:
    """Append the Lumos tokens that are missing and check that they land at 65536..65540."""
    for offset, token in enumerate(LUMOS_ADDED_TOKENS):
        expected = TEXT_VOCAB_SIZE + offset
        if backend.token_to_id(token) is None:
            backend.add_tokens([AddedToken(token, normalized=False, special=False)])
        found = backend.token_to_id(token)
        if found != expected:
            raise ValueError(f"text tokenizer: {token!r} must have id {expected}, got {found}")


def convert_text_tokenizer(text_tokenizer: str | os.PathLike | Tokenizer) -> PreTrainedTokenizerFast:
    """Build the Lumos text tokenizer from the official `text_tokenizer.json` (a path) or a `tokenizers.Tokenizer`.

    The input is not modified. Raises `ValueError` when the vocabulary does not follow Chameleon's layout
    (`<s>` 0, `<pad>` 1, `</s>` 2, `<eoss>` 8196, `<racm3:break>` 8197, `<reservedNNNNN>` at NNNNN + 4,
    digits at 16399..16408, 65,536 BPE ids).
    """
    if isinstance(text_tokenizer, Tokenizer):
        backend = Tokenizer.from_str(text_tokenizer.to_str())
    elif isinstance(text_tokenizer, (str, os.PathLike)):
        path = Path(text_tokenizer)
        if not path.is_file():
            raise ValueError(f"text_tokenizer: no such file {str(path)!r} (expected the official text_tokenizer.json)")
        backend = Tokenizer.from_file(str(path))
    else:
        raise TypeError(
            f"text_tokenizer must be a path to text_tokenizer.json or a tokenizers.Tokenizer, got {type(text_tokenizer)}"
        )
    _check_layout(backend)
    _add_lumos_tokens(backend)
    has_unk = backend.token_to_id("<unk>") is not None
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>" if has_unk else None,
        sep_token=reserved_token(SEP_TOKEN_ID),
        mask_token=reserved_token(MASK_TOKEN_ID),
        add_bos_token=True,
        add_eos_token=False,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
