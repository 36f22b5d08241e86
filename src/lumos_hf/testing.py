"""Test helpers: a download-free tokenizer with Chameleon's vocabulary layout.

`build_tiny_chameleon_text_tokenizer()` builds, with the `tokenizers` library only, a `tokenizers.Tokenizer` laid out
like the official `text_tokenizer.json`: 65,536 ids, `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, Chameleon's 8,192 image
tokens 4..8195, `<eoss>` 8196, `<racm3:break>` 8197, `<reservedNNNNN>` at NNNNN + 4 up to 16383, the 256 byte-level
symbols from 16384 (so the digits "0".."9" are 16399..16408) and merged tokens above. Its pre-tokenizer isolates
new lines, single digits and punctuation before the byte-level split, as Chameleon's does, so numbers tokenize digit
by digit. The words of the Lumos prompt template sit at the ids they have in the official tokenizer (read off the
official pre-tokenized samples; "Generate" is two official tokens, split here as "Gener" + "ate", a guess), so the
template tokenizes to exactly the official ids; a few common caption words
have merges too, any other text falls back to smaller pieces. `build_tiny_chameleon_tokenizer()` converts it with
`convert_text_tokenizer`, which adds the Lumos placeholders at 65536..65540.
"""

from __future__ import annotations

from tokenizers import AddedToken, Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

from .text_tokenizer import (
    add_word_merges,
    byte_symbols,
    chameleon_pre_tokenizer,
    convert_text_tokenizer,
    reserved_token,
)
from .tokens import FRAME_END_TOKEN_ID, FRAME_START_TOKEN_ID, TEXT_VOCAB_SIZE

BYTE_TOKEN_OFFSET = 16384  # first of the 256 byte-level symbols
NUM_IMAGE_TOKENS = 8192  # Chameleon's VQ image tokens, ids 4..8195

# Prompt-template tokens at their official ids (byte-level strings: "Ġ" is a leading space).
TEMPLATE_TOKEN_IDS: dict[str, int] = {
    "Gener": 22807,
    "ate": 16758,
    "Ġa": 16641,
    "Ġvideo": 18677,
    "Ġwith": 16734,
    "Ġresolution": 23544,
    "Ġof": 16673,
    "Ġconsisting": 31291,
    "Ġframes": 32559,
    "Ġat": 16767,
    "Ġper": 16972,
    "Ġsecond": 17711,
    "Ġaccording": 18745,
    "Ġto": 16671,
    "Ġthe": 16647,
    "Ġfollowing": 18211,
    "Ġprompt": 24643,
}

CAPTION_WORDS: tuple[str, ...] = (
    "The", "A", "An", "This", "In", "ĠThe", "ĠA", "ĠAn", "ĠThis", "ĠIn",
    "Ġthe", "Ġa", "Ġan", "Ġof", "Ġand", "Ġin", "Ġon", "Ġwith", "Ġis", "Ġare", "Ġits", "Ġtheir", "Ġas", "Ġby",
    "Ġcat", "Ġdog", "Ġbird", "Ġfish", "Ġman", "Ġwoman", "Ġperson", "Ġpeople", "Ġchild", "Ġcar", "Ġbus",
    "Ġred", "Ġblue", "Ġgreen", "Ġyellow", "Ġwhite", "Ġblack", "Ġsmall", "Ġlarge", "Ġbright", "Ġdark",
    "Ġsky", "Ġsun", "Ġwater", "Ġsea", "Ġbeach", "Ġcity", "Ġstreet", "Ġnight", "Ġday", "Ġlight", "Ġtree", "Ġtrees",
    "Ġgrass", "Ġfield", "Ġmountain", "Ġmountains", "Ġsnow", "Ġlake", "Ġforest", "Ġroad", "Ġbackground",
    "Ġcamera", "Ġscene", "Ġshot", "Ġclose", "Ġview", "Ġslowly", "Ġgently", "Ġwalking", "Ġrunning", "Ġflying",
    "Ġsitting", "Ġstanding", "Ġmoving", "Ġfeathers", "Ġhead", "Ġeyes",
)  # fmt: skip


def _image_token(index: int) -> str:
    """Chameleon's name of VQ image token `index`: "IMGIMG" + its decimal digits written as letters A..J + "Z"."""
    return "IMGIMG" + "".join(chr(ord("A") + int(d)) for d in str(index)) + "Z"


def build_tiny_chameleon_text_tokenizer() -> Tokenizer:
    """A `tokenizers.Tokenizer` with the layout of the official `text_tokenizer.json` (65,536 ids, no Lumos tokens)."""
    specials = {0: "<s>", 1: "<pad>", 2: "</s>", 3: "<unk>", FRAME_END_TOKEN_ID: "<eoss>"}
    specials[FRAME_START_TOKEN_ID] = "<racm3:break>"
    specials.update({i: reserved_token(i) for i in range(FRAME_START_TOKEN_ID + 1, BYTE_TOKEN_OFFSET)})
    vocab = {token: i for i, token in specials.items()}
    vocab.update({_image_token(i): 4 + i for i in range(NUM_IMAGE_TOKENS)})
    vocab.update({symbol: BYTE_TOKEN_OFFSET + i for i, symbol in enumerate(byte_symbols())})
    vocab.update(TEMPLATE_TOKEN_IDS)

    free_ids = (i for i in range(TEXT_VOCAB_SIZE - 1, BYTE_TOKEN_OFFSET + 255, -1) if i not in vocab.values())
    merges = add_word_merges(vocab, [*TEMPLATE_TOKEN_IDS, *CAPTION_WORDS], free_ids)
    used = set(vocab.values())
    vocab.update({f"<unused{i:05d}>": i for i in range(TEXT_VOCAB_SIZE) if i not in used})

    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    tokenizer.pre_tokenizer = chameleon_pre_tokenizer()
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(specials[i], normalized=False, special=True) for i in sorted(specials)])
    return tokenizer


def build_tiny_chameleon_tokenizer() -> PreTrainedTokenizerFast:
    """The Lumos text tokenizer made from `build_tiny_chameleon_text_tokenizer()` by `convert_text_tokenizer`."""
    return convert_text_tokenizer(build_tiny_chameleon_text_tokenizer())
