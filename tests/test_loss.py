"""The AR-DF loss: visual-only, unshifted, chunked, `num_items_in_batch`, z-loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lumos_hf import LumosConfig, LumosForVideoGeneration
from lumos_hf.loss_lumos import visual_cross_entropy

OFFSET, VIDEO_VOCAB = 65536, 64


def reference_loss(hidden, weight, labels, z_loss_weight=0.0, divisor=None):
    """Full-vocabulary logits, then the video columns, in fp32: the straightforward computation."""
    logits = F.linear(hidden, weight).float()[..., OFFSET : OFFSET + VIDEO_VOCAB]
    scored = labels >= OFFSET
    selected, target = logits[scored], labels[scored] - OFFSET
    loss = F.cross_entropy(selected, target, reduction="sum")
    if z_loss_weight:
        loss = loss + z_loss_weight * selected.logsumexp(-1).pow(2).sum()
    return loss / (divisor if divisor is not None else scored.sum())


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 50, 32, generator=g, requires_grad=True)
    weight = (torch.randn(OFFSET + VIDEO_VOCAB, 32, generator=g) * 0.1).requires_grad_()
    labels = torch.full((2, 50), -100)
    labels[:, ::3] = torch.randint(OFFSET, OFFSET + VIDEO_VOCAB, (2, 17), generator=g)
    labels[0, 1] = 8803  # a new-line label is never scored
    labels[1, 2] = 1234  # nor a text label
    return hidden, weight, labels


@pytest.mark.parametrize("chunk_size", [1, 7, 2000])
@pytest.mark.parametrize("z_loss_weight", [0.0, 1e-3])
def test_equals_full_logits_reference(batch, chunk_size, z_loss_weight):
    hidden, weight, labels = batch
    expected = reference_loss(hidden, weight, labels, z_loss_weight)
    expected_grads = torch.autograd.grad(expected, [hidden, weight])
    loss = visual_cross_entropy(hidden, weight, labels, OFFSET, VIDEO_VOCAB, chunk_size, z_loss_weight=z_loss_weight)
    grads = torch.autograd.grad(loss, [hidden, weight])
    assert torch.allclose(loss, expected, atol=1e-6)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want, atol=1e-6)


def test_num_items_in_batch_sets_the_divisor(batch):
    hidden, weight, labels = batch
    summed = visual_cross_entropy(hidden, weight, labels, OFFSET, VIDEO_VOCAB, num_items_in_batch=1)
    assert torch.allclose(summed, reference_loss(hidden, weight, labels, divisor=1), atol=1e-5)
    scored = int((labels >= OFFSET).sum())
    halved = visual_cross_entropy(
        hidden, weight, labels, OFFSET, VIDEO_VOCAB, num_items_in_batch=torch.tensor(2 * scored)
    )
    assert torch.allclose(halved * 2, visual_cross_entropy(hidden, weight, labels, OFFSET, VIDEO_VOCAB), atol=1e-6)


def test_nothing_scored_gives_zero_with_gradient(batch):
    hidden, weight, _ = batch
    loss = visual_cross_entropy(hidden, weight, torch.full((2, 50), -100), OFFSET, VIDEO_VOCAB)
    loss.backward()
    assert loss.item() == 0.0 and hidden.grad is not None


def test_bad_labels(batch):
    hidden, weight, labels = batch
    with pytest.raises(ValueError, match="labels must have shape"):
        visual_cross_entropy(hidden, weight, labels[:, :10], OFFSET, VIDEO_VOCAB)
    labels[0, 0] = OFFSET + VIDEO_VOCAB
    with pytest.raises(ValueError, match="video_token_offset"):
        visual_cross_entropy(hidden, weight, labels, OFFSET, VIDEO_VOCAB)


def test_model_loss_is_unshifted_and_matches_reference():
    torch.manual_seed(0)
    config = LumosConfig(
        hidden_size=64, intermediate_size=96, num_hidden_layers=1, num_attention_heads=2, video_vocab_size=64
    )
    model = LumosForVideoGeneration(config)
    frame = [8197, 8805, 8805, *([OFFSET + 5] * 4 + [8803]) * 4, 8196]
    ids = torch.tensor([[0, 300, 8710, 9004, 8805, 8805, *frame, 9005, 8710]])
    labels = torch.where(ids >= OFFSET, ids, -100)
    out = model(ids, labels=labels, num_items_in_batch=7)
    assert out.logits is None
    hidden = model.model(ids).last_hidden_state
    assert torch.allclose(out.loss, reference_loss(hidden, model.lm_head.weight, labels, divisor=7), atol=1e-5)
    with_logits = model(ids, labels=labels, return_logits=True)
    assert with_logits.logits.shape == (1, ids.shape[1], config.vocab_size)
