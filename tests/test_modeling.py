"""LumosForVideoGeneration on a tiny random model: backends, KV cache, batching, dtypes, loading, flash guard."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from huggingface_hub.errors import StrictDataclassError
from utils import MIXED_SEQUENCES, VIDEO_OFFSET, frame, padded_batch, tiny_config, video_sequence

from lumos_hf import LumosCache, LumosConfig, LumosForVideoGeneration, LumosModel, compute_mm_rope_layout
from lumos_hf.modeling_lumos import _check_flash_attention_allowed


@pytest.fixture(scope="module")
def model() -> LumosForVideoGeneration:
    torch.manual_seed(0)
    model = LumosForVideoGeneration(tiny_config()).eval()
    with torch.no_grad():  # non-trivial QK-norm affine, as in trained checkpoints
        for layer in model.model.layers:
            for norm in (layer.self_attn.q_norm, layer.self_attn.k_norm):
                norm.weight.normal_(1.0, 0.2)
                norm.bias.normal_(0.0, 0.2)
    model.set_attn_implementation("sdpa")
    return model


def logits(model, ids, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(ids, **kwargs).logits


def test_backends_agree(model):
    ids = torch.tensor([video_sequence(9, 3, n_h=1, n_w=2)])
    reference = logits(model, ids)
    for implementation in ("eager", "flex_attention"):
        model.set_attn_implementation(implementation)
        try:
            assert (logits(model, ids) - reference).abs().max() < 1e-5, implementation
        finally:
            model.set_attn_implementation("sdpa")


def test_kv_cache_frame_by_frame_equals_full_forward(model):
    ids = torch.tensor([video_sequence(7, 3)])
    full = logits(model, ids)
    starts = (ids[0] == 8197).nonzero().flatten().tolist()
    bounds = [0, *starts, ids.shape[1]]
    cache = LumosCache(config=model.config)
    pieces = [logits(model, ids[:, a:b], cache=cache, use_cache=True) for a, b in zip(bounds, bounds[1:])]
    assert cache.get_seq_length() == ids.shape[1]
    assert (torch.cat(pieces, dim=1) - full).abs().max() < 1e-5


def test_cache_argument_and_its_deprecated_name(model):
    """transformers 5.24 names the cache `cache` (inputs and outputs); `past_key_values` still works, with a
    FutureWarning, as in Llama."""
    ids = torch.tensor([video_sequence(5, 2)])
    second = (ids[0] == 8197).nonzero().flatten()[1].item()
    cache = LumosCache(config=model.config)
    with torch.no_grad():
        out = model(ids[:, :second], cache=cache, use_cache=True)
    assert out.cache is cache and out.to_tuple()[-1] is cache  # the output field is `cache`
    old_name = LumosCache(config=model.config)
    with torch.no_grad(), pytest.warns(FutureWarning, match="past_key_values"):
        model(ids[:, :second], past_key_values=old_name, use_cache=True)
    assert old_name.get_seq_length() == second
    assert torch.equal(logits(model, ids[:, second:], cache=cache), logits(model, ids[:, second:], cache=old_name))


def test_cache_from_config_keeps_every_token():
    """transformers builds sliding-window cache layers from some config fields; a Lumos cache must keep everything."""
    cache = LumosCache(config=tiny_config(query_chunk_size=4))
    assert not any(cache.is_sliding)
    keys = torch.zeros(1, 2, 3000, 32)
    cache.update(keys, keys, 0)
    assert cache.get_seq_length() == 3000


def test_kv_cache_crop_and_explicit_positions(model):
    """Dropping a frame's K/V with `crop` and re-running gives the same logits; explicit positions also work."""
    ids = torch.tensor([video_sequence(5, 2)])
    second = (ids[0] == 8197).nonzero().flatten()[1].item()
    cache = LumosCache(config=model.config)
    logits(model, ids[:, :second], cache=cache, use_cache=True)
    first = logits(model, ids[:, second:], cache=cache, use_cache=True)
    cache.crop(second - ids.shape[1])
    assert cache.get_seq_length() == second and cache.token_ids.shape[1] == second
    again = logits(model, ids[:, second:], cache=cache, use_cache=True)
    assert torch.equal(first, again)
    layout = compute_mm_rope_layout(ids)
    explicit = logits(model, ids, position_ids=layout.position_ids, frame_ids=layout.frame_ids)
    assert (explicit - logits(model, ids)).abs().max() < 1e-6


def test_chunk_starting_inside_a_cached_frame_is_refused(model):
    ids = torch.tensor([video_sequence(5, 1)])
    middle = (ids[0] == 8197).nonzero().item() + 6
    cache = LumosCache(config=model.config)
    logits(model, ids[:, :middle], cache=cache, use_cache=True)
    with pytest.raises(ValueError, match="inside a frame"):
        logits(model, ids[:, middle:], cache=cache, use_cache=True)


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_batch_of_different_lengths_equals_single(model, padding_side):
    sequences = MIXED_SEQUENCES
    ids, mask = padded_batch(sequences, padding_side)
    batched = logits(model, ids, attention_mask=mask)
    assert torch.isfinite(batched).all()
    for i, seq in enumerate(sequences):
        single = logits(model, torch.tensor([seq]))[0]
        real = batched[i][mask[i].bool()]
        assert (real - single).abs().max() < 1e-5


def test_batched_cached_generation_with_left_padding(model):
    """Two prompts of different lengths, left padded, then the same frame as a cached chunk for both."""
    prompts = [video_sequence(3, 0)[:-2], video_sequence(9, 0, seed=3)[:-2]]
    next_frame = frame(generator=torch.Generator().manual_seed(5))
    length = max(map(len, prompts))
    ids = torch.ones(2, length, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, length - len(p) :] = torch.tensor(p)
        mask[i, length - len(p) :] = 1
    cache = LumosCache(config=model.config)
    logits(model, ids, attention_mask=mask, cache=cache, use_cache=True)
    chunk = torch.tensor([next_frame, next_frame])
    full_mask = torch.cat([mask, torch.ones_like(chunk)], dim=1)
    cached = logits(model, chunk, attention_mask=full_mask, cache=cache, use_cache=True, video_logits_only=True)
    for i, p in enumerate(prompts):
        single = logits(model, torch.tensor([p + next_frame]), video_logits_only=True)[0, -len(next_frame) :]
        assert (cached[i] - single).abs().max() < 1e-5


def test_video_logits_only_and_logits_to_keep(model):
    ids = torch.tensor([video_sequence(5, 1)])
    full = logits(model, ids)
    video = logits(model, ids, video_logits_only=True, logits_to_keep=4)
    assert video.shape == (1, 4, 64)
    assert torch.allclose(video, full[:, -4:, VIDEO_OFFSET : VIDEO_OFFSET + 64], atol=1e-6)


def test_sequences_without_video_and_masked_new_lines():
    text = torch.arange(3, 40)[None]
    layout = compute_mm_rope_layout(text)
    assert not layout.visual_mask.any() and (layout.frame_ids == -1).all()
    assert torch.equal(layout.position_ids, torch.arange(37).expand(3, 1, 37))
    g = torch.Generator().manual_seed(0)
    plain = torch.tensor([[0, 5, 8710, 9004, 8805, 8805, *frame(1, 2, g)]])
    masked = plain.clone()
    masked[masked == 8803] = 9003
    a, b = compute_mm_rope_layout(plain), compute_mm_rope_layout(masked)
    assert torch.equal(a.position_ids, b.position_ids) and torch.equal(a.visual_mask, b.visual_mask)


@pytest.mark.parametrize(
    "sequence, message",
    [
        ([0, 8710, 9004, 8197, 65536, 65537, 8803, 8196], "size tokens"),
        ([0, 9004, 8197, 8805, 8805, *([65536] * 4 + [8803]) * 3, 8196], "does not match"),
        ([0, 9004, 8197, 8805, 8805, *([65536] * 8 + [8803]) * 4, 8196], "does not match"),
        ([0, 9004, 8197, 8805, 8805, 8197, 8805, 8805], "inside an unfinished frame"),
        ([0, 9004, 8196], "without a matching frame start"),
    ],
)
def test_malformed_sequences_raise(sequence, message):
    with pytest.raises(ValueError, match=message):
        compute_mm_rope_layout(torch.tensor(sequence))


def test_bf16_close_to_fp32(model):
    ids = torch.tensor([video_sequence(6, 2)])
    reference = logits(model, ids)
    bf16 = LumosForVideoGeneration(model.config).to(torch.bfloat16).eval()
    bf16.load_state_dict(model.state_dict())
    assert bf16.model.rotary_emb.inv_freq.dtype == torch.float32
    out = logits(bf16, ids).float()
    assert (out - reference).abs().max() < 0.1 * reference.abs().max()
    assert (out.argmax(-1) == reference.argmax(-1)).float().mean() > 0.9


def test_save_load_round_trip_rebuilds_rotary_buffers(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = LumosForVideoGeneration.from_pretrained(tmp_path, attn_implementation="sdpa").eval()
    rotary = loaded.model.rotary_emb
    assert torch.equal(rotary.inv_freq, model.model.rotary_emb.inv_freq)
    assert torch.equal(rotary.channel_axis, model.model.rotary_emb.channel_axis)
    ids = torch.tensor([video_sequence(5, 2)])
    assert torch.equal(logits(loaded, ids), logits(model, ids))


def test_auto_classes(model, tmp_path):
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), LumosConfig)
    assert type(AutoModel.from_pretrained(tmp_path)) is LumosModel  # the base model, head dropped
    assert isinstance(AutoModelForMaskedLM.from_pretrained(tmp_path), LumosForVideoGeneration)


def test_remote_code_loads_without_the_package(model, tmp_path):
    model.register_for_auto_class("AutoModelForMaskedLM")
    model.config.register_for_auto_class()
    try:
        model.save_pretrained(tmp_path)
    finally:
        type(model)._auto_class = None
        type(model.config)._auto_class = None
    ids = torch.tensor([video_sequence(5, 2)])
    torch.save({"ids": ids, "logits": logits(model, ids)}, tmp_path / "expected.pt")
    script = f"""
import sys
sys.modules["lumos_hf"] = None  # the package must not be importable
import torch
from transformers import AutoModelForMaskedLM
model = AutoModelForMaskedLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True, attn_implementation="sdpa")
model = model.eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
expected = torch.load({str(tmp_path / "expected.pt")!r})
with torch.no_grad():
    out = model(expected["ids"]).logits
assert torch.equal(out, expected["logits"]), (out - expected["logits"]).abs().max()
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_gradient_checkpointing_gives_same_gradients():
    torch.manual_seed(0)
    model = LumosForVideoGeneration(tiny_config()).train()
    ids = torch.tensor([video_sequence(5, 2)])
    labels = torch.where(ids >= VIDEO_OFFSET, ids, -100)

    def grads():
        model.zero_grad()
        model(ids, labels=labels).loss.backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    plain = grads()
    model.activation_checkpointing_enable()
    assert model.model.layers[0].gradient_checkpointing
    checkpointed = grads()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, checkpointed))


def test_swin_norm_layer_order():
    torch.manual_seed(0)
    model = LumosForVideoGeneration(tiny_config(swin_norm=True, num_hidden_layers=1)).eval()
    layer = model.model.layers[0]
    x = torch.randn(1, 5, 128)
    ids = torch.arange(3, 8)[None]
    cos, sin = model.model.rotary_emb(x, compute_mm_rope_layout(ids).position_ids)
    with torch.no_grad():
        attn, _ = layer.self_attn(x, (cos, sin), None)
        h = x + layer.input_layernorm(attn)
        expected = h + layer.post_attention_layernorm(layer.mlp(h))
        got = layer(x, (cos, sin), None)
    assert torch.allclose(got, expected)


def test_flash_attention_guard():
    frames = torch.tensor([[-1, -1, 0, 0, 0, 0]])
    assert _check_flash_attention_allowed(None, frames[:, :2], 2) is True  # text only: plain causal
    assert _check_flash_attention_allowed(None, frames, 4) is False  # one frame after the cache: fully visible
    with pytest.raises(ValueError, match="block-causal"):
        _check_flash_attention_allowed(None, frames, 6)
    with pytest.raises(ValueError, match="padding"):
        _check_flash_attention_allowed(torch.tensor([[0, 1, 1, 1, 1, 1]]), frames, 4)


def test_config_validation_and_presets():
    for name, (layers, hidden, heads, head_dim) in {
        "lumos-1-0.5b": (16, 1024, 16, 64),
        "lumos-1-1b": (16, 2048, 32, 64),
        "lumos-1-3b": (28, 3072, 24, 128),
    }.items():
        config = LumosConfig.from_preset(name)
        assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.head_dim) == (
            layers,
            hidden,
            heads,
            head_dim,
        )
        assert config.vocab_size == 129536
    with pytest.raises(ValueError, match="unknown preset"):
        LumosConfig.from_preset("lumos-7b")
    with pytest.raises(Exception, match="model_parallel_size"):
        tiny_config(model_parallel_size=3)
    with pytest.raises(Exception, match="mm_rope_channel_pattern"):
        tiny_config(hidden_size=64, num_attention_heads=4)


def test_explicit_positions_are_used_and_cache_ids_stay_in_sync(model):
    ids = torch.tensor([video_sequence(5, 2)])
    layout = compute_mm_rope_layout(ids)
    shifted = logits(model, ids, position_ids=layout.position_ids + 7)  # frame_ids derived, positions kept
    assert not torch.allclose(shifted, logits(model, ids))
    cache = LumosCache(config=model.config)
    middle = (ids[0] == 8197).nonzero()[0].item() + 6
    logits(model, ids[:, :middle], cache=cache, use_cache=True)
    with pytest.raises(ValueError, match="inside a frame"):
        logits(model, ids[:, middle:], cache=cache, use_cache=True)
    assert cache.token_ids.shape[1] == cache.get_seq_length() == middle


def test_wrapped_lm_head_is_not_bypassed(model):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    wrapped = get_peft_model(
        LumosForVideoGeneration(model.config).eval(), LoraConfig(target_modules=["lm_head"], init_lora_weights=False)
    )
    ids = torch.tensor([video_sequence(5, 1)])
    full = logits(wrapped, ids)
    video = logits(wrapped, ids, video_logits_only=True)
    assert torch.allclose(video, full[..., VIDEO_OFFSET : VIDEO_OFFSET + 64], atol=1e-6)
    with pytest.raises(ValueError, match="keep lm_head out"):
        wrapped(ids, labels=torch.where(ids >= VIDEO_OFFSET, ids, -100))


def test_rotary_takes_1d_positions_as_text_positions(model):
    rotary = model.model.rotary_emb
    x = torch.zeros(1)
    positions = torch.arange(7)[None].expand(2, -1)  # [B, L]
    cos, sin = rotary(x, positions)
    cos3, sin3 = rotary(x, positions[None].expand(3, -1, -1))
    assert cos.shape == (2, 7, model.config.head_dim)
    assert torch.equal(cos, cos3) and torch.equal(sin, sin3)
    with pytest.raises(ValueError, match=r"position_ids must be \[3, B, L\]"):
        rotary(x, torch.zeros(2, 2, 7, dtype=torch.long))


def test_dynamic_rope_scales_beyond_the_trained_length():
    config = tiny_config(max_position_embeddings=16, rope_parameters={"rope_type": "dynamic", "factor": 4.0})
    rotary = LumosModel(config).rotary_emb
    x, short, long = torch.zeros(1), torch.arange(8)[None], torch.arange(64)[None]
    default = LumosModel(tiny_config(max_position_embeddings=16)).rotary_emb
    assert torch.allclose(rotary(x, short)[0], default(x, short)[0])  # inside the trained length: unchanged
    assert not torch.allclose(rotary(x, long)[0], default(x, long)[0])  # beyond it: NTK-scaled frequencies
    assert (rotary.inv_freq <= default.inv_freq).all() and (rotary.inv_freq < default.inv_freq).any()


def test_inputs_embeds_without_positions_run_as_text(model):
    ids = torch.tensor([[0, 100, 200, 300, 400]] * 2)
    embeds = model.get_input_embeddings()(ids)
    with torch.no_grad():
        from_embeds = model(inputs_embeds=embeds).logits
    assert torch.allclose(from_embeds, logits(model, ids), atol=1e-5)  # text tokens: 1D positions, causal
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    with torch.no_grad():
        padded = model(inputs_embeds=embeds, attention_mask=mask).logits
    assert torch.allclose(padded[1, 2:], logits(model, ids[1:, 2:])[0], atol=1e-5)  # left padding skipped


def test_mrope_section_is_visible_to_rope_utilities():
    config = tiny_config()  # head_dim 32: 16 frequencies, pattern "tttthhwwhhwwhhww"
    assert config.rope_parameters["mrope_section"] == [4, 6, 6]
    assert LumosConfig.from_dict(config.to_dict()).rope_parameters["mrope_section"] == [4, 6, 6]
    assert tiny_config(mm_rope=False).rope_parameters["mrope_section"] == [16, 0, 0]
    with pytest.raises(StrictDataclassError, match="disagrees with mm_rope_channel_pattern"):
        tiny_config(rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [8, 4, 4]})
