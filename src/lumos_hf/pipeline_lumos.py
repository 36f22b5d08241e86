"""LumosPipeline: text-to-image, text-to-video, image-to-video and video continuation with Lumos-1 (AR-DF sampling).

Latent frames are generated one after the other; each frame is decoded in parallel by masked discrete diffusion
(`ARDFScheduler`) over its `h * w` video tokens (LUMOS_SPEC section 7). The stages, as in diffusers' pipelines:
`encode_prompt` (the token sequences of both guidance branches), `prepare_latents` (the latent video, given frames
filled in), the prompt and given frames encoded once into a KV cache, the per-frame loop (a step runs only the
current frame against that cache, both branches batched into one forward projecting onto the video rows of the head
only; a finished frame is committed to the cache once, partially observed: the history mask) and `decode_latents`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput, logging, replace_example_docstring
from diffusers.video_processor import VideoProcessor
from huggingface_hub import ModelCard, create_repo
from transformers.cache_utils import Cache

from .lora_loader_lumos import LumosLoraLoaderMixin
from .model_card import lumos_model_card
from .modeling_lumos import LumosForVideoGeneration
from .processing_lumos import LumosProcessor
from .remote_code import write_remote_code
from .scheduling_ardf import HISTORY_MASK_MODES, ARDFScheduler, guided_logits, make_history_mask
from .sequence_format import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    PIXELS_PER_SIZE_UNIT,
    SPATIAL_COMPRESSION,
    TEMPORAL_COMPRESSION,
    frame_length,
    frame_scaffold,
    left_pad_batches,
    mask_content,
    num_content_tokens,
    num_latent_frames,
    video_frame_tokens,
    video_token_positions,
)
from .video_processing_lumos import frames_to_tensor
from .video_tokenizer.modeling_cosmos_dv import CosmosDiscreteVideoTokenizer

logger = logging.get_logger(__name__)

DEFAULT_VIDEO_GUIDANCE_SCALE = 15.0  # official T2V / I2V scripts
DEFAULT_IMAGE_GUIDANCE_SCALE = 16.0  # official T2I script and the paper's evaluation
# The official defaults; a pipeline's `generation_config` (saved in its model_index.json) overrides any of them, an
# argument of the call overrides both. `guidance_scale` None: 15 for videos, 16 for images.
GENERATION_DEFAULTS: dict[str, Any] = {
    "height": DEFAULT_HEIGHT,
    "width": DEFAULT_WIDTH,
    "num_frames": 25,
    "fps": 12,
    "num_inference_steps": 50,
    "guidance_scale": None,
    "history_mask_ratio": 0.7,
    "history_mask": "periodic",
}
OUTPUT_TYPES = ("pil", "np", "pt", "latent", "tokens")  # "tokens": an alias of "latent" (FSQ indices)
LATENT_OUTPUT_TYPES = ("latent", "tokens")

EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> import torch
        >>> from diffusers.utils import export_to_video
        >>> from lumos_hf import (ARDFScheduler, CosmosDiscreteVideoTokenizer, LumosConfig, LumosForVideoGeneration,
        ...                       LumosPipeline, LumosProcessor)
        >>> from lumos_hf.testing import build_tiny_chameleon_tokenizer

        >>> # A converted checkpoint loads with `LumosPipeline.from_pretrained(path, dtype=torch.bfloat16)`;
        >>> # here: tiny random components that run on a CPU in seconds.
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> transformer = LumosForVideoGeneration(
        ...     LumosConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
        ... )
        >>> pipe = LumosPipeline(
        ...     transformer=transformer,
        ...     video_tokenizer=CosmosDiscreteVideoTokenizer(channels=16),
        ...     processor=LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer()),
        ...     scheduler=ARDFScheduler(),
        ... )
        >>> output = pipe(
        ...     "A small bird flying over the sea",
        ...     height=32,
        ...     width=64,
        ...     num_frames=9,
        ...     fps=8,
        ...     num_inference_steps=4,
        ...     generator=torch.Generator().manual_seed(0),
        ... )
        >>> video = output.frames[0]  # 9 frames [32, 64, 3] in [0, 1]
        >>> video.shape
        (9, 32, 64, 3)
        >>> path = export_to_video(video, "lumos.mp4", fps=8)
        ```
"""


@dataclass
class LumosPipelineOutput(BaseOutput):
    """Output of [`LumosPipeline`].

    Args:
        frames: per video its `F = 1 + 4 (T - 1)` frames: with `output_type="np"` an array `[B, F, H, W, 3]` in
            `[0, 1]`, `"pt"` a tensor `[B, F, 3, H, W]` in `[0, 1]`, `"pil"` a list of B lists of F PIL images, and
            `"latent"` (or `"tokens"`) the latent grids `[B, T, h, w]` (long FSQ indices, not decoded). An image is a
            video of one frame.
    """

    frames: list[list[PIL.Image.Image]] | np.ndarray | torch.Tensor


class LumosPipeline(DiffusionPipeline, LumosLoraLoaderMixin):
    r"""
    Lumos-1 generation: text-to-image (`num_frames=1`), text-to-video, image-to-video (`image`) and video continuation
    (`video`, or given `latents`), by autoregressive discrete diffusion forcing (AR-DF).

    Args:
        transformer ([`LumosForVideoGeneration`]): the Lumos-1 LLM.
        video_tokenizer ([`CosmosDiscreteVideoTokenizer`], *optional*): encodes given frames and decodes the generated
            latents; not needed for `output_type="latent"` without `image` / `video`.
        processor ([`LumosProcessor`]): builds the token sequences (text template, video header, frames).
        scheduler ([`ARDFScheduler`]): the per-frame masked discrete diffusion.
        generation_config (`dict`, *optional*): default `height`, `width`, `num_frames`, `fps`,
            `num_inference_steps`, `guidance_scale`, `history_mask_ratio` and `history_mask` of this model (any
            subset; the others keep the official defaults, `GENERATION_DEFAULTS`). Saved in `model_index.json` and
            read back by `from_pretrained`, so a user of a model trained at another size needs to know nothing about
            it.

    The components must agree: the processor's token layout equals the transformer's (`config.token_layout`) and the
    video tokenizer's codebook is the transformer's video vocabulary; this is checked once, when the pipeline is built.
    """

    model_cpu_offload_seq = "transformer->video_tokenizer"
    _optional_components = ["video_tokenizer"]
    _callback_tensor_inputs = ["latents", "is_masked", "logits"]

    def __init__(
        self,
        transformer: LumosForVideoGeneration,
        video_tokenizer: CosmosDiscreteVideoTokenizer | None,
        processor: LumosProcessor,
        scheduler: ARDFScheduler,
        generation_config: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.register_modules(
            transformer=transformer, video_tokenizer=video_tokenizer, processor=processor, scheduler=scheduler
        )
        self._check_components()
        self.register_to_config(generation_config=_check_generation_config(generation_config))
        self.video_processor = VideoProcessor(vae_scale_factor=SPATIAL_COMPRESSION, do_resize=False)
        self._guidance_scale = DEFAULT_VIDEO_GUIDANCE_SCALE
        self._num_timesteps = 0
        self._current_timestep: int | None = None
        self._interrupt = False

    memory_check = True  # set False to skip the pre-flight memory estimate (machines it underrates)

    def estimate_memory(
        self, batch_size: int, height: int, width: int, num_frames: int, guidance: bool = True
    ) -> dict[str, int]:
        """Bytes a call needs beyond the weights, by part, at its peak: the KV cache of the whole sequence (prompt
        bound: 1,024 tokens), one step's activations and block-causal mask, the sampling buffers over the video
        vocabulary, and the video tokenizer's decoding (its temporal chunk)."""
        config, rows, cols = self.transformer.config, height // SPATIAL_COMPRESSION, width // SPATIAL_COMPRESSION
        element = self.transformer.dtype.itemsize
        frame, branches = frame_length(rows, cols), batch_size * (2 if guidance else 1)
        tokens = 1024 + num_latent_frames(num_frames) * frame
        estimate = {
            "kv_cache": branches * config.num_hidden_layers * 2 * config.num_key_value_heads * config.head_dim
            * tokens * element,
            "step": branches * frame * (4 * max(config.hidden_size, config.intermediate_size) * element + tokens),
            "sampling": batch_size * rows * cols * config.video_vocab_size * 4 * 3,
        }  # fmt: skip
        if self.video_tokenizer is not None:
            tokenizer = self.video_tokenizer.config
            chunk = self.video_tokenizer.temporal_chunk_size or num_latent_frames(num_frames)
            pixels = min(num_frames, 1 + TEMPORAL_COMPRESSION * chunk) * height * width
            videos = 1 if self.video_tokenizer.use_slicing else batch_size
            channels = tokenizer.channels * max(tokenizer.channels_mult)
            estimate["decode"] = videos * pixels * channels * 4 * 3 // 4  # the widest activations, a few at a time
        return estimate

    def check_memory(self, batch_size: int, height: int, width: int, num_frames: int, guidance: bool) -> None:
        """Raise `ValueError` (before any work) when `estimate_memory` exceeds the memory available on the device;
        `pipe.memory_check = False` skips it."""
        estimate = self.estimate_memory(batch_size, height, width, num_frames, guidance)
        available = _available_memory(self._execution_device)
        if available is not None and sum(estimate.values()) > available:
            parts = ", ".join(f"{name} {_size(value)}" for name, value in estimate.items())
            raise ValueError(
                f"{batch_size} video(s) of {num_frames} frames at {height}x{width} need about "
                f"{_size(sum(estimate.values()))} beyond the weights ({parts}), more than the {_size(available)} "
                "available: lower num_frames, the size or the batch (or set pipe.memory_check = False)"
            )

    def _check_components(self) -> None:
        """Raise `ValueError` when the components disagree on the token layout or the video vocabulary."""
        if self.transformer is None:
            return
        layout = self.transformer.config.token_layout
        # Compared as dicts: in a remote-code folder each component has its own copy of the TokenLayout class.
        if self.processor is not None and self.processor.token_layout.to_dict() != layout.to_dict():
            differences = {
                name: (value, getattr(self.processor.token_layout, name))
                for name, value in layout.to_dict().items()
                if getattr(self.processor.token_layout, name) != value
            }
            raise ValueError(
                f"processor and transformer disagree on the token layout (transformer, processor): {differences}"
            )
        if self.video_tokenizer is not None and self.video_tokenizer.codebook_size != layout.video_vocab_size:
            raise ValueError(
                f"the video tokenizer's codebook ({self.video_tokenizer.codebook_size}) must equal the transformer's "
                f"video_vocab_size ({layout.video_vocab_size})"
            )

    @property
    def generation_defaults(self) -> dict[str, Any]:
        """The defaults of `__call__`: `GENERATION_DEFAULTS` updated with this pipeline's `generation_config`."""
        return {**GENERATION_DEFAULTS, **(self.config.get("generation_config") or {})}

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        """Sampling steps of the current call: generated latent frames times steps per frame."""
        return self._num_timesteps

    @property
    def current_timestep(self) -> int | None:
        """The step within the current frame while sampling, None otherwise."""
        return self._current_timestep

    @property
    def interrupt(self) -> bool:
        """Set it (`pipe._interrupt = True`, e.g. from a callback) to stop after the current step."""
        return self._interrupt

    # ------------------------------------------------------------------------------------------------------------
    # Inputs

    def check_inputs(
        self,
        prompt: str | list[str] | None,
        negative_prompt: str | list[str] | None,
        prompt_ids: list[list[int]] | None,
        negative_prompt_ids: list[list[int]] | None,
        image: Any,
        video: Any,
        latents: torch.Tensor | None,
        height: int,
        width: int,
        num_frames: int,
        fps: int,
        num_inference_steps: int,
        guidance_scale: float,
        history_mask_ratio: float,
        history_mask: str,
        num_videos_per_prompt: int,
        generator: torch.Generator | list[torch.Generator] | None,
        output_type: str,
        callback_on_step_end_tensor_inputs: list[str] | None,
    ) -> int:
        """Raise `TypeError` / `ValueError` naming the argument and the accepted values; returns the number of
        prompts."""
        num_prompts = self._num_prompts(prompt, prompt_ids)
        if negative_prompt is not None and negative_prompt_ids is not None:
            raise ValueError("pass negative_prompt or negative_prompt_ids, not both")
        if negative_prompt is not None:
            negatives = [negative_prompt] if isinstance(negative_prompt, str) else negative_prompt
            if not isinstance(negatives, (list, tuple)) or not all(isinstance(p, str) for p in negatives):
                raise TypeError("negative_prompt must be None, a str or a list of str")
            if len(negatives) not in (1, num_prompts):
                raise ValueError(f"negative_prompt must be one str or a list of {num_prompts} (one per prompt)")
        if negative_prompt_ids is not None and len(_as_id_lists(negative_prompt_ids, "negative_prompt_ids")) not in (
            1,
            num_prompts,
        ):
            raise ValueError(f"negative_prompt_ids must hold one id list or {num_prompts} (one per prompt)")
        size_limit = PIXELS_PER_SIZE_UNIT * (self.processor.token_layout.num_size_tokens - 1)
        for name, value, low, high in (
            ("height", height, PIXELS_PER_SIZE_UNIT, size_limit),
            ("width", width, PIXELS_PER_SIZE_UNIT, size_limit),
            ("num_frames", num_frames, 1, None),
            ("fps", fps, 1, self.processor.token_layout.num_size_tokens - 1),
            ("num_inference_steps", num_inference_steps, 1, None),
            ("num_videos_per_prompt", num_videos_per_prompt, 1, None),
        ):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < low or (high is not None and value > high):
                accepted = f"[{low}, {high}]" if high is not None else f">= {low}"
                raise ValueError(f"{name} must be in {accepted}, got {value}")
        if height % PIXELS_PER_SIZE_UNIT or width % PIXELS_PER_SIZE_UNIT:
            raise ValueError(
                f"height and width must be multiples of {PIXELS_PER_SIZE_UNIT}, got height={height}, width={width}"
            )
        if (num_frames - 1) % TEMPORAL_COMPRESSION:
            raise ValueError(
                f"num_frames must be 1 + {TEMPORAL_COMPRESSION}k (1 for an image; 5, 9, ..., 25, ... for a video), "
                f"got {num_frames}"
            )
        if not _real_number(guidance_scale, "guidance_scale") >= 1 or math.isinf(guidance_scale):
            raise ValueError(
                f"guidance_scale must be a finite number >= 1 (1 disables guidance), got {guidance_scale!r}"
            )
        if not 0 <= _real_number(history_mask_ratio, "history_mask_ratio") < 1:
            raise ValueError(f"history_mask_ratio must be in [0, 1), got {history_mask_ratio!r}")
        if history_mask not in HISTORY_MASK_MODES:
            raise ValueError(f"history_mask must be one of {HISTORY_MASK_MODES}, got {history_mask!r}")
        given = [
            name for name, value in (("image", image), ("video", video), ("latents", latents)) if value is not None
        ]
        if len(given) > 1:
            raise ValueError(
                f"pass at most one of image (image-to-video), video and latents (continuation), got {given}"
            )
        if given and num_frames == 1:
            raise ValueError(f"{given[0]} conditions a video: num_frames must be at least 5 (1 + 4k, k >= 1)")
        if (image is not None or video is not None) and self.video_tokenizer is None:
            raise ValueError(f"{given[0]} must be encoded: load the pipeline with a video_tokenizer, or pass latents")
        generators = generator if isinstance(generator, list) else [generator]
        if not all(gen is None or isinstance(gen, torch.Generator) for gen in generators):
            raise TypeError(
                "generator must be a torch.Generator, a list of them (one per video) or None, got "
                f"{type(generator).__name__}" + (f" holding {sorted({type(g).__name__ for g in generators})}"
                                                 if isinstance(generator, list) else "")
            )  # fmt: skip
        if isinstance(generator, list) and len(generator) != num_prompts * num_videos_per_prompt:
            raise ValueError(
                f"generator must be one torch.Generator or a list of {num_prompts * num_videos_per_prompt} "
                f"(len(prompt) * num_videos_per_prompt), got a list of {len(generator)}"
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        if output_type not in LATENT_OUTPUT_TYPES and self.video_tokenizer is None:
            raise ValueError(f"output_type={output_type!r} decodes frames: load a video_tokenizer or use 'latent'")
        if callback_on_step_end_tensor_inputs is not None and not all(
            k in self._callback_tensor_inputs for k in callback_on_step_end_tensor_inputs
        ):
            raise ValueError(
                f"callback_on_step_end_tensor_inputs must be in {self._callback_tensor_inputs}, got "
                f"{[k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]}"
            )
        return num_prompts

    @staticmethod
    def _num_prompts(prompt: str | list[str] | None, prompt_ids: Any) -> int:
        if prompt is not None and prompt_ids is not None:
            raise ValueError("pass prompt or prompt_ids, not both")
        if prompt_ids is not None:
            return len(_as_id_lists(prompt_ids, "prompt_ids"))
        if isinstance(prompt, str):
            return 1
        if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
            if not prompt:
                raise ValueError("prompt must be a str or a non-empty list of str, got an empty list")
            return len(prompt)
        raise TypeError(f"prompt must be a str or a list of str, got {type(prompt).__name__}")

    def encode_conditioning(
        self, frames: Any, name: str, height: int, width: int, num_frames: int, num_prompts: int
    ) -> torch.LongTensor:
        """Encode the given image(s) or video(s) into latent frames with the video tokenizer.

        Args:
            frames: one image / video for all prompts or a list of `num_prompts`. An image is a PIL image, a uint8
                array `[H, W, 3]` or a float tensor `[3, H, W]` in `[-1, 1]`; a video is a list of PIL images, a uint8
                array `[F, H, W, 3]` or a float tensor `[3, F, H, W]` in `[-1, 1]`, with `F = 1 + 4k` frames.
            name: `"image"` or `"video"`, for error messages.
            height, width: the requested size; the frames must have it.
            num_frames: the requested pixel frames; the given frames must give fewer latent frames.
            num_prompts: B.

        Returns:
            `[B, T_c, h, w]` FSQ indices.
        """
        is_one = not isinstance(frames, (list, tuple)) or (
            name == "video" and all(isinstance(f, PIL.Image.Image) for f in frames)
        )
        items = [frames] if is_one else list(frames)
        if not is_one and len(items) != num_prompts:
            raise ValueError(f"{name} must be one {name} for all prompts or a list of {num_prompts} (one per prompt)")
        videos = []
        for index, item in enumerate(items):
            if isinstance(item, torch.Tensor) and item.is_floating_point():
                tensor = item.unsqueeze(1) if item.dim() == 3 else item
            else:
                tensor = frames_to_tensor(item)
            if tensor.dim() != 4 or tensor.shape[0] != 3 or (name == "image" and tensor.shape[1] != 1):
                raise ValueError(
                    f"{name}[{index}] must be {'one RGB image' if name == 'image' else 'an RGB video'}, got a tensor "
                    f"of shape {tuple(tensor.shape)} after conversion to [3, frames, H, W]"
                )
            if (tensor.shape[1] - 1) % TEMPORAL_COMPRESSION:
                raise ValueError(
                    f"{name}[{index}] must have 1 + {TEMPORAL_COMPRESSION}k frames, got {tensor.shape[1]}"
                )
            if tuple(tensor.shape[2:]) != (height, width):
                raise ValueError(
                    f"{name}[{index}] is {tensor.shape[2]}x{tensor.shape[3]} (HxW) but height x width is "
                    f"{height}x{width}: resize or crop it (lumos_hf.video_processing_lumos.bucket_crop) or pass "
                    "matching height/width"
                )
            videos.append(tensor)
        if len({tuple(v.shape) for v in videos}) > 1:
            raise ValueError(f"every {name} must have the same size and frame count")
        batch = torch.stack(videos).to(device=self.video_tokenizer.device, dtype=self.video_tokenizer.dtype)
        latents = self.video_tokenizer.encode(batch).expand(num_prompts, -1, -1, -1)
        if latents.shape[1] >= num_latent_frames(num_frames):
            raise ValueError(
                f"{name} gives {latents.shape[1]} latent frames ({videos[0].shape[1]} frames): num_frames must give "
                f"more, i.e. num_frames > {videos[0].shape[1]}"
            )
        return latents

    def encode_prompt(
        self,
        prompt: str | list[str] | None,
        negative_prompt: str | list[str] | None = None,
        prompt_ids: list[list[int]] | None = None,
        negative_prompt_ids: list[list[int]] | None = None,
        height: int = DEFAULT_HEIGHT,
        width: int = DEFAULT_WIDTH,
        num_frames: int = 25,
        fps: int = 12,
        num_videos_per_prompt: int = 1,
        do_classifier_free_guidance: bool = True,
    ) -> tuple[torch.LongTensor, torch.LongTensor]:
        """The token sequences of the prompt(s), before any frame: what the transformer encodes into its KV cache.

        Args:
            prompt: the caption(s); or `prompt_ids`: the text ids themselves, `[bos] + text` per prompt (as
                `processor.build_prompt_ids` returns them; raw ids, control tokens included, are used as given).
            negative_prompt / negative_prompt_ids: the unconditional branch's text (default: none, LUMOS_SPEC 7).
            height, width, num_frames, fps: written into the text template and the video header.
            num_videos_per_prompt: each prompt's rows are repeated.
            do_classifier_free_guidance: also return the unconditional branch.

        Returns:
            `prompt_input_ids [R, L]` and `prompt_attention_mask [R, L]`, left padded: the conditional sequences
            `[bos] + text + [sep] + [video_start, size(s), size(fps)]` of the `B = num_prompts *
            num_videos_per_prompt` videos, then (with guidance) their unconditional sequences; `R = B` or `2 B`.
        """
        if prompt_ids is None:
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            prompt_ids = [self.processor.build_prompt_ids(p, height, width, num_frames, fps) for p in prompts]
        else:
            prompt_ids = _as_id_lists(prompt_ids, "prompt_ids")
        if negative_prompt is not None:
            negatives = [negative_prompt] if isinstance(negative_prompt, str) else list(negative_prompt)
            negative_prompt_ids = [
                self.processor.build_prompt_ids(n, height, width, num_frames, fps) for n in negatives
            ]
        elif negative_prompt_ids is not None:
            negative_prompt_ids = _as_id_lists(negative_prompt_ids, "negative_prompt_ids")
        num_prompts = len(prompt_ids)
        negative_prompt_ids = _broadcast(negative_prompt_ids, num_prompts)
        repeat = num_videos_per_prompt
        prompt_ids = [ids for ids in prompt_ids for _ in range(repeat)]
        negative_prompt_ids = [ids for ids in negative_prompt_ids for _ in range(repeat)]
        inputs = self.processor(
            text=None,
            prompt_ids=prompt_ids,
            negative_prompt_ids=negative_prompt_ids,
            height=height,
            width=width,
            num_frames=num_frames,
            fps=fps,
        )
        branches = [(inputs["input_ids"], inputs["attention_mask"])]
        if do_classifier_free_guidance:
            branches.append((inputs["uncond_input_ids"], inputs["uncond_attention_mask"]))
        return left_pad_batches(branches, self.processor.token_layout.pad_token_id)

    def prepare_latents(
        self,
        batch_size: int,
        num_frames: int,
        height: int,
        width: int,
        latents: torch.LongTensor | None = None,
        device: torch.device | None = None,
    ) -> tuple[torch.LongTensor, int]:
        """The latent video `[B, T, h, w]` (long FSQ indices) the frame loop fills, and how many leading frames are
        given: `latents` `[T_c, h, w]` (shared) or `[B, T_c, h, w]`, `T_c < T` (image-to-video, continuation)."""
        total = num_latent_frames(num_frames)
        rows, cols = self.processor.latent_size(height, width)
        video = torch.zeros(batch_size, total, rows, cols, dtype=torch.long, device=device)
        if latents is None:
            return video, 0
        if not isinstance(latents, torch.Tensor) or latents.dtype.is_floating_point or latents.dtype == torch.bool:
            raise TypeError("latents must be an integer tensor of FSQ indices [T_c, h, w] or [B, T_c, h, w]")
        given = latents.unsqueeze(0) if latents.dim() == 3 else latents
        if given.dim() != 4 or given.shape[0] not in (1, batch_size) or tuple(given.shape[2:]) != (rows, cols):
            raise ValueError(
                f"latents must have shape [T_c, {rows}, {cols}] or [{batch_size}, T_c, {rows}, {cols}] for "
                f"{height}x{width} frames, got {tuple(latents.shape)}"
            )
        if not 1 <= given.shape[1] < total:
            raise ValueError(f"latents must give 1 <= T_c < {total} latent frames (num_frames), got {given.shape[1]}")
        vocab = self.processor.token_layout.video_vocab_size
        if int(given.min()) < 0 or int(given.max()) >= vocab:
            raise ValueError(f"latents must hold FSQ indices in [0, {vocab - 1}]")
        video[:, : given.shape[1]] = given.to(device)
        return video, given.shape[1]

    def decode_latents(self, latents: torch.LongTensor, output_type: str = "np") -> Any:
        """Decode latent frames `[B, T, h, w]` into `F = 1 + 4 (T - 1)` frames of `output_type` (`"latent"` returns
        them as they are)."""
        if output_type in LATENT_OUTPUT_TYPES:
            return latents
        decoded = self.video_tokenizer.decode(latents.to(self.video_tokenizer.device))
        return self.video_processor.postprocess_video(decoded.float(), output_type=output_type)

    # ------------------------------------------------------------------------------------------------------------
    # Generation

    @torch.no_grad()
    @replace_example_docstring(EXAMPLE_DOC_STRING)
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        negative_prompt: str | list[str] | None = None,
        image: Any = None,
        video: Any = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        fps: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        history_mask_ratio: float | None = None,
        history_mask: str | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.LongTensor | None = None,
        prompt_ids: list[list[int]] | None = None,
        negative_prompt_ids: list[list[int]] | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callable[[DiffusionPipeline, int, int, dict], dict]
        | PipelineCallback
        | MultiPipelineCallbacks
        | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ["latents"],  # noqa: B006 (diffusers' convention)
    ) -> LumosPipelineOutput | tuple:
        r"""
        Generate images or videos.

        Args:
            prompt: the caption, or a batch of B captions (generated together).
            negative_prompt: replaces the empty unconditional branch by this prompt (one for all, or B); ignored when
                `guidance_scale == 1`.
            image: image-to-video: the first frame (PIL image, uint8 `[H, W, 3]`, float `[3, H, W]` in `[-1, 1]`), one
                for all prompts or a list of B. It becomes latent frame 0 and is returned in the output.
            video: continuation: the first `1 + 4k` frames (list of PIL images, uint8 `[F, H, W, 3]`, float
                `[3, F, H, W]`), one for all prompts or a list of B; they must give fewer latent frames than
                `num_frames`.
            height, width: frame size in pixels, multiples of 32 (default: the given image/video's size, else the
                pipeline's `generation_config`, else 256 x 448).
            num_frames: `1 + 4k` pixel frames, `T = 1 + (num_frames - 1) / 4` latent frames; 1 is text-to-image
                (default: `generation_config`, else 25).
            fps: frames per second written into the prompt and video header (images use 1; default:
                `generation_config`, else 12).
            num_inference_steps: AR-DF steps per latent frame (default: `generation_config`, else 50 as officially).
            guidance_scale: classifier-free guidance `u + s (c - u)`; default: `generation_config`, else 15 for
                videos and 16 for images (the official scripts); 1 disables guidance and runs no unconditional branch.
            history_mask_ratio: fraction rho of a finished frame's content tokens shown as MASK to later frames
                (default: `generation_config`, else 0.7 as officially).
            history_mask: `"periodic"` (official, evenly spaced) or `"random"` (Bernoulli per token, drawn once per
                video from its generator before sampling; default: `generation_config`, else `"periodic"`).
            num_videos_per_prompt: videos per prompt; the batch is `B * num_videos_per_prompt` videos.
            generator: a list with one generator per video makes every video identical to a run of that video alone
                with its generator. A single generator is shared by the whole batch: each step draws for all videos
                at once (`[B, h * w]` uniforms for the sampling, then `[B, h * w]` Gumbel noise), so a video then depends
                on the batch it runs in.
            latents: given first latent frames (FSQ indices `[T_c, h, w]` or `[B, T_c, h, w]`), as `image` / `video`
                would give them after encoding (continuation without re-encoding).
            prompt_ids, negative_prompt_ids: the text ids instead of `prompt` / `negative_prompt` (see
                `encode_prompt`): raw ids, for exact reproduction or deliberate control tokens.
            output_type: `"np"`, `"pt"`, `"pil"` or `"latent"` (the latent grids, not decoded; `"tokens"` is an alias).
            return_dict: return a [`LumosPipelineOutput`] rather than a tuple.
            callback_on_step_end: called after every step as `callback_on_step_end(self, i, t, callback_kwargs)`, `i`
                counting all steps of the call and `t` the step within the frame. `callback_kwargs` holds the
                requested tensors: `latents` `[B, T, h, w]` (the whole latent video: given and finished frames, and
                the current frame with this step's draws where still masked), `is_masked` `[B, h, w]` (the current
                frame) and `logits` `[B, h, w, V]` (guided); returning `latents` / `is_masked` replaces them (edits to
                finished frames change the output, not what later frames were conditioned on).
            callback_on_step_end_tensor_inputs: the tensors passed to the callback.

        Examples:

        Returns:
            [`LumosPipelineOutput`] with `frames`, or the tuple `(frames,)`. When interrupted (`interrupt`), the
            frames finished so far and the current one (with its latest draws).
        """
        *_, finished = self._generate(  # the latents after each frame; the last are the video's
            prompt, negative_prompt, image, video, height, width, num_frames, fps, num_inference_steps, guidance_scale,
            history_mask_ratio, history_mask, num_videos_per_prompt, generator, latents, prompt_ids,
            negative_prompt_ids, output_type, callback_on_step_end, callback_on_step_end_tensor_inputs,
        )  # fmt: skip
        frames = self.decode_latents(finished, output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return LumosPipelineOutput(frames=frames)

    @torch.no_grad()
    def stream(self, *args: Any, output_type: str = "np", **kwargs: Any) -> Iterator[LumosPipelineOutput]:
        """Generate as [`~LumosPipeline.__call__`] (same arguments) and yield the pixel frames of each latent frame as
        soon as it is sampled and decoded: the video tokenizer decodes causally in time, carrying its state from one
        latent frame to the next (`CosmosDiscreteVideoTokenizer.streaming_decode`).

        Yields:
            [`LumosPipelineOutput`] whose `frames` are the new frames of `output_type` (`"np"`, `"pt"` or `"pil"`, as
            `__call__`): the given frames first (image-to-video, continuation), then 1 frame for latent frame 0 and 4
            for each later one. Concatenated, they are `__call__`'s frames up to float rounding of the decoder.

        Example:

        ```python
        >>> from lumos_hf import LumosPipeline, demo

        >>> pipe = LumosPipeline.from_pretrained(demo.model_path())
        >>> for chunk in pipe.stream("a red circle moves right on a black background", num_inference_steps=2):
        ...     print(chunk.frames.shape)  # [B, new frames, H, W, 3], shown while the next frame is sampled
        (1, 1, 64, 64, 3)
        (1, 4, 64, 64, 3)
        (1, 4, 64, 64, 3)
        (1, 4, 64, 64, 3)
        (1, 4, 64, 64, 3)
        ```
        """
        if output_type in LATENT_OUTPUT_TYPES or self.video_tokenizer is None:
            raise ValueError("stream decodes frames: load a video_tokenizer and use output_type 'np', 'pt' or 'pil'")
        done = 0
        with self.video_tokenizer.streaming_decode() as decode:
            for latents in self._generate(*args, output_type=output_type, **kwargs):
                pixels = decode(latents[:, done:].to(self.video_tokenizer.device))
                done = latents.shape[1]
                yield LumosPipelineOutput(
                    self.video_processor.postprocess_video(pixels.float(), output_type=output_type)
                )
        self.maybe_free_model_hooks()

    def _generate(
        self,
        prompt: str | list[str] | None = None,
        negative_prompt: str | list[str] | None = None,
        image: Any = None,
        video: Any = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        fps: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        history_mask_ratio: float | None = None,
        history_mask: str | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.LongTensor | None = None,
        prompt_ids: list[list[int]] | None = None,
        negative_prompt_ids: list[list[int]] | None = None,
        output_type: str = "np",
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ["latents"],  # noqa: B006
    ) -> Iterator[torch.LongTensor]:
        """The AR-DF loop of `__call__` (its arguments): yields the latents `[B, T', h, w]` of the frames finished so
        far, once for the given frames (if any) and after every sampled frame; when interrupted, last with the
        current frame's latest draws."""
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        defaults = self.generation_defaults
        num_frames = defaults["num_frames"] if num_frames is None else num_frames
        fps = defaults["fps"] if fps is None else fps
        num_inference_steps = defaults["num_inference_steps"] if num_inference_steps is None else num_inference_steps
        guidance_scale = defaults["guidance_scale"] if guidance_scale is None else guidance_scale
        history_mask_ratio = defaults["history_mask_ratio"] if history_mask_ratio is None else history_mask_ratio
        history_mask = defaults["history_mask"] if history_mask is None else history_mask
        if guidance_scale is None:
            guidance_scale = DEFAULT_IMAGE_GUIDANCE_SCALE if num_frames == 1 else DEFAULT_VIDEO_GUIDANCE_SCALE
        given = image if image is not None else video
        if given is not None and (height is None or width is None):
            first = given[0] if isinstance(given, (list, tuple)) else given
            first = first[0] if isinstance(first, (list, tuple)) else first
            size = first.size[::-1] if isinstance(first, PIL.Image.Image) else _frame_size(first)
            height, width = size[0] if height is None else height, size[1] if width is None else width
        if latents is not None and (height is None or width is None) and isinstance(latents, torch.Tensor):
            height = latents.shape[-2] * SPATIAL_COMPRESSION if height is None else height
            width = latents.shape[-1] * SPATIAL_COMPRESSION if width is None else width
        height = defaults["height"] if height is None else height  # 0 is an error, not "the default"
        width = defaults["width"] if width is None else width
        num_prompts = self.check_inputs(
            prompt, negative_prompt, prompt_ids, negative_prompt_ids, image, video, latents, height, width,
            num_frames, fps, num_inference_steps, guidance_scale, history_mask_ratio, history_mask,
            num_videos_per_prompt, generator, output_type, callback_on_step_end_tensor_inputs,
        )  # fmt: skip
        guidance_scale, history_mask_ratio = float(guidance_scale), float(history_mask_ratio)  # numpy / 0-dim tensors
        height, width, num_frames, fps = int(height), int(width), int(num_frames), int(fps)  # numpy integers
        num_inference_steps, num_videos_per_prompt = int(num_inference_steps), int(num_videos_per_prompt)
        if self.memory_check:
            self.check_memory(num_prompts * num_videos_per_prompt, height, width, num_frames, guidance_scale > 1)
        self._guidance_scale = guidance_scale
        self._interrupt = False
        device = self._execution_device
        batch_size = num_prompts * num_videos_per_prompt

        # 1. The token sequences of both branches, and the given frames.
        prompt_input_ids, attention_mask = self.encode_prompt(
            prompt, negative_prompt, prompt_ids, negative_prompt_ids, height, width, num_frames, fps,
            num_videos_per_prompt, self.do_classifier_free_guidance,
        )  # fmt: skip
        if given is not None:
            name = "image" if image is not None else "video"
            latents = self.encode_conditioning(given, name, height, width, num_frames, num_prompts)
        if latents is not None and latents.dim() == 4 and latents.shape[0] == num_prompts:
            latents = latents.repeat_interleave(num_videos_per_prompt, dim=0)
        latents, num_given = self.prepare_latents(batch_size, num_frames, height, width, latents, device)
        rows, cols = latents.shape[-2:]
        latents_shape = tuple(latents.shape[1:])
        layout = self.processor.token_layout
        history = make_history_mask(
            history_mask, history_mask_ratio, batch_size, num_content_tokens(rows, cols), generator, device="cpu"
        )
        num_branches = prompt_input_ids.shape[0] // batch_size
        history = history.repeat(num_branches, 1).to(device)

        # 2. Encode the prompt and the given frames (partially observed, as every finished frame) into the KV cache.
        given_tokens = video_frame_tokens(latents[:, :num_given].cpu(), layout)
        given_tokens = given_tokens.view(batch_size, num_given, frame_length(rows, cols))
        given_tokens = mask_content(given_tokens.repeat(num_branches, 1, 1), history[:, None].cpu(), layout)
        prefix = torch.cat([prompt_input_ids, given_tokens.flatten(1)], dim=1).to(device)
        attention_mask = torch.nn.functional.pad(attention_mask, (0, given_tokens[0].numel()), value=1).to(device)
        cache = self._forward(prefix, attention_mask).cache

        if num_given:
            yield latents[:, :num_given]

        # 3. AR-DF: frame by frame, N masked-diffusion steps each.
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        self._num_timesteps = (latents.shape[1] - num_given) * num_inference_steps
        scaffold = frame_scaffold(rows, cols, layout).to(device)
        positions = video_token_positions(rows, cols).to(device)
        frame_mask = attention_mask.new_ones(attention_mask.shape[0], scaffold.shape[0])
        step = 0
        with self.progress_bar(total=self._num_timesteps) as progress_bar:
            for frame_index in range(num_given, latents.shape[1]):
                progress_bar.set_postfix(frame=f"{frame_index + 1}/{latents.shape[1]}")
                attention_mask = torch.cat([attention_mask, frame_mask], dim=1)
                frame = scaffold.repeat(prompt_input_ids.shape[0], 1)
                is_masked = torch.ones(batch_size, rows * cols, dtype=torch.bool, device=device)
                for t in self.scheduler.timesteps:
                    self._current_timestep = int(t)
                    sample = latents[:, frame_index].flatten(1)
                    frame[:, positions] = torch.where(
                        is_masked, layout.mask_token_id, sample + layout.video_token_offset
                    ).repeat(num_branches, 1)
                    masked = is_masked.any(0).nonzero().squeeze(-1)  # [K]: revealed tokens need no logits
                    logits = self._frame_logits(frame, attention_mask, cache, positions[masked])  # [B, K, V]
                    cache.crop(-frame.shape[1])
                    sample, is_masked = self.scheduler.step(
                        logits, int(t), sample, is_masked, generator, return_dict=False, positions=masked
                    )
                    latents[:, frame_index] = sample.view(batch_size, rows, cols)
                    if callback_on_step_end is not None:
                        tensors = {"latents": latents, "is_masked": is_masked.view(batch_size, rows, cols)}
                        if "logits" in callback_on_step_end_tensor_inputs:  # [B, h, w, V], -inf where revealed
                            full = logits.new_full((batch_size, rows * cols, logits.shape[-1]), float("-inf"))
                            full[:, masked] = logits
                            tensors["logits"] = full.view(batch_size, rows, cols, -1)
                        callback_kwargs = {k: tensors[k] for k in callback_on_step_end_tensor_inputs}
                        callback_outputs = callback_on_step_end(self, step, int(t), callback_kwargs) or {}
                        latents = callback_outputs.pop("latents", latents)
                        is_masked = callback_outputs.pop("is_masked", is_masked).reshape(batch_size, rows * cols)
                        _check_callback_latents(latents, (batch_size, *latents_shape), layout.video_vocab_size)
                    step += 1
                    progress_bar.update()
                    if self.interrupt:
                        break
                yield latents[:, : frame_index + 1]
                if self.interrupt:
                    break
                if frame_index < latents.shape[1] - 1:  # commit the partially observed frame (not after the last)
                    frame[:, positions] = (latents[:, frame_index].flatten(1) + layout.video_token_offset).repeat(
                        num_branches, 1
                    )
                    self._forward(mask_content(frame, history, layout), attention_mask, cache)
        self._current_timestep = None

    def _frame_logits(
        self,
        frame: torch.LongTensor,
        attention_mask: torch.LongTensor,
        cache: Cache,
        keep: torch.LongTensor,
    ) -> torch.Tensor:
        """Guided video logits `[B, K, V]` (float32) at the frame positions `keep [K]` of `frame [R, L]` run after the
        cache (which grows by L). With a linear head, guidance is applied to the final hidden states and they are
        projected once: `W (u + s (c - u)) = W u + s (W c - W u)`, half the head's work. A wrapped head (LoRA,
        quantised) gets logit-space guidance."""
        head = self.transformer.lm_head
        if type(head) is not torch.nn.Linear:
            logits = self._forward(frame, attention_mask, cache, logits_to_keep=keep).logits
            return guided_logits(logits, self.guidance_scale) if self.do_classifier_free_guidance else logits.float()
        hidden = self.transformer.model(frame, attention_mask=attention_mask, cache=cache, use_cache=True)
        hidden = hidden.last_hidden_state[:, keep]  # [R, K, D], after the final norm
        if self.do_classifier_free_guidance:
            hidden = guided_logits(hidden, self.guidance_scale)
        config = self.transformer.config
        weight = head.weight[config.video_token_offset : config.video_token_offset + config.video_vocab_size]
        return torch.nn.functional.linear(hidden.to(weight.dtype), weight).float()

    def _forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        cache: Cache | None = None,
        logits_to_keep: int | torch.LongTensor = 1,
    ):
        """Run `input_ids [R, L]` after the cached tokens (`attention_mask [R, P + L]`); the cache grows by L (the
        model creates it when `cache` is None). The output's `logits` are the video logits
        `[R, len(logits_to_keep), V]` (by default of the last position only)."""
        return self.transformer(
            input_ids,
            attention_mask=attention_mask,
            cache=cache,
            use_cache=True,
            video_logits_only=True,
            logits_to_keep=logits_to_keep,
        )

    # ------------------------------------------------------------------------------------------------------------
    # Saving

    def save_pretrained(
        self, save_directory: str | os.PathLike, *args: Any, remote_code: bool = False, **kwargs: Any
    ) -> None:
        """`DiffusionPipeline.save_pretrained`, plus a root `config.json` (the transformer's config, so that
        `transformers.pipeline("text-to-video", model=save_directory)` recognises the folder).

        Args:
            remote_code: also write the code of the pipeline and of every component into the folder
                (`lumos_hf.remote_code.write_remote_code`): it then loads with
                `DiffusionPipeline.from_pretrained(save_directory, trust_remote_code=True)` and
                `transformers.pipeline(task, model=save_directory, trust_remote_code=True)` where `lumos_hf` is not
                installed (and `trust_remote_code=True` is needed everywhere, as the folder's code is then used).
            args, kwargs: as `DiffusionPipeline.save_pretrained`; with `push_to_hub=True` (and `repo_id`) the
                folder is uploaded once complete, with a model card (`model_card`) when it has no `README.md`.
        """
        push_to_hub = kwargs.pop("push_to_hub", False)
        hub = {key: kwargs.pop(key, None) for key in ("repo_id", "commit_message", "private", "create_pr", "token")}
        super().save_pretrained(save_directory, *args, **kwargs)
        root = Path(save_directory)
        config = self.transformer.config.to_dict()
        (root / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        if remote_code:
            write_remote_code(self, root)
        if push_to_hub:
            repo_id = create_repo(
                hub["repo_id"] or root.name, exist_ok=True, private=hub["private"], token=hub["token"]
            ).repo_id
            if not (root / "README.md").exists():
                self.model_card(repo_id, remote_code=remote_code).save(root / "README.md")
            self._upload_folder(
                root,
                repo_id,
                token=hub["token"],
                commit_message=hub["commit_message"],
                create_pr=bool(hub["create_pr"]),
            )

    def push_to_hub(
        self,
        repo_id: str,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | None = None,
        create_pr: bool = False,
        safe_serialization: bool = True,
        variant: str | None = None,
        remote_code: bool = True,
        **card_kwargs: Any,
    ) -> Any:
        """Upload the pipeline to the Hub repository `repo_id` (created if needed), with its model card
        (`model_card(repo_id, **card_kwargs)`), as diffusers' `push_to_hub` does.

        Args:
            remote_code: write the package's code into the upload (default), so that the repository loads with
                `DiffusionPipeline.from_pretrained(repo_id, trust_remote_code=True)` where `lumos_hf` is not
                installed; `False` uploads a folder for `LumosPipeline.from_pretrained` only.
            card_kwargs: `license`, `base_model`, `title`, `summary`, `tags` of `lumos_hf.model_card.lumos_model_card`.
            commit_message, private, token, create_pr, safe_serialization, variant: as diffusers' `push_to_hub`.
        """
        repo_id = create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(
                folder, safe_serialization=safe_serialization, variant=variant, remote_code=remote_code
            )
            self.model_card(repo_id, remote_code=remote_code, **card_kwargs).save(Path(folder) / "README.md")
            return self._upload_folder(
                folder, repo_id, token=token, commit_message=commit_message, create_pr=create_pr
            )

    def model_card(self, repo_id: str, remote_code: bool = True, **card_kwargs: Any) -> ModelCard:
        """The Hub model card of this pipeline (`lumos_hf.model_card.lumos_model_card`): metadata (license,
        `pipeline_tag: text-to-video`, `library_name: diffusers`, tags, base model), usage snippets that load
        `repo_id`, the components and the sampling defaults."""
        components = {name: type(module).__name__ for name, module in self.components.items() if module is not None}
        return lumos_model_card(repo_id, components, self.generation_defaults, remote_code=remote_code, **card_kwargs)


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 2**30:.1f} GiB" if num_bytes >= 2**29 else f"{num_bytes / 2**20:.1f} MiB"


def _available_memory(device: torch.device) -> int | None:
    """Free bytes on `device` (CUDA: the driver's free memory; CPU: MemAvailable), or None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu" and os.path.exists("/proc/meminfo"):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _check_callback_latents(latents: Any, shape: tuple[int, ...], vocab_size: int) -> None:
    """The `latents` a callback returns must stay `[B, T, h, w]` integer indices in `[0, vocab_size)`."""
    if not isinstance(latents, torch.Tensor) or tuple(latents.shape) != shape or latents.is_floating_point():
        raise ValueError(
            f"callback_on_step_end must return latents as an integer tensor of shape {list(shape)}, got "
            f"{type(latents).__name__} {list(getattr(latents, 'shape', []))}"
        )
    if bool((latents < 0).any() or (latents >= vocab_size).any()):
        raise ValueError(
            f"callback_on_step_end returned latents outside the video vocabulary [0, {vocab_size - 1}]: "
            f"[{int(latents.min())}, {int(latents.max())}]"
        )


def _real_number(value: Any, name: str) -> float:
    """`value` as a float (Python, numpy or 0-dim tensor scalar; nan stays nan), or `TypeError` naming `name`."""
    if isinstance(value, (bool, str, bytes)) or (isinstance(value, torch.Tensor) and value.numel() != 1):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None


def _check_generation_config(generation_config: Any) -> dict[str, Any] | None:
    """`generation_config` as a plain dict with known keys (values are checked by `check_inputs` when used)."""
    if generation_config is None:
        return None
    if not isinstance(generation_config, Mapping):
        raise TypeError(f"generation_config must be a dict or None, got {type(generation_config).__name__}")
    unknown = set(generation_config) - set(GENERATION_DEFAULTS)
    if unknown:
        raise ValueError(f"generation_config: unknown keys {sorted(unknown)}; accepted: {sorted(GENERATION_DEFAULTS)}")
    return dict(generation_config)


def _as_id_lists(ids: Any, name: str) -> list[list[int]]:
    """Token ids given as one sequence or a batch (lists, tuples, 1D / 2D tensors) -> a list of lists of ints."""
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)) or not ids:
        raise TypeError(f"{name} must be a non-empty list of token ids or a list of such lists")
    rows = [ids] if all(isinstance(i, int) and not isinstance(i, bool) for i in ids) else list(ids)
    for row in rows:
        row = row.tolist() if isinstance(row, torch.Tensor) else row
        if (
            not isinstance(row, (list, tuple))
            or not row
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in row)
        ):
            raise TypeError(f"{name} must be a non-empty list of token ids or a list of such lists")
    return [list(row.tolist() if isinstance(row, torch.Tensor) else row) for row in rows]


def _broadcast(rows: list[list[int]] | None, count: int) -> list[list[int] | None]:
    if rows is None:
        return [None] * count
    return rows * count if len(rows) == 1 else rows


def _frame_size(frames: Any) -> tuple[int, int]:
    """(H, W) of an image or video given as an array `[..., H, W, 3]` or a float tensor `[3, ..., H, W]`."""
    if isinstance(frames, torch.Tensor) and frames.is_floating_point():
        return tuple(frames.shape[-2:])
    return tuple(np.asarray(frames).shape[-3:-1])
