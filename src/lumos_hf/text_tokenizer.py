"""Conversion of the official `text_tokenizer.json` (Chameleon's 65,536-token byte-level BPE) into a
`PreTrainedTokenizerFast` for Lumos (LUMOS_SPEC section 1), and compact byte-level tokenizers for small models.

The BPE (vocabulary, merges, pre-tokenizer) is kept untouched. The conversion checks that the special tokens sit at Chameleon's ids, appends the
five tokens the official Lumos code adds at run time (`<|image|>`, `<|video|>` and the three video placeholders, ids
65536..65540, so that `<video_frames_placeholder>` is 65539 and `<video_fps_placeholder>` 65540 as in the official
pre-tokenized data) and assigns the special-token roles. Its post-processor makes `tokenizer(text)` prepend `<s>`;
`tokenizer(text, add_special_tokens=False)` gives the bare text ids that `LumosProcessor` uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
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
    TokenLayout,
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
            backend.add_special_tokens([AddedToken(token, normalized=False, special=True)])
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


# ----------------------------------------------------------------------------------------------------------------------
# Byte-level BPE pieces shared by Chameleon-layout test tokenizers and compact tokenizers


def byte_symbols() -> list[str]:
    """The 256 byte-level symbols in GPT-2 order (printable bytes first): "0".."9" are entries 15..24."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = [chr(b) for b in printable]
    shifted = [b for b in range(256) if b not in printable]
    symbols += [chr(256 + n) for n in range(len(shifted))]
    return symbols


DIGIT_SYMBOL_INDEX = 15  # "0" in `byte_symbols()`


def chameleon_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Chameleon's pre-tokenizer: new lines, single digits and punctuation isolated, then the byte-level split."""
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"([\t\n]|    |  )"), behavior="isolated"),
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.Split(Regex(r"[\p{P}!-/:-@\[-`{-~]"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )


def add_word_merges(vocab: dict[str, int], words: Iterable[str], free_ids: Iterable[int]) -> list[tuple[str, str]]:
    """Left-to-right merge chains that build each byte-level `word` ("Ġ" is a leading space) as one token.

    New tokens take ids from `free_ids` and are added to `vocab` in place. Words with a leading space merge before the
    others, so a word-internal pair never pre-empts the chain of a listed word. Returns the merges, in priority order.
    """
    free_ids = iter(free_ids)
    merges: list[tuple[str, str]] = []
    for word in sorted(set(words), key=lambda w: (not w.startswith("Ġ"), w)):
        for end in range(2, len(word) + 1):
            merge = (word[: end - 1], word[end - 1])
            if merge not in merges:
                merges.append(merge)
            if word[:end] not in vocab:
                try:
                    vocab[word[:end]] = next(free_ids)
                except StopIteration:
                    raise ValueError(f"no free text id left for {word[:end]!r}: enlarge the text vocabulary") from None
    return merges


def build_compact_tokenizer(layout: TokenLayout, words: Iterable[str]) -> PreTrainedTokenizerFast:
    """A small byte-level BPE tokenizer laid out by `layout`, for models with a compact vocabulary.

    Ids: every control token of `layout` and the two placeholders at their ids (special tokens, so user text never
    becomes one), the size tokens `<size_n>`, the 256 byte symbols placed so that "0".."9" land on
    `layout.digit_token_offset`, merges that make each of `words` one token, and `<unused_n>` up to
    `layout.text_vocab_size`. Any text tokenizes (unknown words fall back to bytes); numbers go digit by digit.

    Args:
        layout: the model's `TokenLayout`; its byte block `[digit_token_offset - 15, digit_token_offset + 241)`
            must sit inside the text ids, clear of the control and size tokens.
        words: byte-level words ("Ġ" for a leading space) that become single tokens, e.g. the prompt template's.
    """
    specials = {
        **{value: f"<{name.removesuffix('_token_id')}>" for name, value in layout.control_token_ids().items()},
        layout.frames_placeholder_token_id: "<video_frames_placeholder>",
        layout.fps_placeholder_token_id: "<video_fps_placeholder>",
    }
    specials.update({layout.size_token(n): f"<size_{n}>" for n in range(layout.num_size_tokens)})
    byte_offset = layout.digit_token_offset - DIGIT_SYMBOL_INDEX
    byte_ids = range(byte_offset, byte_offset + 256)
    if byte_offset < 0 or byte_ids[-1] >= layout.text_vocab_size or set(byte_ids) & set(specials):
        raise ValueError(
            f"layout: the byte symbols would take ids {byte_ids.start}..{byte_ids[-1]}; they must lie in "
            f"[0, {layout.text_vocab_size}) clear of the control and size tokens (set digit_token_offset)"
        )
    vocab = {token: i for i, token in specials.items()}
    vocab.update({symbol: byte_offset + i for i, symbol in enumerate(byte_symbols())})
    taken = set(vocab.values())
    merges = add_word_merges(vocab, words, (i for i in range(layout.text_vocab_size) if i not in taken))
    used = set(vocab.values())
    vocab.update({f"<unused_{i}>": i for i in range(layout.text_vocab_size) if i not in used})

    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = chameleon_pre_tokenizer()
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(specials[i], normalized=False, special=True) for i in sorted(specials)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=specials[layout.bos_token_id],
        eos_token=specials[layout.eos_token_id],
        pad_token=specials[layout.pad_token_id],
        sep_token=specials[layout.sep_token_id],
        mask_token=specials[layout.mask_token_id],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
