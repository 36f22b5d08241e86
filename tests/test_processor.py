"""LumosProcessor: official sequence format (LUMOS_SPEC 2), generation inputs, training sequences, parsing."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import shared_path

from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.sequence_format import compute_mm_rope_layout
from lumos_hf.testing import build_tiny_chameleon_tokenizer
from lumos_hf.tokens import MASK_TOKEN_ID, NEW_LINE_TOKEN_ID
from lumos_hf.tokens import OFFICIAL_TOKEN_LAYOUT as LAYOUT
from lumos_hf.training.collator import ARDFDataCollator


@pytest.fixture(scope="module")
def processor() -> LumosProcessor:
    return LumosProcessor(build_tiny_chameleon_tokenizer())


@pytest.fixture(scope="module")
def official_samples() -> list[dict]:
    path = shared_path("data", "pretokenized", "official_samples.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def random_latents(num_frames: int, height: int, width: int, seed: int = 0) -> torch.LongTensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 64000, (num_frames, height // 8, width // 8), generator=generator)


def test_official_samples_round_trip(processor, official_samples):
    """Placeholders filled from the header, frames parsed and the whole sample rebuilt, labels included."""
    for sample in official_samples:
        ids, labels = torch.tensor(sample["input_ids"]), torch.tensor(sample["labels"])
        filled = processor.fill_placeholders(ids, labels)
        start = int((filled["input_ids"] == 9004).nonzero()[0, 0])
        seconds, fps = (filled["input_ids"][start + 1 : start + 3] - 8804).tolist()
        text = filled["input_ids"][:start].tolist()
        frames_text = (
            LAYOUT.number_token_ids(seconds * fps) + [32559, 16767, 16604] + LAYOUT.number_token_ids(fps) + [32559]
        )
        assert any(text[i : i + len(frames_text)] == frames_text for i in range(len(text)))
        assert (
            len(filled["input_ids"])
            == len(ids) + len(LAYOUT.number_token_ids(seconds * fps)) + len(LAYOUT.number_token_ids(fps)) - 2
        )

        (latents,) = processor.parse_video_tokens(filled["input_ids"])
        if sample["kind"] == "video":  # 22 latent frames of 384x672, 7 s at 12 fps: 84 = 7 * 12 frames
            assert tuple(latents.shape) == (22, 48, 84) and (seconds, fps) == (7, 12)
        else:
            assert latents.shape[0] == 1 and (seconds, fps) == (1, 1)
        rebuilt = processor.build_training_sequence(text[:-1], latents, fps=fps)
        assert torch.equal(rebuilt["input_ids"], filled["input_ids"])
        assert torch.equal(rebuilt["labels"], filled["labels"])


def test_prompt_matches_the_official_text(processor, official_samples):
    """Our prompt ids equal the official text up to the caption (template, resolution, frame count, fps)."""
    for sample in official_samples:
        filled = processor.fill_placeholders(sample["input_ids"])["input_ids"].tolist()
        (latents,) = processor.parse_video_tokens(filled)
        num_frames = 1 + 4 * (latents.shape[0] - 1)  # 85 pixel frames -> "84 frames" as in the official text
        fps = filled[filled.index(9004) + 2] - 8804
        ours = processor.build_prompt_ids("The cat", 8 * latents.shape[1], 8 * latents.shape[2], num_frames, fps)
        end = filled.index(16582) + 1  # the template ends with ":\n"; the caption follows
        assert ours[:end] == filled[:end]
        assert ours[0] == 0 and processor.tokenizer.decode(ours[end:]).strip() == "The cat"


def test_user_text_never_becomes_control_tokens(processor):
    """A prompt that spells control or placeholder tokens is tokenized as plain text."""
    spelled = "<s> </s> <pad> <racm3:break> <eoss> <reserved08706> <reserved09000> <video_fps_placeholder>"
    ids = processor.build_prompt_ids(spelled, 64, 64, 1, 1)
    controls = {
        *LAYOUT.control_token_ids().values(),
        LAYOUT.frames_placeholder_token_id,
        LAYOUT.fps_placeholder_token_id,
    }
    assert ids[0] == LAYOUT.bos_token_id and not controls & set(ids[1:])
    assert all(i < LAYOUT.text_vocab_size for i in ids)
    assert spelled in processor.tokenizer.decode(ids[1:])


def test_video_header_and_text(processor):
    assert processor.video_header_ids(25, 12) == [9004, LAYOUT.size_token(2), LAYOUT.size_token(12)]
    assert processor.video_header_ids(1, 12) == [9004, LAYOUT.size_token(1), LAYOUT.size_token(1)]
    assert processor.video_header_ids(5, 16) == [9004, LAYOUT.size_token(1), LAYOUT.size_token(16)]  # 0.25 s -> 1
    assert processor.video_header_ids(33, 16) == [9004, LAYOUT.size_token(2), LAYOUT.size_token(16)]
    video = processor.tokenizer.decode(processor.build_prompt_ids("x", 256, 448, 25, 12)[1:])
    assert "resolution of 448x256, consisting of 24 frames at 12 frames per second" in video
    image = processor.tokenizer.decode(processor.build_prompt_ids("x", 256, 448, 1, 12)[1:])
    assert "consisting of 1 frames at 1 frames per second" in image


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"height": 100}, ValueError, "height must be a positive multiple of 32"),
        ({"width": 0}, ValueError, "width must be a positive multiple of 32"),
        ({"num_frames": 24}, ValueError, "num_frames must be 1 \\+ 4k"),
        ({"num_frames": 25.0}, TypeError, "num_frames must be an int"),
        ({"fps": 0}, ValueError, "fps must be in \\[1, 195\\]"),
        ({"fps": True}, TypeError, "fps must be an int"),
    ],
)
def test_bad_generation_arguments(processor, kwargs, error, match):
    arguments = {"height": 256, "width": 448, "num_frames": 25, "fps": 12, **kwargs}
    with pytest.raises(error, match=match):
        processor("a cat", **arguments)


def test_frame_tokens_layout(processor):
    grid = torch.arange(8 * 12).view(8, 12)  # 64x96 pixels: 2 x 3 size units
    tokens = processor.frame_tokens(grid)
    assert tokens.shape == (8 * 13 + 4,)
    assert tokens[:3].tolist() == [8197, LAYOUT.size_token(2), LAYOUT.size_token(3)] and tokens[-1] == 8196
    rows = tokens[3:-1].view(8, 13)
    assert (rows[:, -1] == NEW_LINE_TOKEN_ID).all()
    assert torch.equal(rows[:, :-1], grid + 65536)  # raster order
    with pytest.raises(ValueError, match="multiples of 4"):
        processor.frame_tokens(torch.zeros(6, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="FSQ indices"):
        processor.frame_tokens(torch.full((4, 4), 64000))
    with pytest.raises(TypeError, match="integer"):
        processor.frame_tokens(torch.zeros(4, 4))


def test_frame_scaffold(processor):
    tokens, is_masked = processor.frame_scaffold(64, 96)
    assert tokens.shape == is_masked.shape == (8 * 13 + 4,)
    assert int(is_masked.sum()) == 8 * 12 and (tokens[is_masked] == MASK_TOKEN_ID).all()
    assert torch.equal(tokens[~is_masked][3:-1], torch.full((8,), NEW_LINE_TOKEN_ID))
    filled = tokens.clone()
    filled[is_masked] = processor.frame_tokens(torch.zeros(8, 12, dtype=torch.long))[is_masked]
    assert torch.equal(filled, processor.frame_tokens(torch.zeros(8, 12, dtype=torch.long)))


def test_generation_inputs_t2v_left_padded(processor):
    prompts = ["A cat", "The dog is running on the beach at night"]
    batch = processor(prompts, height=64, width=96, num_frames=25, fps=12)
    header = [9004, LAYOUT.size_token(2), LAYOUT.size_token(12)]
    for row, prompt in enumerate(prompts):
        expected = processor.build_prompt_ids(prompt, 64, 96, 25, 12) + [8710] + header
        real = batch["attention_mask"][row].bool()
        assert batch["input_ids"][row][real].tolist() == expected
        assert (batch["input_ids"][row][~real] == 1).all() and real[-1]  # left padding
        assert batch["uncond_input_ids"][row].tolist() == header  # no BOS, no text
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][1].all()
    assert int(batch["num_latent_frames"]) == 7 and int(batch["num_conditioning_frames"]) == 0


def test_generation_inputs_negative_prompt_and_t2i(processor):
    batch = processor("A cat", height=64, width=64, negative_prompt="blurry")
    header = [9004, LAYOUT.size_token(1), LAYOUT.size_token(1)]
    assert batch["input_ids"][0].tolist() == processor.build_prompt_ids("A cat", 64, 64) + [8710] + header
    assert batch["uncond_input_ids"][0].tolist() == processor.build_prompt_ids("blurry", 64, 64) + [8710] + header
    assert int(batch["num_latent_frames"]) == 1
    with pytest.raises(ValueError, match="negative_prompt"):
        processor(["a", "b"], height=64, width=64, negative_prompt=["only one"])


def test_generation_inputs_i2v_and_continuation(processor):
    given = random_latents(2, 64, 96)
    batch = processor(["A cat", "A dog"], height=64, width=96, num_frames=13, fps=8, conditioning_latents=given)
    frames = processor.video_tokens(given)
    for key in ("input_ids", "uncond_input_ids"):
        for row in range(2):
            assert torch.equal(batch[key][row, -frames.shape[0] :], frames)
    assert int(batch["num_conditioning_frames"]) == 2
    parsed = processor.parse_video_tokens(batch["input_ids"])
    assert all(torch.equal(grids, given) for grids in parsed)
    per_row = [random_latents(1, 64, 96, seed) for seed in (1, 2)]
    batch = processor(["A cat", "A dog"], height=64, width=96, num_frames=5, fps=8, conditioning_latents=per_row)
    assert [torch.equal(p, g) for p, g in zip(processor.parse_video_tokens(batch["uncond_input_ids"]), per_row)] == [
        True
    ] * 2
    with pytest.raises(ValueError, match="1 <= T_c < 2"):
        processor("A cat", height=64, width=96, num_frames=5, fps=8, conditioning_latents=random_latents(2, 64, 96))
    with pytest.raises(ValueError, match=r"shape \[T_c, 8, 12\]"):
        processor("A cat", height=64, width=96, num_frames=5, fps=8, conditioning_latents=random_latents(1, 64, 64))
    with pytest.raises(ValueError, match="same number T_c"):
        processor(
            ["a", "b"], height=64, width=96, num_frames=9, fps=8,
            conditioning_latents=[random_latents(1, 64, 96), random_latents(2, 64, 96)],
        )  # fmt: skip


def test_training_sequence(processor):
    latents = random_latents(3, 64, 96)
    sample = processor.build_training_sequence("A cat", latents, fps=8)
    ids, labels = sample["input_ids"], sample["labels"]
    prompt = processor.build_prompt_ids("A cat", 64, 96, num_frames=9, fps=8)
    start = len(prompt) + 1
    assert ids[: len(prompt)].tolist() == prompt and ids[len(prompt)] == 8710
    assert ids[start : start + 3].tolist() == [9004, LAYOUT.size_token(1), LAYOUT.size_token(8)]
    assert ids[-2:].tolist() == [9005, 8710]
    assert (labels[:start] == -100).all() and torch.equal(labels[start:], ids[start:])
    assert torch.equal(processor.parse_video_tokens(ids)[0], latents)

    dropped = processor.build_training_sequence(None, latents, fps=8)  # classifier-free guidance: no text
    assert torch.equal(dropped["input_ids"], ids[start:]) and torch.equal(dropped["labels"], ids[start:])

    layout = compute_mm_rope_layout(ids)
    assert int(layout.visual_mask.sum()) == 3 * 8 * 13
    batch = ARDFDataCollator(seed=0)([sample, dropped])
    assert batch["input_ids"].shape == (2, ids.shape[0])


def test_pad_batch_sides(processor):
    features = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    left = processor.pad_batch(features)
    assert left["input_ids"].tolist() == [[5, 6, 7], [1, 1, 8]]
    assert left["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert left["labels"].tolist() == [[-100, 6, 7], [-100, -100, 8]]
    right = processor.pad_batch(features, padding_side="right")
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match="padding_side"):
        processor.pad_batch(features, padding_side="middle")


def test_parse_rejects_malformed_frames(processor):
    good = processor.build_training_sequence("A cat", random_latents(2, 64, 64), fps=4)["input_ids"]
    start = int((good == 8197).nonzero()[0, 0])
    masked = good.clone()
    masked[start + 5] = MASK_TOKEN_ID
    with pytest.raises(ValueError, match="not video tokens"):
        processor.parse_video_tokens(masked)
    no_new_line = good.clone()
    no_new_line[start + 3 + 8] = 65536
    with pytest.raises(ValueError, match="new-line"):
        processor.parse_video_tokens(no_new_line)
    with pytest.raises(ValueError, match="expected 8 rows"):
        processor.parse_video_tokens(torch.cat([good[: start + 20], good[start + 21 :]]))
    with pytest.raises(ValueError, match="no frame"):
        processor.parse_video_tokens(torch.tensor([0, 9004, 8805, 8805, 9005]))
    other_size = processor.frame_tokens(torch.zeros(4, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="differs from the first frame"):
        processor.parse_video_tokens(torch.cat([good[: start + 8 * 9 + 4], other_size]))


def test_save_and_load_keep_the_layout(processor, tmp_path):
    custom = LumosProcessor(
        processor.tokenizer, prompt_template="Make {width}x{height} {num_frames} {fps}: ", mask_token_id=9002
    )
    custom.save_pretrained(tmp_path)
    loaded = LumosProcessor.from_pretrained(tmp_path)
    assert loaded.prompt_template == custom.prompt_template and loaded.mask_token_id == 9002
    assert loaded.build_prompt_ids("A cat", 64, 64) == custom.build_prompt_ids("A cat", 64, 64)
    assert loaded.frame_scaffold(64, 64)[0][3] == 9002


def test_folder_without_tokenizer_json_is_refused_by_name(processor, tmp_path):
    """A processor folder (or a pipeline whose `processor/`) lacks `tokenizer.json`: a `FileNotFoundError` naming it,
    not the tokenizer loader's advice to install sentencepiece."""
    from lumos_hf import LumosPipeline, demo

    processor.save_pretrained(tmp_path / "processor")
    (tmp_path / "processor" / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="has no tokenizer.json"):
        LumosProcessor.from_pretrained(tmp_path / "processor")
    with pytest.raises(FileNotFoundError, match="has no tokenizer.json"):
        LumosProcessor.from_pretrained(tmp_path, subfolder="processor")
    pipeline_dir = tmp_path / "pipeline"
    shutil.copytree(demo.model_path(), pipeline_dir)
    (pipeline_dir / "processor" / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="processor has no tokenizer.json"):
        LumosPipeline.from_pretrained(pipeline_dir)
