"""
Procedural text-video dataset: one coloured shape moving on a plain background, with a templated caption.

Every clip is 17 RGB frames of 64x64 at 8 fps (5 latent frames for a 4x temporal / 8x spatial tokenizer). A clip is
fully described by a [`ClipSpec`]; [`render_clip`] is deterministic and draws hard-edged shapes, so
`lumos_hf.data.shapes_detector` can read the attributes back exactly. Streams are seeded and unbounded: example `i`
of seed `s` depends only on `(s, i)`.

Ten per cent of the 3 x 6 x 5 x 2 = 180 colour x shape x motion x background combinations are held out of the
training split ([`HELD_OUT_COMBINATIONS`]) to measure compositional generalisation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

NUM_FRAMES = 17
FRAME_SIZE = 64
FPS = 8

SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 80, 220),
    "yellow": (230, 210, 40),
    "white": (240, 240, 240),
    "purple": (150, 60, 190),
}
BACKGROUNDS = {"black": (0, 0, 0), "gray": (128, 128, 128)}
# Motion -> unit (dx, dy) per frame in pixels; y grows downwards.
MOTIONS = {
    "moves left": (-1, 0),
    "moves right": (1, 0),
    "moves up": (0, -1),
    "moves down": (0, 1),
    "stays still": (0, 0),
}
MIN_SIZE, MAX_SIZE = 12, 20
MIN_SPEED, MAX_SPEED = 1, 2
SPLITS = ("train", "held_out", "all")

Combination = tuple[str, str, str, str]  # (colour, shape, motion, background)

# 18 of the 180 combinations (10 %), never in the "train" split. Each (colour, shape) pair occurs exactly once and no
# two held-out combinations share three attributes, so every attribute value, every pair and every triple of values
# still occurs in training: only the full combination is new. Built as colour i, shape j ->
# motion (i + 2 j) mod 5, background (i + j) mod 2.
HELD_OUT_COMBINATIONS: tuple[Combination, ...] = (
    ("red", "circle", "moves left", "black"),
    ("red", "square", "moves up", "gray"),
    ("red", "triangle", "stays still", "black"),
    ("green", "circle", "moves right", "gray"),
    ("green", "square", "moves down", "black"),
    ("green", "triangle", "moves left", "gray"),
    ("blue", "circle", "moves up", "black"),
    ("blue", "square", "stays still", "gray"),
    ("blue", "triangle", "moves right", "black"),
    ("yellow", "circle", "moves down", "gray"),
    ("yellow", "square", "moves left", "black"),
    ("yellow", "triangle", "moves up", "gray"),
    ("white", "circle", "stays still", "black"),
    ("white", "square", "moves right", "gray"),
    ("white", "triangle", "moves down", "black"),
    ("purple", "circle", "moves left", "gray"),
    ("purple", "square", "moves up", "black"),
    ("purple", "triangle", "stays still", "gray"),
)

ALL_COMBINATIONS: tuple[Combination, ...] = tuple(itertools.product(COLOURS, SHAPES, MOTIONS, BACKGROUNDS))


def combinations(split: str) -> tuple[Combination, ...]:
    """The (colour, shape, motion, background) combinations of `split` ("train": 162, "held_out": 18, "all": 180)."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}, got {split!r}.")
    held_out = set(HELD_OUT_COMBINATIONS)
    if split == "held_out":
        return HELD_OUT_COMBINATIONS
    return tuple(c for c in ALL_COMBINATIONS if split == "all" or c not in held_out)


def _check_choice(name: str, value: Any, choices: Any) -> None:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}, got {value!r}.")


@dataclass(frozen=True)
class ClipSpec:
    """
    Everything that determines a clip.

    Args:
        shape: one of `SHAPES`.
        colour: a key of `COLOURS`.
        motion: a key of `MOTIONS`.
        background: a key of `BACKGROUNDS`.
        size: side (square, triangle base and height) or diameter (circle) in pixels, in [12, 20].
        x, y: top-left corner of the shape's `size x size` bounding box in the first frame.
        speed: pixels per frame, in [1, 2] when moving, 0 for "stays still".
    """

    shape: str
    colour: str
    motion: str
    background: str
    size: int
    x: int
    y: int
    speed: int

    def __post_init__(self) -> None:
        _check_choice("shape", self.shape, SHAPES)
        _check_choice("colour", self.colour, COLOURS)
        _check_choice("motion", self.motion, MOTIONS)
        _check_choice("background", self.background, BACKGROUNDS)
        for name in ("size", "x", "y", "speed"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"`{name}` must be an integer, got {type(value).__name__}.")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"`size` must lie in [{MIN_SIZE}, {MAX_SIZE}], got {self.size}.")
        still = self.motion == "stays still"
        if (still and self.speed != 0) or (not still and not MIN_SPEED <= self.speed <= MAX_SPEED):
            accepted = "0" if still else f"[{MIN_SPEED}, {MAX_SPEED}]"
            raise ValueError(f"`speed` must be {accepted} for motion {self.motion!r}, got {self.speed}.")
        for name, (first, last) in zip(("x", "y"), zip(self.position(0), self.position(NUM_FRAMES - 1))):
            if min(first, last) < 0 or max(first, last) > FRAME_SIZE - self.size:
                raise ValueError(
                    f"`{name}` must keep the shape inside the frame: the box must stay in [0, {FRAME_SIZE - self.size}]"
                    f" over all {NUM_FRAMES} frames, got {first} -> {last}."
                )

    @property
    def combination(self) -> Combination:
        return (self.colour, self.shape, self.motion, self.background)

    def position(self, frame: int) -> tuple[int, int]:
        """Top-left corner (x, y) of the bounding box in frame `frame`."""
        dx, dy = MOTIONS[self.motion]
        return self.x + dx * self.speed * frame, self.y + dy * self.speed * frame


def _start_range(delta: int, size: int) -> tuple[int, int]:
    """Inclusive range of start coordinates keeping a box of `size` inside the frame while it moves by `delta`."""
    return max(0, -delta), FRAME_SIZE - size - max(0, delta)


def sample_clip_spec(
    rng: np.random.Generator, split: str = "train", combination: Combination | None = None
) -> ClipSpec:
    """
    Draws a clip: a uniform combination of `split` (or the given `combination`), then size, speed and a start
    position for which the whole trajectory stays inside the frame.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator, got {type(rng).__name__}.")
    pool = combinations(split)
    if combination is None:
        combination = pool[rng.integers(len(pool))]
    elif tuple(combination) not in pool:
        raise ValueError(
            f"`combination` must be one of the {len(pool)} combinations of split {split!r}, got {combination!r}."
        )
    colour, shape, motion, background = combination
    size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
    speed = 0 if motion == "stays still" else int(rng.integers(MIN_SPEED, MAX_SPEED + 1))
    dx, dy = MOTIONS[motion]
    travel = speed * (NUM_FRAMES - 1)
    x_low, x_high = _start_range(dx * travel, size)
    y_low, y_high = _start_range(dy * travel, size)
    x, y = int(rng.integers(x_low, x_high + 1)), int(rng.integers(y_low, y_high + 1))
    return ClipSpec(shape, colour, motion, background, size, x, y, speed)


def shape_mask(shape: str, size: int) -> np.ndarray:
    """[size, size] bool mask of `shape` inside its bounding box (pixel centres inside the ideal shape)."""
    _check_choice("shape", shape, SHAPES)
    centres = np.arange(size) + 0.5
    x, y = centres[None, :], centres[:, None]
    if shape == "square":
        return np.ones((size, size), dtype=bool)
    if shape == "circle":
        return (x - size / 2) ** 2 + (y - size / 2) ** 2 <= (size / 2) ** 2
    # Triangle, apex up: base on the bottom edge, apex at the top centre, height = base = size (row r is r + 1 wide).
    return np.abs(x - size / 2) <= (y + 0.5) / 2


def render_clip(spec: ClipSpec) -> np.ndarray:
    """[17, 64, 64, 3] uint8 frames of `spec` (deterministic, hard edges)."""
    if not isinstance(spec, ClipSpec):
        raise TypeError(f"`spec` must be a ClipSpec, got {type(spec).__name__}.")
    frames = np.empty((NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
    frames[:] = BACKGROUNDS[spec.background]
    mask = shape_mask(spec.shape, spec.size)
    for index, frame in enumerate(frames):
        x, y = spec.position(index)
        frame[y : y + spec.size, x : x + spec.size][mask] = COLOURS[spec.colour]
    return frames


def caption(spec: ClipSpec) -> str:
    """`"a {colour} {shape} {motion} on a {background} background"`."""
    return f"a {spec.colour} {spec.shape} {spec.motion} on a {spec.background} background"


def make_example(spec: ClipSpec) -> dict[str, Any]:
    """`{"frames": [17, 64, 64, 3] uint8, "caption": str, **spec fields}` for `spec`."""
    return {"frames": render_clip(spec), "caption": caption(spec), **asdict(spec)}


def _check_index(name: str, value: Any) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0, got {value!r}.")


def example_spec(seed: int, index: int, split: str = "train") -> ClipSpec:
    """The spec of example `index` of the stream (`seed`, `split`); it depends on nothing else."""
    _check_index("seed", seed)
    _check_index("index", index)
    return sample_clip_spec(np.random.default_rng([int(seed), int(index)]), split)


def generate_examples(
    seed: int = 0, split: str = "train", num_examples: int | None = None, start: int = 0
) -> Iterator[dict[str, Any]]:
    """
    Examples `start, start + 1, ...` of the stream (`seed`, `split`), endless when `num_examples` is None. Usable as
    `datasets.Dataset.from_generator(generate_examples, gen_kwargs={...}, features=hf_features())` (finite) or with
    `datasets.IterableDataset.from_generator`.
    """
    _check_index("seed", seed)
    _check_index("start", start)
    combinations(split)
    if num_examples is None:
        indices: Iterator[int] = itertools.count(start)
    else:
        _check_index("num_examples", num_examples)
        indices = iter(range(start, start + num_examples))
    for index in indices:
        yield make_example(example_spec(seed, index, split))


def hf_features() -> Any:
    """`datasets.Features` of the examples (frames as a uint8 `Array4D`)."""
    from datasets import Array4D, Features, Value

    return Features(
        {
            "frames": Array4D(shape=(NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), dtype="uint8"),
            "caption": Value("string"),
            **{name: Value("string") for name in ("shape", "colour", "motion", "background")},
            **{name: Value("int32") for name in ("size", "x", "y", "speed")},
        }
    )


class ShapesVideoDataset(torch.utils.data.IterableDataset):
    """
    Endless, seeded stream of shapes examples (see [`generate_examples`]). In a `DataLoader` with several workers,
    worker `k` of `n` yields examples `k, k + n, ...`, so together they yield the single-process stream.

    Args:
        seed: stream seed (>= 0).
        split: "train" (no held-out combination), "held_out" (only those) or "all".
    """

    def __init__(self, seed: int = 0, split: str = "train") -> None:
        super().__init__()
        _check_index("seed", seed)
        combinations(split)
        self.seed, self.split = seed, split

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        for index in itertools.count(worker, num_workers):
            yield make_example(example_spec(self.seed, index, self.split))
