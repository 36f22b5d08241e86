"""LumosProcessor: the official Lumos-1 token sequences (LUMOS_SPEC section 2) from prompts and latent grids, and back.

A sequence is `[0] + text + [8710] + video + [8710]` with

- text = tokenizer(template.format(width, height, frames, fps) + caption), the template of `tokens.PROMPT_TEMPLATE`;
- video = `[9004, size(seconds), size(fps)] + frames + [9005]`;
- frame = `[8197, size(H/32), size(W/32)] + rows + [8196]`, rows = for each of the H/8 latent rows its W/8 video
  tokens (65536 + FSQ index) then the new-line token 8803.

Frame counts: users give `num_frames` pixel frames, `1 + 4k` (the Cosmos DV4x8x8 tokenizer is causal in time:
`1 + k` latent frames). As in the official inference (which asks for 24 frames = 2 s at 12 fps and decodes 25), the
text says `num_frames - 1` frames at `fps` frames per second and the header carries `size(round((num_frames - 1) /
fps))` seconds (at least 1). Images (`num_frames == 1`) say "1 frames at 1 frames per second" with the header
`[9004, size(1), size(1)]`, whatever `fps`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .tokens import (
    BOS_TOKEN_ID,
    FPS_PLACEHOLDER_TOKEN_ID,
    FRAME_END_TOKEN_ID,
    FRAME_START_TOKEN_ID,
    FRAMES_PLACEHOLDER_TOKEN_ID,
    MASK_TOKEN_ID,
    NEW_LINE_TOKEN_ID,
    NUM_SIZE_TOKENS,
    PAD_TOKEN_ID,
    PROMPT_TEMPLATE,
    SEP_TOKEN_ID,
    SIZE_TOKEN_OFFSET,
    VIDEO_END_TOKEN_ID,
    VIDEO_START_TOKEN_ID,
    VIDEO_TOKEN_OFFSET,
    VIDEO_VOCAB_SIZE,
    size_token_id,
)
from .training.collator import fill_video_placeholders

IGNORE_INDEX = -100
PIXELS_PER_SIZE_UNIT = 32  # size tokens count the frame height and width in units of 32 pixels
SPATIAL_COMPRESSION = 8  # Cosmos DV4x8x8: one latent per 8x8 pixels
TEMPORAL_COMPRESSION = 4  # and per 4 frames (after the first)
LATENTS_PER_SIZE_UNIT = PIXELS_PER_SIZE_UNIT // SPATIAL_COMPRESSION


class LumosProcessor(ProcessorMixin):
    """Builds and parses Lumos-1 token sequences; holds the text tokenizer and the token layout.

    Args:
        tokenizer: the Lumos text tokenizer (`lumos_hf.text_tokenizer.convert_text_tokenizer`), a
            `PreTrainedTokenizerFast` with Chameleon's ids.
        prompt_template: `str.format` template with `{width}`, `{height}`, `{num_frames}` and `{fps}`; the caption
            is appended to it.
        bos_token_id, pad_token_id, sep_token_id, video_start_token_id, video_end_token_id, frame_start_token_id,
        frame_end_token_id, new_line_token_id, mask_token_id, size_token_offset, video_token_offset,
        video_vocab_size, frames_placeholder_token_id, fps_placeholder_token_id: the token layout (defaults from
            `lumos_hf.tokens`, the official values). They are saved with the processor.

    Shapes: `h = H / 8` latent rows and `w = W / 8` latent columns per frame, `T = 1 + (num_frames - 1) / 4` latent
    frames; a frame takes `h * (w + 1) + 4` tokens. Latent grids hold FSQ indices in `[0, video_vocab_size)`.

    Example:

    ```python
    >>> import torch
    >>> from lumos_hf import LumosProcessor
    >>> from lumos_hf.testing import build_tiny_chameleon_tokenizer

    >>> processor = LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer())
    >>> inputs = processor(["a hawk", "a duckling on red dirt"], height=32, width=64, num_frames=9, fps=4)
    >>> inputs["input_ids"].shape[0], int(inputs["num_latent_frames"])  # left-padded prompts, 3 latent frames
    (2, 3)
    >>> frame = processor.frame_tokens(torch.arange(32).view(4, 8))  # [8197, size(1), size(2), rows..., 8196]
    >>> len(frame), frame[:3].tolist()
    (40, [8197, 8805, 8806])
    >>> [grid.shape for grid in processor.parse_video_tokens(torch.tensor([9004, 8805, 8805, *frame.tolist(), 9005]))]
    [torch.Size([1, 4, 8])]
    ```
    """

    def __init__(
        self,
        tokenizer=None,
        prompt_template: str = PROMPT_TEMPLATE,
        bos_token_id: int = BOS_TOKEN_ID,
        pad_token_id: int = PAD_TOKEN_ID,
        sep_token_id: int = SEP_TOKEN_ID,
        video_start_token_id: int = VIDEO_START_TOKEN_ID,
        video_end_token_id: int = VIDEO_END_TOKEN_ID,
        frame_start_token_id: int = FRAME_START_TOKEN_ID,
        frame_end_token_id: int = FRAME_END_TOKEN_ID,
        new_line_token_id: int = NEW_LINE_TOKEN_ID,
        mask_token_id: int = MASK_TOKEN_ID,
        size_token_offset: int = SIZE_TOKEN_OFFSET,
        video_token_offset: int = VIDEO_TOKEN_OFFSET,
        video_vocab_size: int = VIDEO_VOCAB_SIZE,
        frames_placeholder_token_id: int = FRAMES_PLACEHOLDER_TOKEN_ID,
        fps_placeholder_token_id: int = FPS_PLACEHOLDER_TOKEN_ID,
    ):
        self.prompt_template = prompt_template
        self.bos_token_id = bos_token_id
        self.pad_token_id = pad_token_id
        self.sep_token_id = sep_token_id
        self.video_start_token_id = video_start_token_id
        self.video_end_token_id = video_end_token_id
        self.frame_start_token_id = frame_start_token_id
        self.frame_end_token_id = frame_end_token_id
        self.new_line_token_id = new_line_token_id
        self.mask_token_id = mask_token_id
        self.size_token_offset = size_token_offset
        self.video_token_offset = video_token_offset
        self.video_vocab_size = video_vocab_size
        self.frames_placeholder_token_id = frames_placeholder_token_id
        self.fps_placeholder_token_id = fps_placeholder_token_id
        super().__init__(tokenizer)

    # ----------------------------------------------------------------------------------------------------------
    # Geometry and text
    # ----------------------------------------------------------------------------------------------------------

    @staticmethod
    def num_latent_frames(num_frames: int) -> int:
        """Latent frames `T = 1 + (num_frames - 1) / 4` of `num_frames = 1 + 4k` pixel frames."""
        _check_num_frames(num_frames)
        return 1 + (num_frames - 1) // TEMPORAL_COMPRESSION

    @staticmethod
    def latent_size(height: int, width: int) -> tuple[int, int]:
        """Latent grid `(h, w) = (height / 8, width / 8)` of a frame; height and width must be multiples of 32."""
        _check_resolution(height, width)
        return height // SPATIAL_COMPRESSION, width // SPATIAL_COMPRESSION

    def size_token(self, n: int) -> int:
        """Id of the size token of the integer `n` in `[0, 195]`."""
        return size_token_id(n, self.size_token_offset)

    def video_header_ids(self, num_frames: int, fps: int) -> list[int]:
        """`[9004, size(seconds), size(fps)]`; images (`num_frames == 1`) get `[9004, size(1), size(1)]`."""
        seconds, fps = _duration_and_fps(num_frames, fps)
        return [self.video_start_token_id, self.size_token(seconds), self.size_token(fps)]

    def build_prompt_ids(self, prompt: str, height: int, width: int, num_frames: int = 1, fps: int = 1) -> list[int]:
        """`[0] + tokenizer(template.format(...) + prompt)`: BOS and the text of the conditional sequence.

        The text states `num_frames - 1` frames at `fps` frames per second for a video, 1 frame at 1 fps for an
        image (`num_frames == 1`).
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        _check_resolution(height, width)
        _duration_and_fps(num_frames, fps)
        is_image = num_frames == 1
        text = self.prompt_template.format(
            width=width, height=height, num_frames=1 if is_image else num_frames - 1, fps=1 if is_image else fps
        )
        return [self.bos_token_id, *self.tokenizer(text + prompt, add_special_tokens=False)["input_ids"]]

    # ----------------------------------------------------------------------------------------------------------
    # Frames
    # ----------------------------------------------------------------------------------------------------------

    def frame_tokens(self, latent_grid: torch.Tensor) -> torch.LongTensor:
        """Tokens `[L_f]` of one frame from its latent grid `[h, w]` of FSQ indices, `L_f = h * (w + 1) + 4`."""
        grid = self._check_grid(latent_grid, "latent_grid")
        rows, cols = grid.shape
        return self._frame(grid + self.video_token_offset, rows, cols)

    def frame_scaffold(self, height: int, width: int) -> tuple[torch.LongTensor, torch.BoolTensor]:
        """A fully masked frame for AR-DF sampling (LUMOS_SPEC 7, step 1).

        Returns:
            `tokens [L_f]`: the frame with every video token replaced by MASK (9003); new-line tokens stay.
            `is_masked [L_f]` bool: True at the `h * w` video-token positions (raster order).
        """
        rows, cols = self.latent_size(height, width)
        tokens = self._frame(torch.full((rows, cols), self.mask_token_id, dtype=torch.long), rows, cols)
        is_masked = torch.zeros_like(tokens, dtype=torch.bool)
        is_masked[3:-1] = True
        is_masked[3:-1].view(rows, cols + 1)[:, -1] = False
        return tokens, is_masked

    def _frame(self, content: torch.LongTensor, rows: int, cols: int) -> torch.LongTensor:
        """Frame tokens around `content [rows, cols]` (token ids)."""
        new_lines = torch.full((rows, 1), self.new_line_token_id, dtype=torch.long, device=content.device)
        head = [self.frame_start_token_id, self.size_token(rows // LATENTS_PER_SIZE_UNIT)]
        head.append(self.size_token(cols // LATENTS_PER_SIZE_UNIT))
        return torch.cat(
            [
                content.new_tensor(head),
                torch.cat([content, new_lines], dim=1).flatten(),
                content.new_tensor([self.frame_end_token_id]),
            ]
        )

    def _check_grid(self, grid: torch.Tensor, name: str) -> torch.LongTensor:
        """Validate one latent grid `[h, w]` of FSQ indices (h and w multiples of 4)."""
        if not isinstance(grid, torch.Tensor) or grid.dtype.is_floating_point or grid.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer torch.Tensor of FSQ indices")
        if grid.dim() != 2 or grid.shape[0] % LATENTS_PER_SIZE_UNIT or grid.shape[1] % LATENTS_PER_SIZE_UNIT:
            raise ValueError(
                f"{name} must have shape [H/8, W/8] with both sides multiples of {LATENTS_PER_SIZE_UNIT} "
                f"(H, W multiples of 32), got {tuple(grid.shape)}"
            )
        if grid.numel() == 0 or max(grid.shape) // LATENTS_PER_SIZE_UNIT >= NUM_SIZE_TOKENS:
            raise ValueError(f"{name} sides must be in [4, {4 * (NUM_SIZE_TOKENS - 1)}], got {tuple(grid.shape)}")
        if int(grid.min()) < 0 or int(grid.max()) >= self.video_vocab_size:
            raise ValueError(f"{name} must hold FSQ indices in [0, {self.video_vocab_size - 1}]")
        return grid.long()

    def video_tokens(self, latents: torch.Tensor, name: str = "latents") -> torch.LongTensor:
        """Concatenated frame tokens `[T * L_f]` of latent frames `[T, h, w]`."""
        if not isinstance(latents, torch.Tensor) or latents.dim() != 3 or latents.shape[0] == 0:
            raise ValueError(f"{name} must be a tensor [T, h, w] with T >= 1")
        grids = [self._check_grid(grid, f"{name}[{t}]") for t, grid in enumerate(latents)]
        rows, cols = grids[0].shape
        return torch.cat([self._frame(grid + self.video_token_offset, rows, cols) for grid in grids])

    # ----------------------------------------------------------------------------------------------------------
    # Generation inputs
    # ----------------------------------------------------------------------------------------------------------

    def __call__(
        self,
        text: str | list[str],
        height: int,
        width: int,
        num_frames: int = 1,
        fps: int = 1,
        negative_prompt: str | list[str] | None = None,
        conditioning_latents: torch.Tensor | list[torch.Tensor] | None = None,
    ) -> BatchFeature:
        """Generation inputs for T2I, T2V, I2V and video continuation, left padded.

        Args:
            text: one prompt or a batch of B prompts.
            height, width: frame size in pixels, multiples of 32.
            num_frames: pixel frames `1 + 4k` (1 for an image, 25 for 2 s at 12 fps).
            fps: frames per second, in `[1, 195]` (ignored for images).
            negative_prompt: replaces the unconditional branch by this prompt (one for all, or B).
            conditioning_latents: the given first latent frames (I2V: one; continuation: several), FSQ indices:
                `[T_c, h, w]` shared by the batch, `[B, T_c, h, w]` or a list of B `[T_c, h, w]`, with
                `1 <= T_c < T`; they are appended as frame tokens after the video header in both branches.

        Returns:
            `BatchFeature` with, for the conditional branch,
            `input_ids [B, L]`: `[0] + text + [8710] + [9004, size(seconds), size(fps)] + given frames`, and
            `attention_mask [B, L]` (1 = real token); for the guidance branch `uncond_input_ids [B, L_u]` and
            `uncond_attention_mask [B, L_u]`: `[9004, size(seconds), size(fps)] + given frames` (no BOS, no text,
            LUMOS_SPEC 7), or the negative prompt in the conditional format. Padding: LEFT, with `pad_token_id`;
            the model derives positions from the attention mask. Plus `num_latent_frames` (T) and
            `num_conditioning_frames` (T_c), both 0-dim long tensors.
        """
        prompts = [text] if isinstance(text, str) else list(text)
        if not prompts or not all(isinstance(prompt, str) for prompt in prompts):
            raise TypeError("text must be a str or a non-empty list of str")
        batch_size = len(prompts)
        negatives = self._broadcast_prompts(negative_prompt, batch_size, "negative_prompt")
        total_frames = self.num_latent_frames(num_frames)
        header = self.video_header_ids(num_frames, fps)
        given = self._conditioning_tokens(conditioning_latents, batch_size, height, width, total_frames)

        def branch(prompt: str | None, frames: torch.LongTensor) -> torch.LongTensor:
            text_ids = [] if prompt is None else self.build_prompt_ids(prompt, height, width, num_frames, fps)
            text_ids += [self.sep_token_id] if text_ids else []
            return torch.cat([torch.tensor(text_ids + header, dtype=torch.long), frames])

        cond = self.pad_batch([{"input_ids": branch(p, frames)} for p, frames in zip(prompts, given)])
        uncond = self.pad_batch([{"input_ids": branch(n, frames)} for n, frames in zip(negatives, given)])
        num_given = 0 if conditioning_latents is None else given[0].shape[0] // self._frame_length(height, width)
        return BatchFeature(
            {
                "input_ids": cond["input_ids"],
                "attention_mask": cond["attention_mask"],
                "uncond_input_ids": uncond["input_ids"],
                "uncond_attention_mask": uncond["attention_mask"],
                "num_latent_frames": torch.tensor(total_frames),
                "num_conditioning_frames": torch.tensor(num_given),
            }
        )

    def _frame_length(self, height: int, width: int) -> int:
        rows, cols = self.latent_size(height, width)
        return rows * (cols + 1) + 4

    @staticmethod
    def _broadcast_prompts(prompts: str | list[str] | None, batch_size: int, name: str) -> list[str | None]:
        if prompts is None:
            return [None] * batch_size
        prompts = [prompts] * batch_size if isinstance(prompts, str) else list(prompts)
        if len(prompts) != batch_size or not all(isinstance(prompt, str) for prompt in prompts):
            raise ValueError(f"{name} must be a str or a list of {batch_size} str (one per prompt)")
        return prompts

    def _conditioning_tokens(
        self,
        latents: torch.Tensor | list[torch.Tensor] | None,
        batch_size: int,
        height: int,
        width: int,
        total_frames: int,
    ) -> list[torch.LongTensor]:
        """Frame tokens of the given latent frames, one `[T_c * L_f]` tensor per batch row (empty without)."""
        if latents is None:
            return [torch.zeros(0, dtype=torch.long)] * batch_size
        if isinstance(latents, torch.Tensor) and latents.dim() == 3:
            latents = [latents] * batch_size
        elif isinstance(latents, torch.Tensor) and latents.dim() == 4:
            latents = list(latents)
        if not isinstance(latents, (list, tuple)) or len(latents) != batch_size:
            raise ValueError(
                f"conditioning_latents must be [T_c, h, w], [B, T_c, h, w] or a list of B [T_c, h, w] (B = {batch_size})"
            )
        rows, cols = self.latent_size(height, width)
        counts = set()
        for index, item in enumerate(latents):
            if not isinstance(item, torch.Tensor) or item.dim() != 3 or tuple(item.shape[1:]) != (rows, cols):
                raise ValueError(
                    f"conditioning_latents[{index}] must have shape [T_c, {rows}, {cols}] for {height}x{width} frames"
                )
            counts.add(item.shape[0])
        if len(counts) != 1 or not 1 <= counts.pop() < total_frames:
            raise ValueError(
                f"conditioning_latents must give the same number T_c of frames for every prompt, "
                f"1 <= T_c < {total_frames} (the latent frames of num_frames)"
            )
        return [self.video_tokens(item, f"conditioning_latents[{index}]") for index, item in enumerate(latents)]

    # ----------------------------------------------------------------------------------------------------------
    # Training sequences
    # ----------------------------------------------------------------------------------------------------------

    def build_training_sequence(
        self, prompt: str | Sequence[int] | None, latents: torch.Tensor, fps: int = 1
    ) -> dict[str, torch.LongTensor]:
        """One training sample `[0] + text + [8710] + [9004, size(s), size(fps)] + frames + [9005] + [8710]`.

        Args:
            prompt: the caption (formatted with the template), the prompt ids as returned by `build_prompt_ids`
                (BOS included), or None for a text-dropped sample (classifier-free guidance), which starts at 9004.
            latents: `[T, h, w]` FSQ indices; `T == 1` is an image. The text and header describe
                `num_frames = 1 + 4 (T - 1)` pixel frames at `fps`.
            fps: frames per second of a video, in `[1, 195]`.

        Returns:
            `input_ids [L]` and `labels [L]` (long): labels are the input ids from the 9004 token on, -100 before.
        """
        frames = self.video_tokens(latents)
        num_frames = 1 + TEMPORAL_COMPRESSION * (latents.shape[0] - 1)
        video = torch.cat(
            [
                torch.tensor(self.video_header_ids(num_frames, fps)),
                frames,
                torch.tensor([self.video_end_token_id, self.sep_token_id]),
            ]
        )
        if prompt is None:
            text_ids = []
        elif isinstance(prompt, str):
            height, width = (side * SPATIAL_COMPRESSION for side in latents.shape[1:])
            text_ids = [*self.build_prompt_ids(prompt, height, width, num_frames, fps), self.sep_token_id]
        else:
            text_ids = [*prompt, self.sep_token_id]
        input_ids = torch.cat([torch.tensor(text_ids, dtype=torch.long), video])
        labels = input_ids.clone()
        labels[: len(text_ids)] = IGNORE_INDEX
        return {"input_ids": input_ids, "labels": labels}

    def fill_placeholders(
        self, input_ids: Sequence[int] | torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None
    ) -> dict[str, torch.LongTensor]:
        """Replace the placeholders 65539 / 65540 of official pre-tokenized text by number tokens.

        The frame count is `seconds * fps` and the fps is read from the sequence's own header
        `[9004, size(seconds), size(fps)]` (84 and 12 for the official 7 s, 12 fps samples; 1 and 1 for images).
        Only the text before the first 9004 is searched (inside frames, 65539 and 65540 are video tokens). The rule
        is `lumos_hf.training.fill_video_placeholders`, applied with this processor's token layout.

        Returns:
            `input_ids [L']` and, when `labels` is given, `labels [L']` with -100 on the (longer) text.
        """
        ids = torch.as_tensor(input_ids, dtype=torch.long)
        start = self._first_video_start(ids, "input_ids")
        filled = fill_video_placeholders(
            ids,
            video_start_token_id=self.video_start_token_id,
            size_token_offset=self.size_token_offset,
            frames_placeholder_token_id=self.frames_placeholder_token_id,
            fps_placeholder_token_id=self.fps_placeholder_token_id,
        )
        output = {"input_ids": filled}
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long)
            if labels.shape != ids.shape:
                raise ValueError(
                    f"labels must have the shape of input_ids {tuple(ids.shape)}, got {tuple(labels.shape)}"
                )
            text_length = filled.shape[0] - (ids.shape[0] - start)
            output["labels"] = torch.cat([torch.full((text_length,), IGNORE_INDEX), labels[start:]])
        return output

    def _first_video_start(self, ids: torch.LongTensor, name: str) -> int:
        starts = (ids == self.video_start_token_id).nonzero()
        if ids.dim() != 1 or starts.numel() == 0 or starts[0, 0] + 3 > ids.shape[0]:
            raise ValueError(
                f"{name} must be one sequence [L] with a video header [{self.video_start_token_id}, s, fps]"
            )
        return int(starts[0, 0])

    # ----------------------------------------------------------------------------------------------------------
    # Batching and parsing
    # ----------------------------------------------------------------------------------------------------------

    def pad_batch(self, features: Sequence[dict[str, torch.Tensor]], padding_side: str = "left") -> BatchFeature:
        """Pad sequences `[L_i]` to `input_ids [B, L]` and `attention_mask [B, L]` (1 = real token).

        `input_ids` are padded with `pad_token_id`; `labels`, when every feature has them, with -100.
        Generation inputs are left padded; training batches may use `padding_side="right"`.
        """
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if not features:
            raise ValueError("features must hold at least one sequence")
        keys = ["input_ids", "labels"] if all("labels" in f for f in features) else ["input_ids"]
        length = max(len(f["input_ids"]) for f in features)
        batch = {key: [] for key in [*keys, "attention_mask"]}
        for feature in features:
            pad = length - len(feature["input_ids"])
            for key in keys:
                values = torch.as_tensor(feature[key], dtype=torch.long)
                fill = torch.full((pad,), self.pad_token_id if key == "input_ids" else IGNORE_INDEX)
                batch[key].append(torch.cat([fill, values] if padding_side == "left" else [values, fill]))
            mask = [torch.zeros(pad, dtype=torch.long), torch.ones(length - pad, dtype=torch.long)]
            batch["attention_mask"].append(torch.cat(mask if padding_side == "left" else mask[::-1]))
        return BatchFeature({key: torch.stack(values) for key, values in batch.items()})

    def parse_video_tokens(
        self, input_ids: torch.Tensor | Sequence[int] | Sequence[Sequence[int]]
    ) -> list[torch.LongTensor]:
        """Latent grids of generated (or training) sequences.

        The frames between the last video start (9004, or the sequence start) and the following video end (9005,
        or the sequence end) are read; each frame's grid size comes from its size tokens.

        Args:
            input_ids: `[B, L]` or `[L]` token ids (padding anywhere outside the video is fine).

        Returns:
            One `[T, h, w]` long tensor of FSQ indices per sequence. Raises `ValueError` on a malformed frame (wrong
            length, missing new line or frame end, a token that is not a video token, such as a leftover MASK) or on
            frames of different sizes.
        """
        ids = torch.as_tensor(input_ids, dtype=torch.long)
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        if ids.dim() != 2:
            raise ValueError(f"input_ids must have shape [B, L] or [L], got {tuple(ids.shape)}")
        return [self._parse_sequence(row, f"input_ids[{index}]") for index, row in enumerate(ids)]

    def _parse_sequence(self, ids: torch.LongTensor, name: str) -> torch.LongTensor:
        starts = (ids == self.video_start_token_id).nonzero()
        begin = int(starts[-1, 0]) + 3 if starts.numel() else 0
        ends = (ids[begin:] == self.video_end_token_id).nonzero()
        video = ids[begin : begin + int(ends[0, 0])] if ends.numel() else ids[begin:]
        frame_starts = (video == self.frame_start_token_id).nonzero().flatten().tolist()
        if not frame_starts:
            raise ValueError(f"{name}: no frame (token {self.frame_start_token_id}) found in the video")
        grids = []
        for number, start in enumerate(frame_starts):
            where = f"{name}, frame {number} (video offset {start})"
            if start + 3 > video.shape[0]:
                raise ValueError(f"{where}: the sequence ends inside the frame header")
            size_units = (video[start + 1 : start + 3] - self.size_token_offset).tolist()
            if not all(0 < units < NUM_SIZE_TOKENS for units in size_units):
                raise ValueError(
                    f"{where}: expected two size tokens after the frame start, got {video[start + 1 : start + 3].tolist()}"
                )
            rows, cols = (units * LATENTS_PER_SIZE_UNIT for units in size_units)
            end = start + 3 + rows * (cols + 1)
            if end >= video.shape[0] or int(video[end]) != self.frame_end_token_id:
                raise ValueError(
                    f"{where}: expected {rows} rows of {cols} tokens and a new line, then {self.frame_end_token_id}"
                )
            content = video[start + 3 : end].view(rows, cols + 1)
            if (content[:, -1] != self.new_line_token_id).any():
                raise ValueError(f"{where}: every row must end with the new-line token {self.new_line_token_id}")
            grid = content[:, :-1] - self.video_token_offset
            if ((grid < 0) | (grid >= self.video_vocab_size)).any():
                raise ValueError(f"{where}: holds tokens that are not video tokens (e.g. MASK {self.mask_token_id})")
            if grids and grid.shape != grids[0].shape:
                raise ValueError(
                    f"{where}: grid {tuple(grid.shape)} differs from the first frame's {tuple(grids[0].shape)}"
                )
            grids.append(grid)
        return torch.stack(grids)


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def _check_resolution(height: int, width: int) -> None:
    for name, value in (("height", height), ("width", width)):
        _check_int(name, value)
        if value <= 0 or value % PIXELS_PER_SIZE_UNIT or value // PIXELS_PER_SIZE_UNIT >= NUM_SIZE_TOKENS:
            raise ValueError(
                f"{name} must be a positive multiple of {PIXELS_PER_SIZE_UNIT} up to "
                f"{PIXELS_PER_SIZE_UNIT * (NUM_SIZE_TOKENS - 1)}, got {value}"
            )


def _check_num_frames(num_frames: int) -> None:
    _check_int("num_frames", num_frames)
    if num_frames < 1 or (num_frames - 1) % TEMPORAL_COMPRESSION:
        raise ValueError(f"num_frames must be 1 + 4k pixel frames (1, 5, ..., 25, ...), got {num_frames}")


def _duration_and_fps(num_frames: int, fps: int) -> tuple[int, int]:
    """Seconds and fps of the video header: `round((num_frames - 1) / fps)` (at least 1) and fps; (1, 1) for images."""
    _check_num_frames(num_frames)
    _check_int("fps", fps)
    if not 1 <= fps < NUM_SIZE_TOKENS:
        raise ValueError(f"fps must be in [1, {NUM_SIZE_TOKENS - 1}], got {fps}")
    if num_frames == 1:
        return 1, 1
    seconds = max(1, math.floor((num_frames - 1) / fps + 0.5))
    if seconds >= NUM_SIZE_TOKENS:
        raise ValueError(f"(num_frames - 1) / fps must be at most {NUM_SIZE_TOKENS - 1} seconds, got {seconds}")
    return seconds, fps
