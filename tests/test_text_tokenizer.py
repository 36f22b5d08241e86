"""Text tokenizer conversion and the download-free tiny Chameleon tokenizer (LUMOS_SPEC 1-2)."""

from __future__ import annotations

import dataclasses
import json
import runpy
import sys
from pathlib import Path

import pytest
from conftest import shared_path
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from lumos_hf.commands.convert_text_tokenizer import main as convert_main
from lumos_hf.processing_lumos import PROMPT_TEMPLATE, LumosProcessor
from lumos_hf.testing import build_tiny_chameleon_text_tokenizer, build_tiny_chameleon_tokenizer
from lumos_hf.text_tokenizer import LUMOS_ADDED_TOKENS, build_compact_tokenizer, convert_text_tokenizer
from lumos_hf.tokens import (
    FPS_PLACEHOLDER_TOKEN_ID,
    FRAMES_PLACEHOLDER_TOKEN_ID,
    MASK_TOKEN_ID,
    SEP_TOKEN_ID,
    TokenLayout,
)
from lumos_hf.tokens import OFFICIAL_TOKEN_LAYOUT as LAYOUT

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend() -> Tokenizer:
    return build_tiny_chameleon_text_tokenizer()


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_chameleon_tokenizer()


@pytest.fixture(scope="module")
def official_samples() -> list[dict]:
    path = shared_path("data", "pretokenized", "official_samples.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tiny_backend_has_chameleon_layout(backend):
    assert backend.get_vocab_size(with_added_tokens=False) == 65536
    expected = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<eoss>": 8196, "<racm3:break>": 8197}
    expected.update({f"<reserved{n:05d}>": n + 4 for n in (8194, 8706, 8799, 8800, 8995, 8999, 9000, 9001, 16379)})
    assert {token: backend.token_to_id(token) for token in expected} == expected
    assert backend.token_to_id("IMGIMGAZ") == 4 and backend.token_to_id("IMGIMGIBJBZ") == 8195
    assert [backend.token_to_id(str(d)) for d in range(10)] == list(range(16399, 16409))
    assert backend.token_to_id("<video_frames_placeholder>") is None  # added by the conversion, as officially


def test_tiny_tokenizer_reproduces_the_official_template(tokenizer, official_samples):
    # Every official sample's text starts with the template; its numbers are the resolution and the placeholders.
    for sample in official_samples:
        ids = sample["input_ids"]
        template = ids[1 : ids.index(16582) + 1]  # BOS excluded, up to the "\n" ending the template
        frames = ids[ids.index(FRAMES_PLACEHOLDER_TOKEN_ID) - 1 : ids.index(FRAMES_PLACEHOLDER_TOKEN_ID)]
        assert frames == [16604]  # the space before the placeholder is its own token
        size = ids[ids.index(9004) + 3 : ids.index(9004) + 6]
        height, width = 32 * (size[1] - 8804), 32 * (size[2] - 8804)
        text = PROMPT_TEMPLATE.format(width=width, height=height, num_frames=7, fps=3)
        ours = tokenizer(text, add_special_tokens=False)["input_ids"]
        filled = [
            t
            for token in template
            for t in {65539: LAYOUT.number_token_ids(7), 65540: LAYOUT.number_token_ids(3)}.get(token, [token])
        ]
        assert ours[: len(filled)] == filled


def test_numbers_tokenize_digit_by_digit(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(" 672x384, 25", add_special_tokens=False)["input_ids"])
    assert tokens == ["Ġ", "6", "7", "2", "x", "3", "8", "4", ",", "Ġ", "2", "5"]


def test_converted_tokenizer_roles_and_placeholders(tokenizer):
    assert len(tokenizer) == 65541
    assert tokenizer.convert_tokens_to_ids(list(LUMOS_ADDED_TOKENS)) == list(range(65536, 65541))
    assert tokenizer.convert_tokens_to_ids("<video_frames_placeholder>") == FRAMES_PLACEHOLDER_TOKEN_ID
    assert tokenizer.convert_tokens_to_ids("<video_fps_placeholder>") == FPS_PLACEHOLDER_TOKEN_ID
    roles = (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id)
    assert roles == (0, 1, 2, 3)
    assert (tokenizer.sep_token_id, tokenizer.mask_token_id) == (SEP_TOKEN_ID, MASK_TOKEN_ID)
    text = "A cat on the beach."
    bare = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer(text)["input_ids"] == [0, *bare]
    assert tokenizer.decode(bare) == text
    placeholder_text = " of <video_frames_placeholder> frames at <video_fps_placeholder> frames"
    assert tokenizer(placeholder_text, add_special_tokens=False)["input_ids"] == [
        16673,
        16604,
        65539,
        32559,
        16767,
        16604,
        65540,
        32559,
    ]


def test_conversion_is_idempotent_and_leaves_input_untouched(backend):
    converted = convert_text_tokenizer(backend)
    assert backend.token_to_id("<|image|>") is None
    again = convert_text_tokenizer(converted.backend_tokenizer)
    assert again.get_vocab() == converted.get_vocab()


def test_conversion_rejects_other_layouts(backend, tmp_path):
    shifted = json.loads(backend.to_str())
    shifted["added_tokens"] = [t for t in shifted["added_tokens"] if t["content"] != "<reserved08706>"]
    del shifted["model"]["vocab"]["<reserved08706>"]
    shifted["model"]["vocab"]["<reserved08706>"] = 60000
    with pytest.raises(ValueError, match="<reserved08706>"):
        convert_text_tokenizer(Tokenizer.from_str(json.dumps(shifted)))
    with pytest.raises(ValueError, match="no such file"):
        convert_text_tokenizer(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="text_tokenizer"):
        convert_text_tokenizer(123)


def test_cli_and_script_write_a_loadable_processor(backend, tmp_path, monkeypatch):
    source = tmp_path / "text_tokenizer.json"
    backend.save(str(source))
    assert convert_main([str(source), str(tmp_path / "cli")]) == 0
    processor = LumosProcessor.from_pretrained(tmp_path / "cli")
    assert processor.tokenizer.convert_tokens_to_ids("<video_fps_placeholder>") == 65540
    assert AutoTokenizer.from_pretrained(tmp_path / "cli")("a")["input_ids"][0] == 0

    script = REPO_ROOT / "conversion" / "convert_text_tokenizer.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(source), str(tmp_path / "script")])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    assert (tmp_path / "script" / "processor_config.json").is_file()
    assert json.loads((tmp_path / "script" / "tokenizer.json").read_text()) == json.loads(
        (tmp_path / "cli" / "tokenizer.json").read_text()
    )


COMPACT = TokenLayout.compact(text_vocab_size=400, video_vocab_size=64)


def test_compact_tokenizer_layout_and_any_text(tmp_path):
    """Controls, sizes and digits at the layout's ids; listed words are one token; any text tokenizes and decodes."""
    tokenizer = build_compact_tokenizer(COMPACT, ["Ġcircle", "Generate"])
    assert len(tokenizer) == COMPACT.text_vocab_size
    for name, token_id in COMPACT.control_token_ids().items():
        assert tokenizer.convert_tokens_to_ids(f"<{name.removesuffix('_token_id')}>") == token_id
    assert tokenizer.convert_tokens_to_ids("<size_47>") == COMPACT.size_token(47)
    encode = lambda text: tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]  # noqa: E731
    assert encode("2026") == COMPACT.number_token_ids(2026)
    assert tokenizer.convert_ids_to_tokens(encode("Generate a circle")) == ["Generate", "Ġ", "a", "Ġcircle"]
    text = "a zèbra <s> <mask> circles 64x64!\n"
    ids = encode(text)
    assert tokenizer.decode(ids) == text
    assert not set(ids) & {*COMPACT.control_token_ids().values(), 10, 11}
    processor = LumosProcessor(tokenizer=tokenizer, **COMPACT.to_dict())
    processor.save_pretrained(tmp_path)
    assert LumosProcessor.from_pretrained(tmp_path).token_layout == COMPACT


def test_compact_tokenizer_rejects_a_layout_without_room_for_bytes():
    with pytest.raises(ValueError, match="byte symbols"):
        build_compact_tokenizer(dataclasses.replace(COMPACT, digit_token_offset=20), [])
