"""
Exact analytic detector for clips of `lumos_hf.data.shapes`: reads colour, shape, motion and background back from
frames, tolerant of blurred or noisy reconstructions and generated videos.

Rules: the background is the nearest background colour to the median border pixel; the object of a frame is its
largest 4-connected component of pixels nearer to some object colour than to the background; its colour is the
nearest palette colour to its median pixel; its mask is then the largest component of pixels nearer to that colour
than to the background (at least `MIN_OBJECT_AREA` pixels); its shape comes from the fill ratio of the bounding box of that mask (ignoring thin noise bumps on its edges) (square ~1, circle ~pi/4, triangle ~1/2) and, for triangles, an
apex-up centroid; the motion is the dominant axis and sign of the centroid displacement from the first to the last
frame, or "stays still" below `STILL_THRESHOLD` pixels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .shapes import BACKGROUNDS, COLOURS

NONE = "none"  # no object (or no consistent reading) in the frame / clip
UNKNOWN = "unknown"  # an object whose shape matches none of the three
MIN_OBJECT_AREA = 30  # pixels; the smallest rendered shape (a 12 px triangle) has 84
STILL_THRESHOLD = 4.0  # pixels of centroid displacement over the clip; moving clips travel >= 16
# Shape rules on the bounding box: a triangle (apex up) has its centroid at ~2/3 of the box height (circles and squares
# at 1/2) and a fill ratio (area / box area) of ~0.55; otherwise the fill ratio tells a square (~1) from a circle
# (~0.79). Measured on rendered clips, blurred and noised: circles 0.76-0.88, squares >= 0.97, triangles 0.54-0.70
# with centroid heights >= 0.61 (circles, squares <= 0.54).
TRIANGLE_MIN_CENTROID_HEIGHT = 0.58
TRIANGLE_MIN_FILL, TRIANGLE_MAX_FILL = 0.4, 0.78
SQUARE_MIN_FILL = 0.93
CIRCLE_MIN_FILL = 0.65
MAX_ASPECT = 1.35  # largest accepted box aspect ratio for any shape
BUMP_RATIO = 0.25

_OBJECT_NAMES = tuple(COLOURS)
_OBJECT_RGB = np.array(list(COLOURS.values()), dtype=np.float32)
_BACKGROUND_NAMES = tuple(BACKGROUNDS)
_BACKGROUND_RGB = np.array(list(BACKGROUNDS.values()), dtype=np.float32)


@dataclass(frozen=True)
class FrameAttributes:
    """What one frame shows: colour and shape names (`NONE` without object), centroid (x, y) and area in pixels."""

    colour: str
    shape: str
    centroid: tuple[float, float] | None
    area: int


@dataclass(frozen=True)
class ClipAttributes:
    """
    Attributes of a clip. `colour` and `shape` are the most frequent per-frame readings, `motion` one of
    `lumos_hf.data.shapes.MOTIONS` (`NONE` when the first or last frame has no object); `consistent` is True when
    every frame has an object of the same colour and shape.
    """

    colour: str
    shape: str
    motion: str
    background: str
    frames: tuple[FrameAttributes, ...]
    consistent: bool

    @property
    def frame_colours(self) -> tuple[str, ...]:
        return tuple(frame.colour for frame in self.frames)

    @property
    def frame_shapes(self) -> tuple[str, ...]:
        return tuple(frame.shape for frame in self.frames)

    @property
    def combination(self) -> tuple[str, str, str, str]:
        """(colour, shape, motion, background), as `lumos_hf.data.shapes.ClipSpec.combination`."""
        return (self.colour, self.shape, self.motion, self.background)


def _check_frames(frames: np.ndarray, ndim: int, layout: str) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise TypeError(
            f"`frames` must be a uint8 numpy array {layout}, got {getattr(frames, 'dtype', type(frames))}."
        )
    if frames.ndim != ndim or frames.shape[-1] != 3 or min(frames.shape[-3:-1]) < 3:
        raise ValueError(f"`frames` must have shape {layout} with H, W >= 3, got {frames.shape}.")


def _distances(pixels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """[..., 3] pixels, [K, 3] palette -> [..., K] Euclidean RGB distances."""
    return np.linalg.norm(pixels[..., None, :].astype(np.float32) - palette, axis=-1)


def detect_background(frames: np.ndarray) -> str:
    """Background name of [F, H, W, 3] (or [H, W, 3]) uint8 frames, from the median of their border pixels."""
    if frames.ndim == 3:
        frames = frames[None]
    _check_frames(frames, 4, "[F, H, W, 3]")
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, 1:-1, 0], frames[:, 1:-1, -1]], axis=1).reshape(
        -1, 3
    )
    return _BACKGROUND_NAMES[int(_distances(np.median(border, axis=0), _BACKGROUND_RGB).argmin())]


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """[H, W] bool -> [H, W] bool mask of its largest 4-connected component (label propagation)."""
    height, width = mask.shape
    labels = np.where(mask, np.arange(1, height * width + 1).reshape(height, width), 0)
    while True:
        padded = np.pad(labels, 1)
        neighbours = np.stack([labels, padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]).max(
            0
        )
        updated = np.where(mask, neighbours, 0)
        if np.array_equal(updated, labels):
            break
        labels = updated
    values, counts = np.unique(labels[mask], return_counts=True)
    return labels == values[counts.argmax()]


def _core_box(component: np.ndarray) -> tuple[int, int, int, int]:
    """
    (top, bottom, left, right), inclusive, of the bounding box of a non-empty [H, W] bool mask after repeatedly
    dropping an outermost row or column holding at most `BUMP_RATIO` times the pixels of its inner neighbour (noise
    bumps stuck to an edge).
    """
    ys, xs = np.nonzero(component)
    box = [int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())]
    changed = True
    while changed:
        top, bottom, left, right = box
        window = component[top : bottom + 1, left : right + 1]
        rows, cols = window.sum(1), window.sum(0)
        changed = True
        if len(rows) > 2 and rows[0] <= BUMP_RATIO * rows[1]:
            box[0] += 1
        elif len(rows) > 2 and rows[-1] <= BUMP_RATIO * rows[-2]:
            box[1] -= 1
        elif len(cols) > 2 and cols[0] <= BUMP_RATIO * cols[1]:
            box[2] += 1
        elif len(cols) > 2 and cols[-1] <= BUMP_RATIO * cols[-2]:
            box[3] -= 1
        else:
            changed = False
    return box[0], box[1], box[2], box[3]


def _classify_shape(component: np.ndarray) -> tuple[str, tuple[float, float]]:
    """[H, W] bool object mask (non-empty) -> (shape name, centroid (x, y))."""
    top, bottom, left, right = _core_box(component)
    height, width = bottom - top + 1, right - left + 1
    fill = component[top : bottom + 1, left : right + 1].sum() / (height * width)
    ys, xs = np.nonzero(component)
    centroid = (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5)
    centroid_height = (centroid[1] - top) / height
    if max(height, width) / min(height, width) > MAX_ASPECT:
        return UNKNOWN, centroid
    if centroid_height >= TRIANGLE_MIN_CENTROID_HEIGHT:
        return ("triangle" if TRIANGLE_MIN_FILL <= fill <= TRIANGLE_MAX_FILL else UNKNOWN), centroid
    if fill >= SQUARE_MIN_FILL:
        return "square", centroid
    if fill >= CIRCLE_MIN_FILL:
        return "circle", centroid
    return UNKNOWN, centroid


def detect_frame(frame: np.ndarray, background: str | None = None) -> FrameAttributes:
    """
    Object of one [H, W, 3] uint8 frame. `background` (a key of `BACKGROUNDS`) defaults to the frame's own border.
    """
    _check_frames(frame, 3, "[H, W, 3]")
    if background is None:
        background = detect_background(frame)
    elif background not in BACKGROUNDS:
        raise ValueError(f"`background` must be None or one of {_BACKGROUND_NAMES}, got {background!r}.")
    background_rgb = np.array([BACKGROUNDS[background]], dtype=np.float32)
    background_distance = _distances(frame, background_rgb)[..., 0]
    # The colour comes from the pixels nearer to any object colour than to the background; the shape from those
    # nearer to that colour than to the background (the mid-point of every blurred edge, whatever the colours).
    candidates = _distances(frame, _OBJECT_RGB).min(-1) < background_distance
    if candidates.sum() < MIN_OBJECT_AREA:
        return FrameAttributes(NONE, NONE, None, 0)
    median = np.median(frame[_largest_component(candidates)], axis=0)
    colour_index = int(_distances(median, _OBJECT_RGB).argmin())
    object_mask = _distances(frame, _OBJECT_RGB[colour_index : colour_index + 1])[..., 0] < background_distance
    component = _largest_component(object_mask)
    area = int(component.sum())
    if area < MIN_OBJECT_AREA:
        return FrameAttributes(NONE, NONE, None, 0)
    colour = _OBJECT_NAMES[colour_index]
    shape, centroid = _classify_shape(component)
    return FrameAttributes(colour, shape, centroid, area)


def _motion(first: FrameAttributes, last: FrameAttributes) -> str:
    if first.centroid is None or last.centroid is None:
        return NONE
    dx, dy = last.centroid[0] - first.centroid[0], last.centroid[1] - first.centroid[1]
    if max(abs(dx), abs(dy)) < STILL_THRESHOLD:
        return "stays still"
    if abs(dx) >= abs(dy):
        return "moves right" if dx > 0 else "moves left"
    return "moves down" if dy > 0 else "moves up"


def _majority(values: list[str]) -> str:
    """The most frequent value other than `NONE` (ties: the earliest), or `NONE`."""
    counts = Counter(value for value in values if value != NONE)
    return counts.most_common(1)[0][0] if counts else NONE


def detect_clip(frames: np.ndarray) -> ClipAttributes:
    """Attributes of a clip of [F, H, W, 3] uint8 frames, F >= 2."""
    _check_frames(frames, 4, "[F, H, W, 3]")
    if len(frames) < 2:
        raise ValueError(f"`frames` must have at least 2 frames to read a motion, got {len(frames)}.")
    background = detect_background(frames)
    per_frame = tuple(detect_frame(frame, background) for frame in frames)
    colours = [frame.colour for frame in per_frame]
    shapes = [frame.shape for frame in per_frame]
    consistent = NONE not in colours and len(set(colours)) == 1 and len(set(shapes)) == 1
    return ClipAttributes(
        colour=_majority(colours),
        shape=_majority(shapes),
        motion=_motion(per_frame[0], per_frame[-1]),
        background=background,
        frames=per_frame,
        consistent=consistent,
    )
