"""Parity with the official Lumos-1 code: `../shared/fixtures/official_lumos_tiny`, converted by our conversion code."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import shared_path
from safetensors.torch import load_file

from lumos_hf import LumosForVideoGeneration, compute_mm_rope_layout
from lumos_hf.conversion_lumos import convert_lumos_checkpoint

FIXTURE = ("fixtures", "official_lumos_tiny")
CASES = json.loads(shared_path(*FIXTURE, "cases.json").read_text())


@pytest.fixture(scope="module")
def cases() -> dict[str, torch.Tensor]:
    return load_file(shared_path(*FIXTURE, "cases.safetensors"))


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> LumosForVideoGeneration:
    out = tmp_path_factory.mktemp("converted")
    convert_lumos_checkpoint(shared_path(*FIXTURE, "official_checkpoint"), out)
    model = LumosForVideoGeneration.from_pretrained(out, attn_implementation="sdpa")
    return model.eval()


def full_logit_stats(model: LumosForVideoGeneration, hidden: torch.Tensor, chunk: int = 1024):
    """logsumexp and argmax over the full vocabulary, `chunk` rows at a time: `[L]`, `[L]`."""
    lse, argmax = [], []
    for rows in hidden.split(chunk):
        logits = model.lm_head(rows)
        lse.append(logits.logsumexp(-1))
        argmax.append(logits.argmax(-1))
    return torch.cat(lse), torch.cat(argmax)


@pytest.mark.parametrize("name", list(CASES))
def test_positions_equal_official(cases, name):
    ids = cases[f"{name}.input_ids"]
    layout = compute_mm_rope_layout(ids)
    flag = cases[f"{name}.visual_content_flag"].bool()
    assert ids.shape[0] == CASES[name]["length"]
    assert torch.equal(layout.visual_mask[0], flag)
    positions = layout.position_ids[:, 0]
    for axis, key in enumerate(["position_t", "position_h", "position_w"]):
        assert torch.equal(positions[axis][flag], cases[f"{name}.{key}"][flag]), key
    for axis in range(3):
        assert torch.equal(positions[axis][~flag], cases[f"{name}.position_text"][~flag])


def test_mask_equals_official(cases, converted):
    from transformers.masking_utils import create_causal_mask

    name = "synthetic_three_frames"
    ids = cases[f"{name}.input_ids"][None]
    layout = compute_mm_rope_layout(ids)
    converted.set_attn_implementation("sdpa")
    embeds = converted.model.embed_tokens(ids)
    mask = create_causal_mask(
        converted.config, embeds, None, None, block_sequence_ids=layout.frame_ids, allow_is_causal_skip=False
    )
    assert torch.equal(mask[0, 0], cases[f"{name}.attention_allowed"].bool())


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_logits_equal_official(cases, converted, name, attn_implementation):
    converted.set_attn_implementation(attn_implementation)
    ids = cases[f"{name}.input_ids"][None]
    with torch.no_grad():
        hidden = converted.model(ids).last_hidden_state[0]
        rows = cases[f"{name}.sample_rows"]
        sample_logits = converted.lm_head(hidden[rows])
        lse, argmax = full_logit_stats(converted, hidden)
    text_err = (sample_logits[:, :2048] - cases[f"{name}.sample_text_logits"]).abs().max()
    visual_err = (sample_logits[:, 65536:66560] - cases[f"{name}.sample_visual_logits"]).abs().max()
    assert text_err < 1e-4 and visual_err < 1e-4, (text_err, visual_err)
    assert (lse - cases[f"{name}.logsumexp"]).abs().max() < 1e-4
    assert torch.equal(argmax, cases[f"{name}.argmax"])
