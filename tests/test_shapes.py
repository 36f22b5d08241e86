"""The procedural shapes dataset and its analytic detector (the demo model's data and benchmark)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lumos_hf.data import shapes
from lumos_hf.data.shapes_detector import NONE, detect_clip, detect_frame


def test_splits_hold_out_ten_percent_but_every_triple_of_values():
    train, held_out = set(shapes.combinations("train")), set(shapes.combinations("held_out"))
    assert len(shapes.combinations("all")) == 180 and len(train) == 162 and len(held_out) == 18
    assert not train & held_out
    for combination in held_out:  # only the full combination is new: every three of its values occur in training
        for kept in itertools.combinations(range(4), 3):
            assert any(all(c[i] == combination[i] for i in kept) for c in train)
    drawn = {spec.combination for spec in (shapes.example_spec(0, i) for i in range(400))}
    assert not drawn & held_out


def test_streams_are_seeded_and_indexed():
    first = list(shapes.generate_examples(3, "train", 4))
    again = list(shapes.generate_examples(3, "train", 2, start=2))
    for a, b in zip(first[2:], again):
        assert a["caption"] == b["caption"] and np.array_equal(a["frames"], b["frames"])
    other = next(shapes.generate_examples(4, "train", 1))
    assert other["caption"] != first[0]["caption"] or not np.array_equal(other["frames"], first[0]["frames"])
    example = first[0]
    assert example["frames"].shape == (17, 64, 64, 3) and example["frames"].dtype == np.uint8
    spec = shapes.example_spec(3, 0)
    assert example["caption"] == f"a {spec.colour} {spec.shape} {spec.motion} on a {spec.background} background"


def test_clip_spec_rejects_bad_values():
    good = {"shape": "circle", "colour": "red", "motion": "moves right", "background": "black", "size": 12,
            "x": 0, "y": 10, "speed": 1}  # fmt: skip
    shapes.ClipSpec(**good)
    for change, error, match in [
        ({"shape": "hexagon"}, ValueError, "shape"),
        ({"size": 21}, ValueError, r"\[12, 20\]"),
        ({"speed": 0}, ValueError, "speed"),
        ({"x": 40}, ValueError, "inside the frame"),
        ({"size": 12.0}, TypeError, "size"),
    ]:
        with pytest.raises(error, match=match):
            shapes.ClipSpec(**{**good, **change})
    with pytest.raises(ValueError, match="split"):
        shapes.combinations("test")


@pytest.mark.parametrize("split", ["train", "held_out"])
def test_detector_reads_every_combination_exactly(split):
    rng = np.random.default_rng(0)
    for combination in shapes.combinations(split):
        spec = shapes.sample_clip_spec(rng, split, combination)
        reading = detect_clip(shapes.render_clip(spec))
        assert (reading.colour, reading.shape, reading.motion, reading.background) == combination, spec
        assert reading.consistent


def test_detector_tolerates_noise_and_reports_empty_frames():
    rng = np.random.default_rng(1)
    spec = shapes.sample_clip_spec(rng, "all", ("yellow", "triangle", "moves down", "gray"))
    noisy = np.clip(shapes.render_clip(spec) + rng.normal(0, 12, (17, 64, 64, 3)), 0, 255).astype(np.uint8)
    reading = detect_clip(noisy)
    assert (reading.colour, reading.shape, reading.motion, reading.background) == spec.combination
    empty = detect_frame(np.zeros((64, 64, 3), dtype=np.uint8))
    assert empty.colour == NONE and empty.centroid is None
    with pytest.raises((TypeError, ValueError)):
        detect_clip(np.zeros((17, 64, 64), dtype=np.uint8))
