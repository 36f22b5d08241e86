"""Training with transformers.Trainer: learning on the official samples, gradient accumulation, gradient
checkpointing, bf16, resume from a checkpoint, and the stage recipes (LUMOS_SPEC 5)."""

from __future__ import annotations

import json

import datasets
import pytest
import torch
from conftest import shared_path
from transformers import Trainer
from utils import synthetic_samples, tiny_model

from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.testing import build_tiny_chameleon_tokenizer
from lumos_hf.tokens import SEP_TOKEN_ID, VIDEO_END_TOKEN_ID, VIDEO_START_TOKEN_ID
from lumos_hf.training import ARDFDataCollator
from lumos_hf.training.recipes import (
    LUMOS_OPTIMIZER_DEFAULTS,
    STAGE_RECIPES,
    LumosTrainingArguments,
    ModelArguments,
    ResumableARDFCollator,
    build_collator,
    build_model,
    load_training_dataset,
    parse_config_overrides,
    prepare_stage_dataset,
    sample_kind,
)


def crop_official_sample(input_ids: list[int], num_frames: int, rows: int, cols: int) -> list[int]:
    """The text and video header of an official sample, then the top-left `rows x cols` latents of its first
    `num_frames` frames (size tokens rewritten), then [9005, 8710]. The text still states the original resolution."""
    processor = LumosProcessor(build_tiny_chameleon_tokenizer())
    ids = torch.tensor(input_ids)
    start = int((ids == VIDEO_START_TOKEN_ID).nonzero()[0])
    grids = processor.parse_video_tokens(ids)[0][:num_frames, :rows, :cols]
    tail = torch.tensor([VIDEO_END_TOKEN_ID, SEP_TOKEN_ID])
    return torch.cat([ids[: start + 3], processor.video_tokens(grids), tail]).tolist()


def training_args(output_dir, **kwargs) -> LumosTrainingArguments:
    defaults = {
        "per_device_train_batch_size": 2,
        "learning_rate": 1e-3,
        "lr_scheduler_type": "constant",
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    return LumosTrainingArguments(output_dir=str(output_dir), **{**defaults, **kwargs})


def make_trainer(model, args, samples: list[dict], collator=None) -> Trainer:
    """A Trainer with the stage collator of `args` (registered as a callback too, as the examples do)."""
    collator = build_collator(args) if collator is None else collator
    callbacks = [collator] if isinstance(collator, ResumableARDFCollator) else None
    return Trainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(samples),
        data_collator=collator,
        callbacks=callbacks,
    )


def step_losses(trainer: Trainer) -> dict[int, float]:
    return {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}


@pytest.fixture(scope="module")
def official_cropped() -> list[dict]:
    path = shared_path("data", "pretokenized", "official_samples.jsonl")
    samples = [json.loads(line) for line in path.read_text().splitlines()]
    return [{"input_ids": crop_official_sample(s["input_ids"], 2, 4, 8), "kind": s["kind"]} for s in samples]


def test_trainer_lowers_the_loss_on_the_official_samples(tmp_path, official_cropped):
    model = tiny_model(video_vocab_size=64000)  # the official ids span the whole 64,000-token video vocabulary
    eval_batch = ARDFDataCollator(seed=123, text_drop_prob=0.0)(official_cropped)

    def eval_loss() -> float:
        with torch.no_grad():
            return model(**eval_batch).loss.item()

    before = eval_loss()
    args = training_args(tmp_path, max_steps=20, per_device_train_batch_size=5, learning_rate=1e-2)
    trainer = make_trainer(model, args, official_cropped)
    trainer.train()
    after = eval_loss()
    losses = list(step_losses(trainer).values())
    assert before > 10.5  # ~ln(64000) at initialisation
    assert after < before - 3.0, (before, after)
    assert sum(losses[-5:]) / 5 < losses[0] - 3.0, losses


def _trained_weights(tmp_path, name: str, batch_size: int, accumulation: int) -> dict[str, torch.Tensor]:
    model = tiny_model()
    args = training_args(
        tmp_path / name,
        max_steps=1,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        optim="sgd",
        learning_rate=1.0,
        max_grad_norm=0.0,
    )
    collator = ARDFDataCollator(seed=0, text_drop_prob=0.0)  # same draws per sample whatever the micro-batching
    trainer = make_trainer(model, args, synthetic_samples(4), collator)
    trainer.train()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_gradient_accumulation_matches_one_large_batch(tmp_path):
    """With num_items_in_batch, 2 micro-batches of 2 give the gradient of one batch of 4 (samples of different
    lengths and mask counts: a per-micro-batch mean would differ). SGD makes the update the gradient itself."""
    large = _trained_weights(tmp_path, "large", batch_size=4, accumulation=1)
    accumulated = _trained_weights(tmp_path, "accumulated", batch_size=2, accumulation=2)
    initial = dict(tiny_model().named_parameters())
    assert not torch.equal(large["lm_head.weight"], initial["lm_head.weight"])
    for name, weight in large.items():
        torch.testing.assert_close(accumulated[name], weight, atol=1e-6, rtol=1e-5, msg=name)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients():
    batch = ARDFDataCollator(seed=0)(synthetic_samples(3))
    results = []
    for checkpointing in (False, True):
        model = tiny_model()
        model.train()
        if checkpointing:
            model.activation_checkpointing_enable()
        loss = model(**batch).loss
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    torch.testing.assert_close(results[1][0], results[0][0])
    assert results[0][1].keys() == results[1][1].keys()
    for name, grad in results[0][1].items():
        torch.testing.assert_close(results[1][1][name], grad, atol=1e-6, rtol=1e-5, msg=name)


def test_trainer_bf16_with_gradient_checkpointing(tmp_path):
    args = training_args(tmp_path, max_steps=3, bf16=True, activation_checkpointing=True)
    trainer = make_trainer(tiny_model(), args, synthetic_samples(6))
    trainer.train()
    losses = step_losses(trainer)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert trainer.model.is_activation_checkpointing


def test_resume_from_checkpoint_continues_with_identical_losses(tmp_path):
    """8 samples in batches of 2: the checkpoint at step 3 lies mid-epoch and steps 5-6 are in the second epoch."""
    samples = synthetic_samples(8)

    def run(resume: str | None = None) -> dict[int, float]:
        args = training_args(tmp_path / "run", max_steps=6, save_strategy="steps", save_steps=3)
        trainer = make_trainer(tiny_model(), args, samples)
        trainer.train(resume_from_checkpoint=resume)
        return step_losses(trainer)

    full = run()
    resumed = run(resume=str(tmp_path / "run" / "checkpoint-3"))
    assert sorted(full) == sorted(resumed) == [1, 2, 3, 4, 5, 6]  # the log history comes with the checkpoint
    assert len(set(full.values())) == 6
    for step in (4, 5, 6):
        assert resumed[step] == pytest.approx(full[step], rel=1e-6, abs=1e-7), step


# ----------------------------------------------------------------------------------------------------------------
# Recipes


def test_training_arguments_default_to_the_paper_recipe(tmp_path):
    args = LumosTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    for name, value in LUMOS_OPTIMIZER_DEFAULTS.items():
        assert getattr(args, name) == value, name
    assert (args.learning_rate, args.adam_beta1, args.adam_beta2, args.weight_decay, args.max_grad_norm) == (
        5e-5,
        0.9,
        0.95,
        0.1,
        4.0,
    )
    assert args.stage == "joint" and args.masking_mode == "tube" and args.min_masking_rate == 0.7
    with pytest.raises(ValueError, match="stage"):
        LumosTrainingArguments(output_dir=str(tmp_path), stage="video", report_to="none", use_cpu=True)


def test_stage_collators(tmp_path):
    image = build_collator(training_args(tmp_path, stage="image"))
    joint = build_collator(training_args(tmp_path, stage="joint", text_drop_prob=0.2, masking_mode="random"))
    assert image.collator.text_drop_images and image.collator.text_drop_prob == 0.1
    assert not joint.collator.text_drop_images and joint.collator.text_drop_prob == 0.2
    assert joint.collator.masking_mode == "random" and joint.seed == 0


def test_resumable_collator_depends_on_seed_epoch_and_content():
    samples = synthetic_samples(4)
    collator = ResumableARDFCollator(ARDFDataCollator(), seed=0)
    first = collator(samples[:2])
    assert torch.equal(collator(samples[:2])["labels"], first["labels"])  # no hidden state: replayable
    assert not torch.equal(ResumableARDFCollator(ARDFDataCollator(), seed=1)(samples[:2])["labels"], first["labels"])
    collator.epoch = 1
    assert not torch.equal(collator(samples[:2])["labels"], first["labels"])
    with pytest.raises(TypeError, match="ARDFDataCollator"):
        ResumableARDFCollator(object())


def test_stage_datasets_and_official_files():
    path = shared_path("data", "pretokenized", "official_samples.jsonl")
    dataset = load_training_dataset(path)
    assert len(dataset) == 5 and "input_ids" in dataset.column_names
    kinds = [sample_kind(row) for row in dataset]
    assert kinds == list(dataset["kind"]) == ["video", "video", "image", "image", "image"]
    assert len(prepare_stage_dataset(dataset, "image")) == 3
    assert len(prepare_stage_dataset(dataset, "joint")) == 5
    assert len(prepare_stage_dataset(dataset, "joint", max_length=5000)) == 3
    assert len(prepare_stage_dataset(dataset, "joint", max_samples=2)) == 2
    # Without a kind column, the frame tokens decide.
    assert sample_kind({"input_ids": synthetic_samples(2)[1]["input_ids"]}) == "video"
    streamed = load_training_dataset(path, streaming=True)
    assert isinstance(streamed, datasets.IterableDataset)
    assert len(list(prepare_stage_dataset(streamed, "image"))) == 3
    assert set(STAGE_RECIPES) == {"image", "joint"}
    with pytest.raises(ValueError, match="stage"):
        prepare_stage_dataset(dataset, "video")
    with pytest.raises(FileNotFoundError):
        load_training_dataset(path.parent / "missing.jsonl")
    with pytest.raises(ValueError, match="must be one of"):
        load_training_dataset(shared_path("data", "videos", "captions.json").parent / "duckling.mp4")


def test_build_model_from_a_preset_with_overrides():
    assert parse_config_overrides("hidden_size=64, mm_rope=false,z_loss_weight=1e-4,hidden_act=silu") == {
        "hidden_size": 64,
        "mm_rope": False,
        "z_loss_weight": 1e-4,
        "hidden_act": "silu",
    }
    overrides = "hidden_size=64,intermediate_size=128,num_hidden_layers=2,num_attention_heads=2,head_dim=32"
    model = build_model(ModelArguments(config_name="lumos-1-1b", config_overrides=overrides))
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == 129536
    assert model.config._attn_implementation == "sdpa"
    with pytest.raises(ValueError, match="key=value"):
        parse_config_overrides("hidden_size")
    with pytest.raises(ValueError, match="model_name_or_path"):
        build_model(ModelArguments())
    with pytest.raises(ValueError, match="not both"):
        build_model(ModelArguments(model_name_or_path="x", config_name="lumos-1-1b"))
