"""Property-based tests (hypothesis) of the argument checks of `LumosPipeline` and `LumosProcessor` and of the image
conversion shared by the pipeline and pre-tokenization: every input either is accepted exactly when it lies in the
documented range, or gets a `TypeError` / `ValueError` naming the argument, never an error from deep inside."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from utils import build_tiny_pipeline

from lumos_hf.sequence_format import PIXELS_PER_SIZE_UNIT
from lumos_hf.video_processing_lumos import as_uint8_frames

PIPE = build_tiny_pipeline()
LAYOUT = PIPE.processor.token_layout
SIZE_LIMIT = PIXELS_PER_SIZE_UNIT * (LAYOUT.num_size_tokens - 1)
VALID = {
    "prompt": "a red cat", "negative_prompt": None, "prompt_ids": None, "negative_prompt_ids": None, "image": None,
    "video": None, "latents": None, "height": 32, "width": 64, "num_frames": 5, "fps": 8, "num_inference_steps": 2,
    "guidance_scale": 3.0, "history_mask_ratio": 0.7, "history_mask": "periodic", "num_videos_per_prompt": 1,
    "generator": None, "output_type": "latent", "callback_on_step_end_tensor_inputs": ["latents"],
}  # fmt: skip
# derandomize: CI runs the same examples every time (a failure found once is kept below as an @example).
PROPERTY = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 5), max_size=3),
    st.builds(np.int64, st.integers(-1000, 1000)),
    st.builds(np.float32, st.floats(-1e6, 1e6, width=32)),
    st.builds(torch.tensor, st.floats(-100, 100)),
)


def check(**overrides) -> int:
    return PIPE.check_inputs(**{**VALID, **overrides})


def outcome(**overrides) -> Exception | None:
    try:
        check(**overrides)
    except (TypeError, ValueError) as error:
        return error
    return None


def in_int_range(value, low: int, high: int | None) -> bool:
    is_int = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))
    return is_int and value >= low and (high is None or value <= high)


@PROPERTY
@given(name=st.sampled_from(["height", "width"]), value=ANYTHING)
def test_resolution_accepted_iff_a_multiple_of_32_in_range(name, value):
    error = outcome(**{name: value})
    accepted = in_int_range(value, PIXELS_PER_SIZE_UNIT, SIZE_LIMIT) and value % PIXELS_PER_SIZE_UNIT == 0
    assert (error is None) == accepted, (value, error)
    if error is not None:
        assert name in str(error)


@PROPERTY
@given(value=ANYTHING)
def test_num_frames_accepted_iff_one_plus_4k(value):
    error = outcome(num_frames=value)
    assert (error is None) == (in_int_range(value, 1, None) and (value - 1) % 4 == 0), (value, error)
    if error is not None:
        assert "num_frames" in str(error)


@PROPERTY
@given(name=st.sampled_from(["fps", "num_inference_steps", "num_videos_per_prompt"]), value=ANYTHING)
def test_counts_accepted_iff_positive_ints_in_range(name, value):
    high = LAYOUT.num_size_tokens - 1 if name == "fps" else None
    error = outcome(**{name: value})
    assert (error is None) == in_int_range(value, 1, high), (value, error)
    if error is not None:
        assert name in str(error)


def as_real(value) -> float | None:
    if isinstance(value, (bool, str, list)) or value is None:
        return None
    return float(value)


@PROPERTY
@given(value=ANYTHING)
def test_guidance_scale_accepted_iff_finite_and_at_least_1(value):
    error = outcome(guidance_scale=value)
    real = as_real(value)
    assert (error is None) == (real is not None and math.isfinite(real) and real >= 1), (value, error)
    if error is not None:
        assert "guidance_scale" in str(error)


@PROPERTY
@given(value=ANYTHING)
def test_history_mask_ratio_accepted_iff_in_0_1(value):
    error = outcome(history_mask_ratio=value)
    real = as_real(value)
    assert (error is None) == (real is not None and 0 <= real < 1), (value, error)
    if error is not None:
        assert "history_mask_ratio" in str(error)


@PROPERTY
@given(prompt=st.one_of(ANYTHING, st.lists(st.text(max_size=5), max_size=3), st.lists(ANYTHING, max_size=3)))
def test_prompt_is_a_str_or_a_non_empty_list_of_str(prompt):
    error = outcome(prompt=prompt)
    valid = isinstance(prompt, str) or (
        isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt)
    )
    assert (error is None) == bool(valid), (prompt, error)
    if error is not None:
        assert "prompt" in str(error)


SPECIAL_TEXT = st.sampled_from(
    [
        "<s>", "</s>", "<pad>", "<unk>", "<racm3:break>", "<eoss>", "<reserved08706>", "<reserved09000>",
        "<reserved09001>", "<reserved08804>", "<video_frames_placeholder>", "<video_fps_placeholder>", "\n", "<",
    ]
)  # fmt: skip


@PROPERTY
@given(parts=st.lists(st.one_of(st.text(max_size=12), SPECIAL_TEXT), max_size=6))
def test_user_text_never_becomes_control_ids(parts):
    """Any prompt, including ones spelling control tokens, tokenizes to the template plus plain text ids only."""
    prompt = "".join(parts)
    ids = PIPE.processor.build_prompt_ids(prompt, 32, 64, 5, 8)
    template = PIPE.processor.prompt_template.format(width=64, height=32, num_frames=4, fps=8)
    assert ids[0] == LAYOUT.bos_token_id
    assert PIPE.processor.tokenizer.decode(ids[1:]) == template + prompt  # nothing dropped, nothing special
    text_ids = ids[1:]
    controls = {
        LAYOUT.bos_token_id, LAYOUT.eos_token_id, LAYOUT.pad_token_id, LAYOUT.sep_token_id,
        LAYOUT.frame_start_token_id, LAYOUT.frame_end_token_id, LAYOUT.new_line_token_id, LAYOUT.mask_token_id,
        LAYOUT.video_start_token_id, LAYOUT.video_end_token_id, LAYOUT.frames_placeholder_token_id,
        LAYOUT.fps_placeholder_token_id,
    }  # fmt: skip
    sizes = range(LAYOUT.size_token_offset, LAYOUT.size_token_offset + LAYOUT.num_size_tokens)
    assert not controls & set(text_ids) and not set(sizes) & set(text_ids), prompt
    assert all(0 <= i < LAYOUT.text_vocab_size for i in ids)


@PROPERTY
@given(
    shape=st.tuples(st.integers(0, 20), st.integers(0, 20)),
    low=st.integers(-3, 3),
    high=st.integers(0, 70),
    dtype=st.sampled_from([torch.long, torch.int32, torch.float32, torch.bool]),
)
def test_latent_grid_checks(shape, low, high, dtype):
    grid = torch.randint(min(low, high), max(low, high) + 1, shape).to(dtype)
    try:
        tokens = PIPE.processor.frame_tokens(grid)
    except (TypeError, ValueError) as error:
        assert "latent_grid" in str(error) or "grid" in str(error)
        valid = (
            not dtype.is_floating_point
            and dtype != torch.bool
            and all(side % 4 == 0 and side > 0 for side in shape)
            and (grid.numel() == 0 or (int(grid.min()) >= 0 and int(grid.max()) < LAYOUT.video_vocab_size))
        )
        assert not valid, (shape, low, high, dtype, error)
    else:
        assert tokens.dtype == torch.long and tokens.numel() > grid.numel()


FRAME_SHAPES = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.just(3))


@PROPERTY
@given(
    frames=st.one_of(
        hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]), shape=FRAME_SHAPES),
        hnp.arrays(dtype=np.float32, shape=FRAME_SHAPES, elements=st.floats(0, 1, width=32)),
    )
)
@example(frames=np.full((1, 1, 1, 3), 0.9, dtype=np.float32))  # float32 arithmetic rounded 229.49999 up to 230
def test_image_conversion_is_faithful(frames):
    """uint8 stays, uint16 is scaled by 255/65535, float in [0, 1] by 255 (rounded); any other float is refused."""
    if np.issubdtype(frames.dtype, np.floating) and not (
        np.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 1
    ):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            as_uint8_frames(frames)
        return
    converted = as_uint8_frames(frames)
    assert converted.dtype == np.uint8 and converted.shape == frames.shape
    if frames.dtype == np.uint8:
        expected = frames
    elif frames.dtype == np.uint16:
        expected = np.round(frames / 257.0)
    else:
        expected = np.round(frames.astype(np.float64) * 255)
    assert np.abs(converted.astype(np.int64) - expected.astype(np.int64)).max() <= 0
    assert np.array_equal(as_uint8_frames(torch.from_numpy(np.ascontiguousarray(frames))), converted)


@PROPERTY
@given(dtype=st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint32, np.bool_, np.complex64]))
def test_image_conversion_refuses_other_dtypes(dtype):
    with pytest.raises(TypeError, match="uint8"):
        as_uint8_frames(np.zeros((2, 2, 3), dtype=dtype))
