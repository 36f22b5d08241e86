"""Training the Cosmos DV tokenizer: straight-through FSQ gradients, a resumable loop, PSNR."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lumos_hf import CosmosDiscreteVideoTokenizer, FSQuantizer
from lumos_hf.data.shapes import generate_examples
from lumos_hf.training.video_tokenizer import (
    TokenizerTrainingConfig,
    frames_to_video,
    latest_checkpoint,
    perturb_indices,
    psnr,
    reconstruct,
    train_video_tokenizer,
)

TINY = {"channels": 8, "channels_mult": (1, 1), "num_res_blocks": 1, "attn_resolutions": (), "z_channels": 4,
        "levels": (4, 4)}  # fmt: skip


def tiny_tokenizer(seed: int = 0) -> CosmosDiscreteVideoTokenizer:
    torch.manual_seed(seed)
    return CosmosDiscreteVideoTokenizer(**TINY)


def batch(step: int) -> torch.Tensor:
    frames = np.stack(
        [example["frames"][:5, :32, :32] for example in generate_examples(0, "train", 2, start=2 * step)]
    )
    return frames_to_video(frames)


def test_straight_through_gradients_reach_the_encoder():
    model = tiny_tokenizer()
    video = batch(0)
    reconstruction, indices = reconstruct(model, video)
    assert torch.equal(indices, model.encode(video))
    reconstruction.square().mean().backward()
    encoder_grads = [p.grad for name, p in model.named_parameters() if name.startswith("encoder")]
    assert encoder_grads and all(g is not None for g in encoder_grads)
    assert sum(g.abs().sum() for g in encoder_grads) > 0


def test_gradient_checkpointing_gives_the_same_gradients_as_chunked_training():
    video = batch(0)  # 5 frames: 2 latent frames, processed in 2 chunks without checkpointing

    def gradients(checkpointing: bool) -> dict[str, torch.Tensor]:
        model = tiny_tokenizer()
        model.enable_temporal_chunking(1)
        if checkpointing:
            model.enable_gradient_checkpointing()
        reconstruction, _ = reconstruct(model, video)
        reconstruction.square().mean().backward()
        return {name: p.grad for name, p in model.named_parameters()}

    reference, checkpointed = gradients(False), gradients(True)
    assert all(torch.allclose(checkpointed[name], grad, atol=1e-6) for name, grad in reference.items())


def test_decoder_only_training_keeps_every_token(tmp_path):
    model = tiny_tokenizer()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    tokens_before = model.encode(batch(5))
    config = TokenizerTrainingConfig(
        max_steps=3, learning_rate=1e-2, warmup_steps=0, eval_every=0, log_every=1, decoder_only=True
    )
    train_video_tokenizer(model, batch, config, tmp_path, log_fn=lambda _: None)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith(("decoder.", "post_quant_conv.")) for name in changed)
    assert any(name.startswith("decoder.") for name in changed)
    assert torch.equal(model.encode(batch(5)), tokens_before)
    video = batch(0)
    reconstruction, _ = reconstruct(model, video, decoder_only=True)
    reconstruction.square().mean().backward()
    assert all(p.grad is None for name, p in model.named_parameters() if name.startswith(("encoder.", "quant_conv.")))
    full_config = TokenizerTrainingConfig(max_steps=4, warmup_steps=0, eval_every=0, log_every=1)
    with pytest.raises(ValueError, match="decoder_only=True"):  # a decoder-only run is not resumed as a full one
        train_video_tokenizer(model, batch, full_config, tmp_path, log_fn=lambda _: None)


def test_perturb_indices_moves_tokens_to_fsq_neighbours():
    quantizer = FSQuantizer([8, 5, 5, 5])
    indices = torch.randint(0, quantizer.codebook_size, (4, 5, 8, 8), generator=torch.Generator().manual_seed(0))
    noisy = perturb_indices(quantizer, indices, 0.3, torch.Generator().manual_seed(1))
    assert noisy.shape == indices.shape and noisy.dtype == torch.int64
    assert torch.equal(noisy, perturb_indices(quantizer, indices, 0.3, torch.Generator().manual_seed(1)))
    assert 0.25 < (noisy != indices).float().mean() < 0.35
    codes_delta = quantizer.indices_to_codes(noisy) - quantizer.indices_to_codes(indices)  # [B, 4, ...]
    steps = codes_delta.movedim(1, -1).abs()
    moved = steps > 0
    assert torch.equal(moved.sum(-1), (noisy != indices).long())  # one channel per moved token
    one_level = 1 / (quantizer.levels // 2)  # a level step in code units
    torch.testing.assert_close(steps[moved], one_level.expand_as(steps)[moved].float())
    assert torch.equal(perturb_indices(quantizer, indices, 0.0), indices)
    assert (perturb_indices(quantizer, indices, 1.0) != indices).all()
    with pytest.raises(ValueError, match="probability"):
        perturb_indices(quantizer, indices, 1.5)


def test_token_noise_trains_the_decoder_on_neighbouring_tokens(tmp_path):
    model = tiny_tokenizer()
    tokens_before = model.encode(batch(5))
    with pytest.raises(ValueError, match="decoder_only"):
        reconstruct(model, batch(0), token_noise=0.2)
    clean, indices = reconstruct(model, batch(0), decoder_only=True)
    noisy, noisy_call_indices = reconstruct(
        model, batch(0), decoder_only=True, token_noise=0.5, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(indices, noisy_call_indices) and not torch.allclose(clean, noisy)
    config = TokenizerTrainingConfig(
        max_steps=2, learning_rate=1e-2, warmup_steps=0, eval_every=0, log_every=1, decoder_only=True, token_noise=0.2
    )
    records = train_video_tokenizer(model, batch, config, tmp_path, log_fn=lambda _: None)
    assert [r["step"] for r in records] == [1, 2] and all(np.isfinite(r["loss"]) for r in records)
    assert torch.equal(model.encode(batch(5)), tokens_before)
    for kwargs in ({"token_noise": 0.2}, {"token_noise": 1.0, "decoder_only": True}):
        with pytest.raises(ValueError, match="token_noise"):
            TokenizerTrainingConfig(max_steps=1, **kwargs)


class Interrupted(Exception):
    pass


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    config = TokenizerTrainingConfig(
        max_steps=4, learning_rate=1e-3, warmup_steps=1, checkpoint_every=2, eval_every=0, log_every=1
    )
    straight = tiny_tokenizer()
    records = train_video_tokenizer(straight, batch, config, tmp_path / "a", log_fn=lambda _: None)
    assert [r["step"] for r in records] == [1, 2, 3, 4]

    def interrupted_batch(step: int) -> torch.Tensor:
        if step == 3:
            raise Interrupted  # killed during step 4, after the checkpoint of step 2
        return batch(step)

    with pytest.raises(Interrupted):
        train_video_tokenizer(tiny_tokenizer(), interrupted_batch, config, tmp_path / "b", log_fn=lambda _: None)
    assert latest_checkpoint(tmp_path / "b").name == "checkpoint-0000002"
    resumed = tiny_tokenizer(seed=1)  # other initial weights: everything must come from the checkpoint
    resumed_records = train_video_tokenizer(resumed, batch, config, tmp_path / "b", log_fn=lambda _: None)
    assert [r["step"] for r in resumed_records] == [3, 4]
    assert [r["loss"] for r in resumed_records] == [r["loss"] for r in records[2:]]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]  # no record of the lost step 3 twice


def test_longer_resumed_run_follows_its_own_schedule(tmp_path):
    short = TokenizerTrainingConfig(max_steps=2, learning_rate=1e-3, warmup_steps=1, eval_every=0, log_every=1)
    longer = TokenizerTrainingConfig(max_steps=4, learning_rate=1e-3, warmup_steps=1, eval_every=0, log_every=1)
    train_video_tokenizer(tiny_tokenizer(), batch, short, tmp_path, log_fn=lambda _: None)
    records = train_video_tokenizer(tiny_tokenizer(), batch, longer, tmp_path, log_fn=lambda _: None)
    assert [r["lr"] for r in records] == pytest.approx([1e-3 * longer.lr_factor(2), 1e-3 * longer.lr_factor(3)])
    with pytest.raises(ValueError, match="another model config"):
        other = CosmosDiscreteVideoTokenizer(**{**TINY, "z_channels": 6})
        train_video_tokenizer(other, batch, longer, tmp_path, log_fn=lambda _: None)


def test_psnr_and_config_checks():
    original = np.zeros((1, 2, 4, 4, 3), dtype=np.uint8)
    noisy = original.copy()
    noisy[..., 0] = 255
    assert np.isinf(psnr(original, original)).all()
    np.testing.assert_allclose(psnr(noisy, original), 10 * np.log10(3), rtol=1e-6)
    for kwargs, match in [({"max_steps": 0}, "max_steps"), ({"lr_schedule": "step"}, "lr_schedule")]:
        with pytest.raises(ValueError, match=match):
            TokenizerTrainingConfig(**{"max_steps": 1, **kwargs})
    with pytest.raises(TypeError, match="decoder_only"):
        TokenizerTrainingConfig(max_steps=1, decoder_only="yes")
    with pytest.raises(TypeError):
        frames_to_video(np.zeros((1, 5, 8, 8, 3), dtype=np.float32))
