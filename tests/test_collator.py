"""AR-DF data collator and masking (LUMOS_SPEC 2 and 5) on the official pre-tokenized samples and synthetic ones."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import shared_path
from torch.utils.data import DataLoader

from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.sequence_format import compute_mm_rope_layout, fill_video_placeholders
from lumos_hf.testing import build_tiny_chameleon_tokenizer
from lumos_hf.tokens import (
    BOS_TOKEN_ID,
    FRAME_END_TOKEN_ID,
    FRAME_START_TOKEN_ID,
    MASK_TOKEN_ID,
    NEW_LINE_TOKEN_ID,
    PAD_TOKEN_ID,
    SEP_TOKEN_ID,
    VIDEO_END_TOKEN_ID,
    VIDEO_START_TOKEN_ID,
    VIDEO_TOKEN_OFFSET,
)
from lumos_hf.tokens import OFFICIAL_TOKEN_LAYOUT as LAYOUT
from lumos_hf.training import (
    ARDFDataCollator,
    apply_ardf_mask,
    diffusion_forcing_mask,
    frame_content_positions,
    sample_mask_ratios,
    tube_mask,
)


def crop_frames(input_ids: list[int], num_frames: int) -> list[int]:
    """Keep the header and the first `num_frames` frames of a video sequence, then close it with [9005, 8710]."""
    ids = torch.tensor(input_ids)
    end = int((ids == FRAME_END_TOKEN_ID).nonzero()[num_frames - 1])
    return input_ids[: end + 1] + [VIDEO_END_TOKEN_ID, SEP_TOKEN_ID]


@pytest.fixture(scope="module")
def official() -> list[dict]:
    path = shared_path("data", "pretokenized", "official_samples.jsonl")
    samples = [json.loads(line) for line in path.read_text().splitlines()]
    for sample in samples:  # crop the ~90k-token videos to 3 frames (labels follow: they are only length-checked)
        if sample["kind"] == "video":
            sample["input_ids"] = crop_frames(sample["input_ids"], 3)
            sample["labels"] = sample["labels"][: len(sample["input_ids"]) - 2] + [VIDEO_END_TOKEN_ID, SEP_TOKEN_ID]
    return samples


def make_sample(
    num_frames: int, rows: int, cols: int, text_length: int = 5, seed: int = 0, duration: int = 2, fps: int = 12
) -> list[int]:
    """Our processor's format: [0] + text + [8710] + [9004, size(d), size(fps)] + frames + [9005, 8710].

    A frame of size(rows) x size(cols) (units of 32 px) holds 4*rows lines of 4*cols video tokens and a new line.
    """
    generator = torch.Generator().manual_seed(seed)
    text = (torch.randint(16399, 30000, (text_length,), generator=generator)).tolist()
    ids = [
        BOS_TOKEN_ID,
        *text,
        SEP_TOKEN_ID,
        VIDEO_START_TOKEN_ID,
        LAYOUT.size_token(duration),
        LAYOUT.size_token(fps),
    ]
    for _ in range(num_frames):
        tokens = torch.randint(
            VIDEO_TOKEN_OFFSET, VIDEO_TOKEN_OFFSET + 64000, (4 * rows, 4 * cols), generator=generator
        )
        lines = torch.cat([tokens, torch.full((4 * rows, 1), NEW_LINE_TOKEN_ID)], dim=1)
        ids += [FRAME_START_TOKEN_ID, LAYOUT.size_token(rows), LAYOUT.size_token(cols), *lines.flatten().tolist()]
        ids.append(FRAME_END_TOKEN_ID)
    return [*ids, VIDEO_END_TOKEN_ID, SEP_TOKEN_ID]


def frame_grid(input_ids: torch.Tensor) -> torch.Tensor:
    """`[F, N]` content tokens of each frame of one sequence."""
    return input_ids[frame_content_positions(input_ids)]


def test_fill_video_placeholders_official(official):
    video, image = official[0], official[2]
    assert video["input_ids"][21] == 65539 and video["input_ids"][25] == 65540
    filled = fill_video_placeholders(torch.tensor(video["input_ids"]))
    # "... consisting of 84 frames at 12 frames per second": size(7) seconds x size(12) fps
    assert filled[21:23].tolist() == LAYOUT.number_token_ids(84) and filled[26:28].tolist() == LAYOUT.number_token_ids(
        12
    )
    assert filled.shape[0] == len(video["input_ids"]) + 2
    assert filled[28:].tolist() == video["input_ids"][26:]
    filled_image = fill_video_placeholders(torch.tensor(image["input_ids"]))
    assert (
        filled_image[21].tolist() == LAYOUT.number_token_ids(1)[0]
        and filled_image[25] == LAYOUT.number_token_ids(1)[0]
    )
    assert filled_image.shape[0] == len(image["input_ids"])
    ours = torch.tensor(make_sample(2, 1, 2))  # our processor already wrote the numbers: no-op
    assert torch.equal(fill_video_placeholders(ours), ours)


def test_fill_video_placeholders_keeps_video_tokens():
    """Inside frames, 65539 / 65540 are the video tokens of FSQ indices 3 and 4, not placeholders."""
    ids = make_sample(2, 1, 1)
    first_content = ids.index(FRAME_START_TOKEN_ID) + 3
    ids[first_content : first_content + 2] = [65539, 65540]
    ids[2] = 65539  # one placeholder in the text
    filled = fill_video_placeholders(torch.tensor(ids))
    assert filled[2:4].tolist() == LAYOUT.number_token_ids(24)
    assert filled[first_content + 1 : first_content + 3].tolist() == [65539, 65540]


@pytest.mark.parametrize("seed", range(4))
def test_tube_mask_same_positions_in_every_frame(official, seed):
    collator = ARDFDataCollator(seed=seed, text_drop_prob=0.0)
    batch = collator([official[0], official[1]])
    for row, sample in zip(batch["input_ids"], official[:2]):
        masked = frame_grid(row[row != PAD_TOKEN_ID]) == MASK_TOKEN_ID  # [F, N]
        original = frame_grid(fill_video_placeholders(torch.tensor(sample["input_ids"])))
        assert masked.shape[0] == 3 and (original != MASK_TOKEN_ID).all()
        assert (masked == masked[0]).all()
        num_masked, frame_size = int(masked[0].sum()), masked.shape[1]
        assert num_masked >= max(round(frame_size * 0.7), 1) and num_masked / frame_size >= 0.7 - 0.5 / frame_size


def test_mask_ratio_schedule():
    generator = torch.Generator().manual_seed(0)
    ratios = sample_mask_ratios(20000, generator)
    assert ratios.min() >= 0.7 and ratios.max() <= 1
    # P(cos(pi/2 u) < 0.7) = 1 - 2/pi * acos(0.7) of the draws sit exactly at the clip
    clipped = 1 - 2 / math.pi * math.acos(0.7)
    assert abs(float((ratios == 0.7).float().mean()) - clipped) < 0.02
    unclipped = sample_mask_ratios(20000, generator, min_masking_rate=0.0)
    assert abs(float(unclipped.mean()) - 2 / math.pi) < 0.01  # E[cos(pi/2 u)] = 2/pi
    constant = sample_mask_ratios(8, generator, schedule=lambda u: torch.full_like(u, 0.9))  # injectable
    assert torch.equal(constant, torch.full((8,), 0.9))
    with pytest.raises(ValueError, match="schedule"):
        sample_mask_ratios(4, generator, schedule=lambda u: u + 1.0)


def test_tube_mask_counts():
    mask = tube_mask(4, 85, 0.5, torch.Generator().manual_seed(0))
    assert mask.shape == (4, 85) and (mask == mask[0]).all() and int(mask[0].sum()) == round(85 * 0.5)
    assert tube_mask(2, 3, 0.0).sum(-1).tolist() == [1, 1]  # at least one position
    with pytest.raises(ValueError, match=r"mask_ratio must be in \[0, 1\]"):
        tube_mask(2, 3, 1.5)
    with pytest.raises(ValueError, match="num_frames and frame_size must be >= 1"):
        tube_mask(0, 3, 0.5)
    with pytest.raises(TypeError, match=r"input_ids must be a 1D torch.long tensor"):
        apply_ardf_mask(make_sample(1, 1, 1))


def test_labels_score_only_masked_video_tokens(official):
    collator = ARDFDataCollator(seed=1, text_drop_prob=0.0)
    batch = collator(official)
    for row, labels, sample in zip(batch["input_ids"], batch["labels"], official):
        original = fill_video_placeholders(torch.tensor(sample["input_ids"]))
        length = original.shape[0]
        row, labels = row[:length], labels[:length]
        layout = compute_mm_rope_layout(original[None])
        visual = layout.visual_mask[0]
        masked = row == MASK_TOKEN_ID
        assert not (masked & ~visual).any()  # only content tokens are masked
        assert torch.equal(row[~masked], original[~masked])  # everything else is untouched
        scored = labels != -100
        assert torch.equal(scored, masked & (original >= VIDEO_TOKEN_OFFSET))
        assert torch.equal(labels[scored], original[scored])
        # new-line tokens may be masked in the input but are never scored; text and framing never either
        new_lines = visual & (original == NEW_LINE_TOKEN_ID)
        assert not scored[new_lines].any() and not scored[~visual].any()
        assert int(scored.sum()) > 0
    assert (batch["labels"][batch["labels"] != -100] >= VIDEO_TOKEN_OFFSET).all()  # the loss' contract


def test_new_line_tokens_are_masked_but_not_scored():
    ids = torch.tensor(make_sample(2, 1, 1))
    masked, labels = apply_ardf_mask(ids, mask_ratio=1.0)
    visual = compute_mm_rope_layout(ids[None]).visual_mask[0]
    assert (masked[visual] == MASK_TOKEN_ID).all()
    assert torch.equal(labels != -100, visual & (ids != NEW_LINE_TOKEN_ID))


def test_cfg_drop_removes_exactly_the_text(official):
    batch = ARDFDataCollator(seed=0, text_drop_prob=1.0)(official)
    for row, attention, sample in zip(batch["input_ids"], batch["attention_mask"], official):
        original = fill_video_placeholders(torch.tensor(sample["input_ids"]))
        start = int((original == VIDEO_START_TOKEN_ID).nonzero()[0])
        expected = original[start:] if sample["kind"] == "video" else original  # images keep their text
        row = row[attention.bool()]
        assert row.shape == expected.shape
        assert torch.equal(row[row != MASK_TOKEN_ID], expected[row != MASK_TOKEN_ID])
        assert row[0] == (VIDEO_START_TOKEN_ID if sample["kind"] == "video" else BOS_TOKEN_ID)
    images = ARDFDataCollator(seed=0, text_drop_prob=1.0, text_drop_images=True)(official[2:])
    assert (images["input_ids"][:, 0] == VIDEO_START_TOKEN_ID).all()


def test_cfg_drop_rate():
    features = [{"input_ids": make_sample(2, 1, 1, text_length=3)}] * 1000
    batch = ARDFDataCollator(seed=0)(features)
    dropped = (batch["input_ids"][:, 0] == VIDEO_START_TOKEN_ID).float().mean()
    assert abs(float(dropped) - 0.1) < 0.03  # binomial sd 0.0095
    assert not (
        ARDFDataCollator(seed=0, text_drop_prob=0.0)(features)["input_ids"][:, 0] == VIDEO_START_TOKEN_ID
    ).any()


def test_padding_never_leaks_into_attention(official):
    features = [official[2], {"input_ids": make_sample(3, 1, 2, text_length=9)}, official[0]]  # mixed resolutions
    collator = ARDFDataCollator(seed=0, text_drop_prob=0.0, pad_to_multiple_of=64)
    batch = collator(features)
    lengths = [len(official[2]["input_ids"]), len(features[1]["input_ids"]), len(official[0]["input_ids"]) + 2]
    assert batch["input_ids"].shape == (3, -(-max(lengths) // 64) * 64)
    assert all(value.dtype == torch.long for value in batch.values()) and set(batch) == {
        "input_ids",
        "attention_mask",
        "labels",
    }
    assert batch["attention_mask"].sum(-1).tolist() == lengths
    padding = batch["attention_mask"] == 0
    assert (batch["input_ids"][padding] == PAD_TOKEN_ID).all() and (batch["labels"][padding] == -100).all()
    assert (batch["attention_mask"].diff(dim=-1) <= 0).all()  # right padding: ones then zeros
    # the model's layout of the padded batch equals each sample's own layout on its real tokens
    layout = compute_mm_rope_layout(batch["input_ids"], batch["attention_mask"])
    for index, length in enumerate(lengths):
        alone = compute_mm_rope_layout(batch["input_ids"][index : index + 1, :length])
        assert torch.equal(layout.position_ids[:, index, :length], alone.position_ids[:, 0])
        assert torch.equal(layout.visual_mask[index, :length], alone.visual_mask[0])
        assert not layout.visual_mask[index, length:].any() and (layout.frame_ids[index, length:] == -1).all()


def test_seeded_and_reproducible(official):
    first, second = ARDFDataCollator(seed=3), ARDFDataCollator(seed=3)
    for _ in range(2):
        a, b = first(official), second(official)
        assert all(torch.equal(a[key], b[key]) for key in a)
    assert not torch.equal(first(official)["input_ids"], ARDFDataCollator(seed=3)(official)["input_ids"])  # advances
    assert not torch.equal(
        ARDFDataCollator(seed=4)(official)["input_ids"], ARDFDataCollator(seed=3)(official)["input_ids"]
    )


def test_dataloader_workers_do_not_repeat_masks():
    features = [{"input_ids": make_sample(2, 1, 2)}] * 4

    def masks(seed: int) -> list[torch.Tensor]:
        loader = DataLoader(
            features,
            batch_size=1,
            num_workers=2,
            collate_fn=ARDFDataCollator(seed=0, text_drop_prob=0.0),
            generator=torch.Generator().manual_seed(seed),
            multiprocessing_context="fork",
        )
        return [batch["input_ids"][0] for batch in loader]

    run = masks(0)
    assert not torch.equal(run[0], run[1])  # batches 0 and 1 come from workers 0 and 1
    assert all(torch.equal(a, b) for a, b in zip(run, masks(0)))  # reproducible with a seeded loader
    assert not all(torch.equal(a, b) for a, b in zip(run, masks(1)))  # a new epoch's base seed gives new masks


def test_random_mode():
    ids = torch.tensor(make_sample(4, 2, 2))
    masked, labels = apply_ardf_mask(ids, "random", mask_ratio=0.5, generator=torch.Generator().manual_seed(0))
    grid = frame_grid(masked) == MASK_TOKEN_ID
    assert not (grid == grid[0]).all()  # positions differ between frames
    assert abs(float(grid.float().mean()) - 0.5) < 0.05
    assert torch.equal(labels != -100, (masked == MASK_TOKEN_ID) & (ids >= VIDEO_TOKEN_OFFSET))


def test_diffusion_forcing_mode():
    ids = torch.tensor(make_sample(6, 1, 2))
    masked, _ = apply_ardf_mask(ids, "diffusion_forcing", generator=torch.Generator().manual_seed(0))
    grid = frame_grid(masked) == MASK_TOKEN_ID  # [6, 36]
    counts = grid.sum(-1)
    assert (counts >= round(36 * 0.7)).all() and len(set(counts.tolist())) > 1  # independent ratio per frame
    assert not (grid == grid[0]).all()  # independent positions per frame
    mask = diffusion_forcing_mask(torch.tensor([0.25, 0.5, 1.0]), 8, torch.Generator().manual_seed(0))
    assert mask.sum(-1).tolist() == [2, 4, 8]


@pytest.mark.parametrize("mode", ["tube", "random", "diffusion_forcing"])
def test_collator_modes_end_to_end(official, mode):
    batch = ARDFDataCollator(masking_mode=mode, seed=0)(official)
    scored = batch["labels"] != -100
    assert scored.any(-1).all() and (batch["input_ids"][scored] == MASK_TOKEN_ID).all()


def test_full_official_samples():
    """The uncropped ~90k-token videos and the images, as read from disk."""
    path = shared_path("data", "pretokenized", "official_samples.jsonl")
    features = [json.loads(line) for line in path.read_text().splitlines()]
    batch = ARDFDataCollator(seed=0, text_drop_prob=0.0)(features)
    assert batch["attention_mask"].sum(-1).tolist() == [
        len(f["input_ids"]) + (2 if f["kind"] == "video" else 0) for f in features
    ]
    grid = frame_grid(batch["input_ids"][0, : batch["attention_mask"][0].sum()]) == MASK_TOKEN_ID
    assert grid.shape == (22, 48 * 85) and (grid == grid[0]).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"masking_mode": "block"}, ValueError, "masking_mode must be one of"),
        ({"min_masking_rate": 1.5}, ValueError, r"min_masking_rate must be in \[0, 1\]"),
        ({"text_drop_prob": -0.1}, ValueError, r"text_drop_prob must be in \[0, 1\]"),
        ({"pad_to_multiple_of": 0}, ValueError, "pad_to_multiple_of must be None or a positive int"),
        ({"max_length": -3}, ValueError, "max_length must be None or a positive int"),
        ({"mask_ratio_schedule": 0.5}, TypeError, "mask_ratio_schedule must be a callable"),
        ({"seed": "0"}, TypeError, "seed must be None or an int"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ARDFDataCollator(**kwargs)


def _truncated() -> list[int]:
    ids = make_sample(2, 1, 1)
    return ids[: ids.index(FRAME_END_TOKEN_ID) - 3]


def _unequal_frames() -> list[int]:
    small, large = make_sample(1, 1, 1), make_sample(1, 1, 2)
    frame = large[large.index(FRAME_START_TOKEN_ID) : large.index(FRAME_END_TOKEN_ID) + 1]
    return small[:-2] + frame + small[-2:]


@pytest.mark.parametrize(
    ("features", "error", "match"),
    [
        ([], ValueError, "at least one sample"),
        ([[1, 2, 3]], TypeError, r"features\[0\] must be a mapping with 'input_ids'"),
        ([{"input_ids": [[0, 1]]}], ValueError, r"features\[0\]\['input_ids'\] must be one non-empty sequence"),
        ([{"input_ids": [0.0, 1.0]}], TypeError, r"features\[0\]\['input_ids'\] must hold integers"),
        ([{"input_ids": [0, 200000]}], ValueError, r"ids in \[0, 129535\]"),
        ([{"input_ids": make_sample(1, 1, 1), "labels": [-100]}], ValueError, "labels'\\] must have the length"),
        ([{"input_ids": [0, 5, 6, SEP_TOKEN_ID]}], ValueError, r"features\[0\]: .*no frame"),
        ([{"input_ids": _truncated()}], ValueError, r"features\[0\]: .*ends inside a frame"),
        ([{"input_ids": _unequal_frames()}], ValueError, "same size"),
        ([{"input_ids": [0, 65539, SEP_TOKEN_ID]}], ValueError, "no video start token"),
    ],
)
def test_invalid_features(features, error, match):
    with pytest.raises(error, match=match):
        ARDFDataCollator(seed=0)(features)


def test_max_length_is_checked_not_truncated(official):
    length = len(official[0]["input_ids"]) + 2
    ARDFDataCollator(seed=0, text_drop_prob=0.0, max_length=length)([official[0]])
    with pytest.raises(ValueError, match=rf"features\[1\]: {length} tokens exceed max_length={length - 1}"):
        ARDFDataCollator(seed=0, text_drop_prob=0.0, max_length=length - 1)([official[2], official[0]])


def test_processor_interop(official):
    """Our processor's training sequences go through the collator; its placeholder filling agrees with ours."""
    processor = LumosProcessor(build_tiny_chameleon_tokenizer())
    for sample in official:
        ids = torch.tensor(sample["input_ids"])
        assert torch.equal(processor.fill_placeholders(ids)["input_ids"], fill_video_placeholders(ids))
    latents = torch.randint(0, 64000, (3, 4, 8), generator=torch.Generator().manual_seed(0))
    features = [
        processor.build_training_sequence("a cat", latents, fps=12),
        processor.build_training_sequence(None, latents, fps=12),  # already text-dropped
        processor.build_training_sequence("a dog", latents[:1]),
    ]
    batch = ARDFDataCollator(seed=0, text_drop_prob=0.0)(features)
    assert batch["attention_mask"].sum(-1).tolist() == [len(feature["input_ids"]) for feature in features]
    for row, feature in zip(batch["input_ids"], features):
        grid = frame_grid(row[: len(feature["input_ids"])]) == MASK_TOKEN_ID
        assert grid.shape[1] == 4 * 9 and (grid == grid[0]).all()
