"""ARDFScheduler: per-frame masked discrete diffusion (LUMOS_SPEC 7 step 2)."""

from __future__ import annotations

import math

import pytest
import torch

from lumos_hf.scheduling_ardf import ARDFScheduler, ARDFSchedulerOutput

NUM_TOKENS, VOCAB = 96, 64


def make_logits(batch_size: int = 2, seed: int = 0, num_tokens: int = NUM_TOKENS) -> torch.Tensor:
    return 3 * torch.randn(batch_size, num_tokens, VOCAB, generator=torch.Generator().manual_seed(seed))


def run_frame(scheduler, logits, sample=None, is_masked=None, generator=None):
    """All steps of one frame with fixed logits; returns the final sample and the per-step history."""
    batch_size, num_tokens, _ = logits.shape
    sample = torch.zeros(batch_size, num_tokens, dtype=torch.long) if sample is None else sample
    is_masked = torch.ones(batch_size, num_tokens, dtype=torch.bool) if is_masked is None else is_masked
    history = []
    for step_index in scheduler.timesteps.tolist():
        output = scheduler.step(logits, step_index, sample, is_masked, generator=generator)
        history.append((sample, is_masked, output.prev_sample, output.is_masked))
        sample, is_masked = output.prev_sample, output.is_masked
    return sample, history


@pytest.mark.parametrize(("num_steps", "num_tokens"), [(50, 96), (18, 1024), (8, 40), (1, 12)])
def test_masked_counts_follow_the_cosine_schedule(num_steps, num_tokens):
    scheduler = ARDFScheduler(num_inference_steps=num_steps)
    expected, masked = [], num_tokens
    for n in range(num_steps):
        # float32, as the official code: at (18, 1024), step 11 gives floor(1024 * 0.49999997) = 511, not 512
        ratio = torch.cos(torch.tensor((n + 1) / num_steps) * math.pi * 0.5)
        scheduled = math.floor(num_tokens * ratio)
        masked = 0 if n == num_steps - 1 else max(1, min(scheduled, masked - 1))
        expected.append(masked)
    assert scheduler.masked_counts(num_tokens) == expected
    _, history = run_frame(
        scheduler, make_logits(2, num_tokens=num_tokens), generator=torch.Generator().manual_seed(1)
    )
    observed = [is_masked.sum(dim=-1).tolist() for *_, is_masked in history]
    assert observed == [[count, count] for count in expected]


def test_revealed_tokens_never_change_and_last_step_reveals_all():
    scheduler = ARDFScheduler(num_inference_steps=12)
    logits = make_logits()
    start = torch.randint(0, VOCAB, (2, NUM_TOKENS), generator=torch.Generator().manual_seed(3))
    start_masked = torch.rand(2, NUM_TOKENS, generator=torch.Generator().manual_seed(4)) < 0.7  # some given tokens
    final, history = run_frame(scheduler, logits, start, start_masked, torch.Generator().manual_seed(5))
    for sample, is_masked, prev_sample, still_masked in history:
        assert torch.equal(prev_sample[~is_masked], sample[~is_masked])
        assert not (still_masked & ~is_masked).any()  # a revealed token is never masked again
    assert not history[-1][3].any()
    assert torch.equal(final[~start_masked], start[~start_masked])
    counts = scheduler.masked_counts(NUM_TOKENS, num_masked=int(start_masked[0].sum()))
    assert [int(h[3][0].sum()) for h in history] == counts


def test_rows_with_different_masked_counts_and_nothing_masked():
    scheduler = ARDFScheduler(num_inference_steps=10)
    is_masked = torch.zeros(3, NUM_TOKENS, dtype=torch.bool)
    is_masked[0] = True
    is_masked[1, :5] = True  # row 2: nothing masked
    sample = torch.arange(3 * NUM_TOKENS).view(3, NUM_TOKENS) % VOCAB
    output = scheduler.step(make_logits(3), 0, sample, is_masked, generator=torch.Generator().manual_seed(0))
    assert output.is_masked.sum(dim=-1).tolist() == [94, 4, 0]  # floor(96 * cos(pi / 20)) = 94
    assert torch.equal(output.prev_sample[2], sample[2])


def test_batch_of_generators_equals_separate_runs():
    scheduler = ARDFScheduler(num_inference_steps=6)
    logits = make_logits(3)
    batch, _ = run_frame(scheduler, logits, generator=[torch.Generator().manual_seed(seed) for seed in (7, 8, 9)])
    for row, seed in enumerate((7, 8, 9)):
        alone, _ = run_frame(scheduler, logits[row : row + 1], generator=torch.Generator().manual_seed(seed))
        assert torch.equal(batch[row], alone[0])


def test_deterministic_and_fp32_whatever_the_logits_dtype():
    scheduler = ARDFScheduler(num_inference_steps=5)
    logits = make_logits().to(torch.bfloat16)
    first, _ = run_frame(scheduler, logits, generator=torch.Generator().manual_seed(0))
    again, _ = run_frame(scheduler, logits, generator=torch.Generator().manual_seed(0))
    as_fp32, _ = run_frame(scheduler, logits.float(), generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again) and torch.equal(first, as_fp32)
    other, _ = run_frame(scheduler, logits, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(first, other)


def test_top_k_and_temperature():
    logits = make_logits()
    top_k = ARDFScheduler(num_inference_steps=4, top_k=3)
    final, _ = run_frame(top_k, logits, generator=torch.Generator().manual_seed(0))
    allowed = logits.topk(3, dim=-1).indices
    assert (allowed == final.unsqueeze(-1)).any(dim=-1).all()
    greedy = ARDFScheduler(num_inference_steps=4, temperature=1e-4)
    final, _ = run_frame(greedy, logits, generator=torch.Generator().manual_seed(0))
    assert torch.equal(final, logits.argmax(dim=-1))


def test_without_gumbel_noise_the_least_confident_are_remasked():
    scheduler = ARDFScheduler(num_inference_steps=4, gumbel_temperature=0.0)
    logits = make_logits(1)
    sample = torch.zeros(1, NUM_TOKENS, dtype=torch.long)
    is_masked = torch.ones(1, NUM_TOKENS, dtype=torch.bool)
    output = scheduler.step(logits, 0, sample, is_masked, generator=torch.Generator().manual_seed(0))
    confidence = logits.softmax(-1).gather(-1, output.prev_sample.unsqueeze(-1)).squeeze(-1)
    assert confidence[output.is_masked].max() <= confidence[~output.is_masked].min()


def test_schedules_config_and_return_tuple(tmp_path):
    linear = ARDFScheduler(num_inference_steps=4, mask_schedule="linear")
    assert linear.masked_counts(100) == [75, 50, 25, 0]
    custom = ARDFScheduler(num_inference_steps=4, mask_schedule=lambda progress: 1 - progress**2)
    assert custom.masked_counts(100) == [93, 75, 43, 0] and custom.config.mask_schedule == "custom"
    custom.set_timesteps(2)
    assert custom.timesteps.tolist() == [0, 1] and custom.masked_counts(100) == [75, 0]

    scheduler = ARDFScheduler(num_inference_steps=7, top_k=20, temperature=0.9, gumbel_temperature=0.5)
    scheduler.save_pretrained(tmp_path)
    loaded = ARDFScheduler.from_pretrained(tmp_path)
    assert {k: loaded.config[k] for k in ("num_inference_steps", "top_k", "temperature", "gumbel_temperature")} == {
        "num_inference_steps": 7, "top_k": 20, "temperature": 0.9, "gumbel_temperature": 0.5,
    }  # fmt: skip
    assert loaded.num_inference_steps == 7
    custom.save_pretrained(tmp_path / "custom")
    with pytest.raises(ValueError, match="pass it again"):
        ARDFScheduler.from_pretrained(tmp_path / "custom")
    reloaded = ARDFScheduler.from_pretrained(tmp_path / "custom", mask_schedule=lambda progress: 1 - progress**2)
    assert reloaded.masked_counts(100) == [93, 75, 43, 0]

    logits, sample = make_logits(1), torch.zeros(1, NUM_TOKENS, dtype=torch.long)
    is_masked = torch.ones(1, NUM_TOKENS, dtype=torch.bool)
    output = scheduler.step(logits, 0, sample, is_masked, generator=torch.Generator().manual_seed(0))
    as_tuple = scheduler.step(
        logits, 0, sample, is_masked, generator=torch.Generator().manual_seed(0), return_dict=False
    )
    assert isinstance(output, ARDFSchedulerOutput) and isinstance(as_tuple, tuple)
    assert torch.equal(as_tuple[0], output.prev_sample) and torch.equal(as_tuple[1], output.is_masked)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_inference_steps": 0}, "num_inference_steps must be an int >= 1"),
        ({"mask_schedule": "sigmoid"}, "mask_schedule must be one of"),
        ({"gumbel_temperature": -1.0}, "gumbel_temperature must be a finite float >= 0"),
        ({"top_k": 0}, "top_k must be None or an int >= 1"),
        ({"temperature": 0.0}, "temperature must be a finite float > 0"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ARDFScheduler(**kwargs)


def test_bad_step_inputs():
    scheduler = ARDFScheduler(num_inference_steps=4)
    logits, sample = make_logits(2), torch.zeros(2, NUM_TOKENS, dtype=torch.long)
    is_masked = torch.ones(2, NUM_TOKENS, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"step_index must be in \[0, 3\]"):
        scheduler.step(logits, 4, sample, is_masked)
    with pytest.raises(TypeError, match="step_index must be an int"):
        scheduler.step(logits, torch.tensor(0), sample, is_masked)
    with pytest.raises(ValueError, match="logits must be a float tensor"):
        scheduler.step(logits[0], 0, sample, is_masked)
    with pytest.raises(ValueError, match="sample must be an integer tensor"):
        scheduler.step(logits, 0, sample[:, :5], is_masked)
    with pytest.raises(ValueError, match="is_masked must be a bool tensor"):
        scheduler.step(logits, 0, sample, is_masked.long())
    with pytest.raises(ValueError, match="video-vocabulary indices"):
        scheduler.step(logits, 0, sample + VOCAB, ~is_masked)
    with pytest.raises(ValueError, match="list of B = 2"):
        scheduler.step(logits, 0, sample, is_masked, generator=[torch.Generator()])


def test_sampling_follows_the_distribution_and_skips_zero_probabilities():
    from lumos_hf.scheduling_ardf import inverse_cdf_sample, uniform_per_row

    probs = torch.tensor([0.1, 0.0, 0.6, 0.3]).expand(2, 50000, 4)
    gens = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)]
    draws = inverse_cdf_sample(probs, uniform_per_row(2, (50000,), gens, "cpu"))
    frequencies = torch.bincount(draws.flatten(), minlength=4) / draws.numel()
    assert frequencies[1] == 0
    assert torch.allclose(frequencies, torch.tensor([0.1, 0.0, 0.6, 0.3]), atol=0.01)
    again = inverse_cdf_sample(probs[:1], uniform_per_row(1, (50000,), torch.Generator().manual_seed(1), "cpu"))
    assert torch.equal(again, draws[1:])  # one generator per row gives that row's own draws


def test_logits_at_the_masked_positions_only_give_the_same_step():
    scheduler = ARDFScheduler(num_inference_steps=4)
    logits = make_logits(2)
    sample = torch.randint(0, VOCAB, (2, NUM_TOKENS), generator=torch.Generator().manual_seed(1))
    is_masked = torch.zeros(2, NUM_TOKENS, dtype=torch.bool)
    is_masked[0, ::3] = True
    is_masked[1, 1::4] = True
    positions = is_masked.any(0).nonzero().squeeze(-1)
    full = scheduler.step(logits, 1, sample, is_masked, torch.Generator().manual_seed(0), return_dict=False)
    kept = scheduler.step(
        logits[:, positions], 1, sample, is_masked, torch.Generator().manual_seed(0), False, positions=positions
    )
    assert torch.equal(full[0], kept[0]) and torch.equal(full[1], kept[1])
    with pytest.raises(ValueError, match="every position that is still masked"):
        scheduler.step(logits[:, positions[1:]], 1, sample, is_masked, positions=positions[1:])
    with pytest.raises(ValueError, match="one row per position"):
        scheduler.step(logits, 1, sample, is_masked, positions=positions)


@pytest.mark.parametrize("config", [{}, {"top_k": 5, "temperature": 0.7}])
def test_rows_sampled_in_chunks_equal_one_pass(monkeypatch, config):
    import lumos_hf.scheduling_ardf as scheduling

    scheduler = ARDFScheduler(num_inference_steps=4, **config)
    logits = make_logits(2).to(torch.bfloat16)
    sample = torch.randint(0, VOCAB, (2, NUM_TOKENS), generator=torch.Generator().manual_seed(1))
    is_masked = torch.rand(2, NUM_TOKENS, generator=torch.Generator().manual_seed(2)) < 0.6
    positions = is_masked.any(0).nonzero().squeeze(-1)
    assert len(positions) * 2 % 7 != 0  # the last chunk is shorter
    outputs = []
    for chunk_rows in (10**6, 7):  # one chunk of all rows; chunks of 7 rows with a shorter last one
        monkeypatch.setattr(scheduling, "SAMPLING_CHUNK_ELEMENTS", chunk_rows * VOCAB)
        generator = torch.Generator().manual_seed(0)
        outputs.append(
            scheduler.step(logits[:, positions], 1, sample, is_masked, generator, False, positions=positions)
        )
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])


def test_step_with_nothing_masked_and_no_positions():
    scheduler = ARDFScheduler(num_inference_steps=4)
    sample = torch.randint(0, VOCAB, (2, NUM_TOKENS), generator=torch.Generator().manual_seed(1))
    is_masked = torch.zeros(2, NUM_TOKENS, dtype=torch.bool)
    positions = torch.empty(0, dtype=torch.long)
    prev_sample, still_masked = scheduler.step(
        make_logits(2)[:, positions], 1, sample, is_masked, None, False, positions
    )
    assert torch.equal(prev_sample, sample) and not still_masked.any()
