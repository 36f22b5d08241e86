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

import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from transformers import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .sequence_format import (
    IGNORE_INDEX,
    LATENTS_PER_SIZE_UNIT,
    PIXELS_PER_SIZE_UNIT,
    SPATIAL_COMPRESSION,
    check_resolution,
    duration_and_fps,
    fill_video_placeholders,
    first_video_start,
    frame_length,
    frame_scaffold,
    latent_grid_size,
    num_latent_frames,
    num_pixel_frames,
    pad_sequences,
    parse_video_tokens,
    video_frame_tokens,
    video_header,
    video_token_positions,
)
from .tokens import OFFICIAL_TOKEN_LAYOUT as OFFICIAL
from .tokens import TokenLayout

TOKENIZER_FILE = "tokenizer.json"

PROMPT_TEMPLATE = (
    "Generate a video with a resolution of {width}x{height}, consisting of {num_frames} frames at {fps} frames "
    "per second, according to the following prompt:\n "
)


class LumosProcessor(ProcessorMixin):
    """Builds and parses Lumos-1 token sequences; holds the text tokenizer and the token layout.

    Args:
        tokenizer: the Lumos text tokenizer (`lumos_hf.text_tokenizer.convert_text_tokenizer`), a
            `PreTrainedTokenizerFast` with the ids of the token layout.
        prompt_template: `str.format` template with `{width}`, `{height}`, `{num_frames}` and `{fps}`; the caption
            is appended to it.
        bos_token_id, pad_token_id, ..., video_vocab_size: the fields of the `TokenLayout` (official defaults,
            `lumos_hf.tokens`). They are saved with the processor and must equal the transformer config's.

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
        bos_token_id: int = OFFICIAL.bos_token_id,
        pad_token_id: int = OFFICIAL.pad_token_id,
        eos_token_id: int = OFFICIAL.eos_token_id,
        sep_token_id: int = OFFICIAL.sep_token_id,
        frame_start_token_id: int = OFFICIAL.frame_start_token_id,
        frame_end_token_id: int = OFFICIAL.frame_end_token_id,
        new_line_token_id: int = OFFICIAL.new_line_token_id,
        video_start_token_id: int = OFFICIAL.video_start_token_id,
        video_end_token_id: int = OFFICIAL.video_end_token_id,
        mask_token_id: int = OFFICIAL.mask_token_id,
        size_token_offset: int = OFFICIAL.size_token_offset,
        num_size_tokens: int = OFFICIAL.num_size_tokens,
        digit_token_offset: int = OFFICIAL.digit_token_offset,
        frames_placeholder_token_id: int = OFFICIAL.frames_placeholder_token_id,
        fps_placeholder_token_id: int = OFFICIAL.fps_placeholder_token_id,
        text_vocab_size: int = OFFICIAL.text_vocab_size,
        video_token_offset: int = OFFICIAL.video_token_offset,
        video_vocab_size: int = OFFICIAL.video_vocab_size,
    ):
        self.prompt_template = prompt_template
        layout = {name: value for name, value in locals().items() if name in _LAYOUT_FIELDS}
        self.token_layout = TokenLayout(**layout)
        for name, value in layout.items():  # saved by ProcessorMixin.to_dict with the processor's config
            setattr(self, name, value)
        super().__init__(tokenizer)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """`ProcessorMixin.from_pretrained`; a local folder without the text tokenizer's `tokenizer.json` is refused
        with a `FileNotFoundError` naming it (instead of the tokenizer loader's advice to install sentencepiece)."""
        folder = Path(pretrained_model_name_or_path, kwargs.get("subfolder") or "")
        if folder.is_dir() and not (folder / TOKENIZER_FILE).is_file():
            raise FileNotFoundError(
                f"{folder} has no {TOKENIZER_FILE}: a LumosProcessor folder holds processor_config.json and the text "
                f"tokenizer ({TOKENIZER_FILE}, tokenizer_config.json), as LumosProcessor.save_pretrained writes them"
            )
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    # ----------------------------------------------------------------------------------------------------------
    # Geometry and text
    # ----------------------------------------------------------------------------------------------------------

    @staticmethod
    def num_latent_frames(num_frames: int) -> int:
        """Latent frames `T = 1 + (num_frames - 1) / 4` of `num_frames = 1 + 4k` pixel frames."""
        return num_latent_frames(num_frames)

    def latent_size(self, height: int, width: int) -> tuple[int, int]:
        """Latent grid `(h, w) = (height / 8, width / 8)` of a frame; height and width must be multiples of 32."""
        return latent_grid_size(height, width, self.token_layout)

    def size_token(self, n: int) -> int:
        """Id of the size token of the integer `n`."""
        return self.token_layout.size_token(n)

    def video_header_ids(self, num_frames: int, fps: int) -> list[int]:
        """`[9004, size(seconds), size(fps)]`; images (`num_frames == 1`) get `[9004, size(1), size(1)]`."""
        return video_header(num_frames, fps, self.token_layout)

    def build_prompt_ids(self, prompt: str, height: int, width: int, num_frames: int = 1, fps: int = 1) -> list[int]:
        """`[0] + tokenizer(template.format(...) + prompt)`: BOS and the text of the conditional sequence.

        The text states `num_frames - 1` frames at `fps` frames per second for a video, 1 frame at 1 fps for an
        image (`num_frames == 1`).
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        check_resolution(height, width, self.token_layout)
        duration_and_fps(num_frames, fps, self.token_layout)
        is_image = num_frames == 1
        text = self.prompt_template.format(
            width=width, height=height, num_frames=1 if is_image else num_frames - 1, fps=1 if is_image else fps
        )
        # split_special_tokens: a prompt that spells a control token ("<s>", "<racm3:break>") stays plain text.
        ids = self.tokenizer(text + prompt, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        return [self.token_layout.bos_token_id, *ids]

    # ----------------------------------------------------------------------------------------------------------
    # Frames
    # ----------------------------------------------------------------------------------------------------------

    def frame_tokens(self, latent_grid: torch.Tensor) -> torch.LongTensor:
        """Tokens `[L_f]` of one frame from its latent grid `[h, w]` of FSQ indices, `L_f = h * (w + 1) + 4`."""
        return video_frame_tokens(self._check_grid(latent_grid, "latent_grid")[None], self.token_layout)

    def frame_scaffold(self, height: int, width: int) -> tuple[torch.LongTensor, torch.BoolTensor]:
        """A fully masked frame for AR-DF sampling (LUMOS_SPEC 7, step 1).

        Returns:
            `tokens [L_f]`: the frame with every video token replaced by MASK (9003); new-line tokens stay.
            `is_masked [L_f]` bool: True at the `h * w` video-token positions (raster order).
        """
        rows, cols = self.latent_size(height, width)
        tokens = frame_scaffold(rows, cols, self.token_layout)
        is_masked = torch.zeros_like(tokens, dtype=torch.bool)
        is_masked[video_token_positions(rows, cols)] = True
        return tokens, is_masked

    def _check_grid(self, grid: torch.Tensor, name: str) -> torch.LongTensor:
        """Validate one latent grid `[h, w]` of FSQ indices (h and w multiples of 4)."""
        if not isinstance(grid, torch.Tensor) or grid.dtype.is_floating_point or grid.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer torch.Tensor of FSQ indices")
        units = LATENTS_PER_SIZE_UNIT
        if grid.dim() != 2 or grid.shape[0] % units or grid.shape[1] % units:
            raise ValueError(
                f"{name} must have shape [H/8, W/8] with both sides multiples of {units} "
                f"(H, W multiples of {PIXELS_PER_SIZE_UNIT}), got {tuple(grid.shape)}"
            )
        largest = units * (self.token_layout.num_size_tokens - 1)
        if grid.numel() == 0 or max(grid.shape) > largest:
            raise ValueError(f"{name} sides must be in [{units}, {largest}], got {tuple(grid.shape)}")
        if int(grid.min()) < 0 or int(grid.max()) >= self.token_layout.video_vocab_size:
            raise ValueError(f"{name} must hold FSQ indices in [0, {self.token_layout.video_vocab_size - 1}]")
        return grid.long()

    def video_tokens(self, latents: torch.Tensor, name: str = "latents") -> torch.LongTensor:
        """Concatenated frame tokens `[T * L_f]` of latent frames `[T, h, w]`."""
        if not isinstance(latents, torch.Tensor) or latents.dim() != 3 or latents.shape[0] == 0:
            raise ValueError(f"{name} must be a tensor [T, h, w] with T >= 1")
        grids = torch.stack([self._check_grid(grid, f"{name}[{t}]") for t, grid in enumerate(latents)])
        return video_frame_tokens(grids, self.token_layout)

    # ----------------------------------------------------------------------------------------------------------
    # Generation inputs
    # ----------------------------------------------------------------------------------------------------------

    def __call__(
        self,
        text: str | list[str] | None,
        height: int,
        width: int,
        num_frames: int = 1,
        fps: int = 1,
        negative_prompt: str | list[str] | None = None,
        conditioning_latents: torch.Tensor | list[torch.Tensor] | None = None,
        prompt_ids: Sequence[Sequence[int]] | None = None,
        negative_prompt_ids: Sequence[Sequence[int] | None] | None = None,
    ) -> BatchFeature:
        """Generation inputs for T2I, T2V, I2V and video continuation, left padded.

        Args:
            text: one prompt or a batch of B prompts (None with `prompt_ids`).
            height, width: frame size in pixels, multiples of 32.
            num_frames: pixel frames `1 + 4k` (1 for an image, 25 for 2 s at 12 fps).
            fps: frames per second (ignored for images).
            negative_prompt: replaces the unconditional branch by this prompt (one for all, or B).
            conditioning_latents: the given first latent frames (I2V: one; continuation: several), FSQ indices:
                `[T_c, h, w]` shared by the batch, `[B, T_c, h, w]` or a list of B `[T_c, h, w]`, with
                `1 <= T_c < T`; they are appended as frame tokens after the video header in both branches.
            prompt_ids: instead of `text`: B lists of ids `[bos] + text` (as `build_prompt_ids` returns them), used as
                given (raw ids: control tokens too).
            negative_prompt_ids: instead of `negative_prompt`: B lists of ids (or None entries: no text).

        Returns:
            `BatchFeature` with, for the conditional branch,
            `input_ids [B, L]`: `[0] + text + [8710] + [9004, size(seconds), size(fps)] + given frames`, and
            `attention_mask [B, L]` (1 = real token); for the guidance branch `uncond_input_ids [B, L_u]` and
            `uncond_attention_mask [B, L_u]`: `[9004, size(seconds), size(fps)] + given frames` (no BOS, no text,
            LUMOS_SPEC 7), or the negative prompt in the conditional format. Padding: LEFT, with `pad_token_id`;
            the model derives positions from the attention mask. Plus `num_latent_frames` (T) and
            `num_conditioning_frames` (T_c), both 0-dim long tensors.
        """
        if (text is None) == (prompt_ids is None):
            raise ValueError("give exactly one of text and prompt_ids")
        if prompt_ids is None:
            prompts = [text] if isinstance(text, str) else list(text)
            if not prompts or not all(isinstance(prompt, str) for prompt in prompts):
                raise TypeError("text must be a str or a non-empty list of str")
            prompt_ids = [self.build_prompt_ids(prompt, height, width, num_frames, fps) for prompt in prompts]
        batch_size = len(prompt_ids)
        if negative_prompt is not None and negative_prompt_ids is not None:
            raise ValueError("give at most one of negative_prompt and negative_prompt_ids")
        if negative_prompt_ids is None:
            negatives = self._broadcast_prompts(negative_prompt, batch_size, "negative_prompt")
            negative_prompt_ids = [
                None if n is None else self.build_prompt_ids(n, height, width, num_frames, fps) for n in negatives
            ]
        if len(negative_prompt_ids) != batch_size:
            raise ValueError(f"negative_prompt_ids must hold {batch_size} entries (one per prompt)")
        total_frames = self.num_latent_frames(num_frames)
        header = self.video_header_ids(num_frames, fps)
        given = self._conditioning_tokens(conditioning_latents, batch_size, height, width, total_frames)

        def branch(ids: Sequence[int] | None, frames: torch.LongTensor) -> torch.LongTensor:
            text_ids = [] if ids is None else [*self._check_ids(ids), self.token_layout.sep_token_id]
            return torch.cat([torch.tensor(text_ids + header, dtype=torch.long), frames])

        pad = self.token_layout.pad_token_id
        input_ids, attention_mask = pad_sequences([branch(p, f) for p, f in zip(prompt_ids, given)], pad)
        uncond_ids, uncond_mask = pad_sequences([branch(n, f) for n, f in zip(negative_prompt_ids, given)], pad)
        num_given = given[0].shape[0] // frame_length(*self.latent_size(height, width))
        return BatchFeature(
            {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "uncond_input_ids": uncond_ids,
                "uncond_attention_mask": uncond_mask,
                "num_latent_frames": torch.tensor(total_frames),
                "num_conditioning_frames": torch.tensor(num_given),
            }
        )

    def _check_ids(self, ids: Sequence[int]) -> list[int]:
        """Text ids given by the caller: ints in the vocabulary."""
        ids = list(ids)
        vocab_size = self.token_layout.vocab_size
        if not ids or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < vocab_size for i in ids):
            raise ValueError(f"prompt ids must be non-empty lists of ints in [0, {vocab_size - 1}]")
        return ids

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
            fps: frames per second of a video.

        Returns:
            `input_ids [L]` and `labels [L]` (long): labels are the input ids from the 9004 token on, -100 before.
        """
        layout = self.token_layout
        frames = self.video_tokens(latents)
        num_frames = num_pixel_frames(latents.shape[0])
        tail = [layout.video_end_token_id, layout.sep_token_id]
        video = torch.cat([torch.tensor(self.video_header_ids(num_frames, fps)), frames, torch.tensor(tail)])
        if prompt is None:
            text_ids = []
        elif isinstance(prompt, str):
            height, width = (side * SPATIAL_COMPRESSION for side in latents.shape[1:])
            text_ids = [*self.build_prompt_ids(prompt, height, width, num_frames, fps), layout.sep_token_id]
        else:
            text_ids = [*prompt, layout.sep_token_id]
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
        Only the text before the first 9004 is searched (inside frames, 65539 and 65540 are video tokens): the rule
        of `lumos_hf.sequence_format.fill_video_placeholders`, with this processor's token layout.

        Returns:
            `input_ids [L']` and, when `labels` is given, `labels [L']` with -100 on the (longer) text.
        """
        ids = torch.as_tensor(input_ids, dtype=torch.long)
        start = first_video_start(ids, self.token_layout)
        filled = fill_video_placeholders(ids, self.token_layout)
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

    # ----------------------------------------------------------------------------------------------------------
    # Batching and parsing
    # ----------------------------------------------------------------------------------------------------------

    def pad_batch(self, features: Sequence[dict[str, torch.Tensor]], padding_side: str = "left") -> BatchFeature:
        """Pad sequences `[L_i]` to `input_ids [B, L]` and `attention_mask [B, L]` (1 = real token).

        `input_ids` are padded with `pad_token_id`; `labels`, when every feature has them, with -100.
        Generation inputs are left padded; training batches may use `padding_side="right"`.
        """
        if not features:
            raise ValueError("features must hold at least one sequence")
        pad = self.token_layout.pad_token_id
        input_ids, mask = pad_sequences([f["input_ids"] for f in features], pad, padding_side)
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if all("labels" in f for f in features):
            batch["labels"] = pad_sequences([f["labels"] for f in features], IGNORE_INDEX, padding_side)[0]
        return BatchFeature(batch)

    def parse_video_tokens(
        self, input_ids: torch.Tensor | Sequence[int] | Sequence[Sequence[int]]
    ) -> list[torch.LongTensor]:
        """Latent grids of generated (or training) sequences.

        Args:
            input_ids: `[B, L]` or `[L]` token ids (padding anywhere outside the video is fine).

        Returns:
            One `[T, h, w]` long tensor of FSQ indices per sequence (`lumos_hf.sequence_format.parse_video_tokens`).
        """
        ids = torch.as_tensor(input_ids, dtype=torch.long)
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        if ids.dim() != 2:
            raise ValueError(f"input_ids must have shape [B, L] or [L], got {tuple(ids.shape)}")
        grids = []
        for index, row in enumerate(ids):
            try:
                grids.append(parse_video_tokens(row, self.token_layout))
            except ValueError as error:
                raise ValueError(f"input_ids[{index}]: {error}") from error
        return grids


_LAYOUT_FIELDS = frozenset(field.name for field in fields(TokenLayout))
