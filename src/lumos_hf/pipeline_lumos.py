"""LumosPipeline: text-to-image, text-to-video, image-to-video and video continuation with Lumos-1 (AR-DF sampling).

Latent frames are generated one after the other; each frame is decoded in parallel by masked discrete diffusion
(`ARDFScheduler`) over its `h * w` video tokens (LUMOS_SPEC section 7). The prompt is encoded once into a KV cache; a
step runs only the current frame against that cache (its own K/V are dropped again after the step), with the
conditional and unconditional branches batched into one forward that projects onto the video rows of the LM head
only; a finished frame is committed to the cache once, partially observed (history mask).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
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
from transformers.cache_utils import Cache

from .modeling_lumos import LumosForVideoGeneration
from .processing_lumos import LumosProcessor
from .scheduling_ardf import ARDFScheduler
from .video_io import frames_to_tensor
from .video_tokenizer.modeling_cosmos_dv import CosmosDiscreteVideoTokenizer

logger = logging.get_logger(__name__)

DEFAULT_HEIGHT, DEFAULT_WIDTH = 256, 448  # the official 256p bucket (448x256)
DEFAULT_VIDEO_GUIDANCE_SCALE = 15.0  # official T2V / I2V scripts
DEFAULT_IMAGE_GUIDANCE_SCALE = 16.0  # official T2I script and the paper's evaluation
HISTORY_MASK_MODES = ("periodic", "random")
OUTPUT_TYPES = ("pil", "np", "pt", "tokens")
FRAME_HEADER_LENGTH = 3  # [frame start, size(H/32), size(W/32)] before a frame's content tokens

EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> import torch
        >>> from diffusers.utils import export_to_video
        >>> from lumos_hf.configuration_lumos import LumosConfig
        >>> from lumos_hf.modeling_lumos import LumosForVideoGeneration
        >>> from lumos_hf.pipeline_lumos import LumosPipeline
        >>> from lumos_hf.processing_lumos import LumosProcessor
        >>> from lumos_hf.scheduling_ardf import ARDFScheduler
        >>> from lumos_hf.testing import build_tiny_chameleon_tokenizer
        >>> from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer

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
            `"tokens"` the latent grids `[B, T, h, w]` (long FSQ indices, not decoded). An image is a video of one frame.
    """

    frames: list[list[PIL.Image.Image]] | np.ndarray | torch.Tensor


def make_history_mask(
    mode: str,
    ratio: float,
    batch_size: int,
    num_content_tokens: int,
    generator: torch.Generator | list[torch.Generator] | None = None,
    device: torch.device | str | None = None,
) -> torch.BoolTensor:
    """Which content tokens of a finished frame are shown as MASK in the KV cache (LUMOS_SPEC 7, step 3).

    Drawn once per video and reused for every frame and both guidance branches.

    Args:
        mode: `"periodic"` (official): the evenly spaced indices `round(i * N / m)` for `i < m`, `m = round(ratio * N)`,
            the same for every video (no randomness); `"random"` (the paper): each token independently with probability
            `ratio`.
        ratio: the masked fraction rho in `[0, 1)`.
        batch_size: B videos.
        num_content_tokens: N, the video and new-line tokens of a frame, `h * (w + 1)`.
        generator: for `"random"`: one generator (one `[B, N]` draw) or a list of B (one `[N]` draw each).
        device: device of the returned mask.

    Returns:
        `[B, N]` bool, True where the token is replaced by MASK.
    """
    mask = torch.zeros(batch_size, num_content_tokens, dtype=torch.bool, device=device)
    if mode == "periodic":
        count = round(ratio * num_content_tokens)
        if count:
            steps = torch.arange(count, dtype=torch.float64) * num_content_tokens / count
            mask[:, torch.round(steps).long().to(mask.device)] = True
        return mask
    if mode != "random":
        raise ValueError(f"history_mask must be one of {HISTORY_MASK_MODES}, got {mode!r}")

    def uniform(size: tuple[int, ...], gen: torch.Generator | None) -> torch.Tensor:
        return torch.rand(size, generator=gen, device=gen.device if gen is not None else device).to(mask.device)

    if isinstance(generator, list):
        draws = torch.stack([uniform((num_content_tokens,), gen) for gen in generator])
    else:
        draws = uniform((batch_size, num_content_tokens), generator)
    return draws < ratio


def guided_logits(logits: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance `u + s (c - u)` in float32 of `logits [2B, ...]` stacked as (conditional, unconditional)."""
    cond, uncond = logits.float().chunk(2)
    return uncond + guidance_scale * (cond - uncond)


class LumosPipeline(DiffusionPipeline):
    r"""
    Lumos-1 generation: text-to-image (`num_frames=1`), text-to-video, image-to-video (`image`) and video continuation
    (`video`), by autoregressive discrete diffusion forcing (AR-DF).

    Args:
        transformer ([`LumosForVideoGeneration`]): the Lumos-1 LLM.
        video_tokenizer ([`CosmosDiscreteVideoTokenizer`]): encodes given frames and decodes the generated latents.
        processor ([`LumosProcessor`]): builds the token sequences (text template, video header, frames).
        scheduler ([`ARDFScheduler`]): the per-frame masked discrete diffusion.

    The transformer's `video_vocab_size` must equal the video tokenizer's codebook size (64,000 for Cosmos DV4x8x8).
    """

    model_cpu_offload_seq = "transformer->video_tokenizer"
    _callback_tensor_inputs = ["sample", "is_masked", "logits"]

    def __init__(
        self,
        transformer: LumosForVideoGeneration,
        video_tokenizer: CosmosDiscreteVideoTokenizer,
        processor: LumosProcessor,
        scheduler: ARDFScheduler,
    ):
        super().__init__()
        self.register_modules(
            transformer=transformer, video_tokenizer=video_tokenizer, processor=processor, scheduler=scheduler
        )
        self.video_processor = VideoProcessor(vae_scale_factor=8, do_resize=False)

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

    def check_inputs(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None,
        image: Any,
        video: Any,
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
    ) -> None:
        """Raise `TypeError` / `ValueError` naming the argument and the accepted values."""
        vocab_sizes = {
            "transformer.config.video_vocab_size": self.transformer.config.video_vocab_size,
            "processor.video_vocab_size": self.processor.video_vocab_size,
            "video_tokenizer.codebook_size": self.video_tokenizer.codebook_size,
        }
        if len(set(vocab_sizes.values())) > 1:
            raise ValueError(f"the components disagree on the video vocabulary: {vocab_sizes}")
        if isinstance(prompt, str):
            num_prompts = 1
        elif isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
            if not prompt:
                raise ValueError("prompt must be a str or a non-empty list of str, got an empty list")
            num_prompts = len(prompt)
        else:
            raise TypeError(f"prompt must be a str or a list of str, got {type(prompt).__name__}")
        if negative_prompt is not None:
            negatives = [negative_prompt] if isinstance(negative_prompt, str) else negative_prompt
            if not isinstance(negatives, (list, tuple)) or not all(isinstance(p, str) for p in negatives):
                raise TypeError("negative_prompt must be None, a str or a list of str")
            if len(negatives) not in (1, num_prompts):
                raise ValueError(f"negative_prompt must be one str or a list of {num_prompts} (one per prompt)")
        for name, value, low, high in (
            ("height", height, 32, 32 * 195),
            ("width", width, 32, 32 * 195),
            ("num_frames", num_frames, 1, None),
            ("fps", fps, 1, 195),
            ("num_inference_steps", num_inference_steps, 1, None),
            ("num_videos_per_prompt", num_videos_per_prompt, 1, None),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < low or (high is not None and value > high):
                accepted = f"[{low}, {high}]" if high is not None else f">= {low}"
                raise ValueError(f"{name} must be in {accepted}, got {value}")
        if height % 32 or width % 32:
            raise ValueError(f"height and width must be multiples of 32, got height={height}, width={width}")
        if (num_frames - 1) % 4:
            raise ValueError(
                f"num_frames must be 1 + 4k (1 for an image; 5, 9, ..., 25, ... for a video), got {num_frames}"
            )
        if not isinstance(guidance_scale, (int, float)) or isinstance(guidance_scale, bool) or guidance_scale < 1:
            raise ValueError(f"guidance_scale must be a number >= 1 (1 disables guidance), got {guidance_scale!r}")
        if not isinstance(history_mask_ratio, (int, float)) or not 0 <= history_mask_ratio < 1:
            raise ValueError(f"history_mask_ratio must be in [0, 1), got {history_mask_ratio!r}")
        if history_mask not in HISTORY_MASK_MODES:
            raise ValueError(f"history_mask must be one of {HISTORY_MASK_MODES}, got {history_mask!r}")
        if image is not None and video is not None:
            raise ValueError("pass at most one of image (image-to-video) and video (continuation)")
        if (image is not None or video is not None) and num_frames == 1:
            raise ValueError("image and video condition a video: num_frames must be at least 5 (1 + 4k, k >= 1)")
        if isinstance(generator, list) and len(generator) != num_prompts * num_videos_per_prompt:
            raise ValueError(
                f"generator must be one torch.Generator or a list of {num_prompts * num_videos_per_prompt} "
                f"(len(prompt) * num_videos_per_prompt), got a list of {len(generator)}"
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        if callback_on_step_end_tensor_inputs is not None and not all(
            k in self._callback_tensor_inputs for k in callback_on_step_end_tensor_inputs
        ):
            raise ValueError(
                f"callback_on_step_end_tensor_inputs must be in {self._callback_tensor_inputs}, got "
                f"{[k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]}"
            )

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
            if (tensor.shape[1] - 1) % 4:
                raise ValueError(f"{name}[{index}] must have 1 + 4k frames, got {tensor.shape[1]}")
            if tuple(tensor.shape[2:]) != (height, width):
                raise ValueError(
                    f"{name}[{index}] is {tensor.shape[2]}x{tensor.shape[3]} (HxW) but height x width is "
                    f"{height}x{width}: resize or crop it (lumos_hf.video_io.bucket_crop) or pass matching height/width"
                )
            videos.append(tensor)
        if len({tuple(v.shape) for v in videos}) > 1:
            raise ValueError(f"every {name} must have the same size and frame count")
        batch = torch.stack(videos).to(device=self.video_tokenizer.device, dtype=self.video_tokenizer.dtype)
        latents = self.video_tokenizer.encode(batch).expand(num_prompts, -1, -1, -1)
        if latents.shape[1] >= self.processor.num_latent_frames(num_frames):
            raise ValueError(
                f"{name} gives {latents.shape[1]} latent frames ({videos[0].shape[1]} frames): num_frames must give "
                f"more, i.e. num_frames > {videos[0].shape[1]}"
            )
        return latents

    @torch.no_grad()
    @replace_example_docstring(EXAMPLE_DOC_STRING)
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        image: Any = None,
        video: Any = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int = 25,
        fps: int = 12,
        num_inference_steps: int = 50,
        guidance_scale: float | None = None,
        history_mask_ratio: float = 0.7,
        history_mask: str = "periodic",
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callable[[DiffusionPipeline, int, int, dict], dict]
        | PipelineCallback
        | MultiPipelineCallbacks
        | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ["sample"],  # noqa: B006 (diffusers' convention)
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
            height, width: frame size in pixels, multiples of 32 (default: the given image/video's size, else
                256 x 448).
            num_frames: `1 + 4k` pixel frames, `T = 1 + (num_frames - 1) / 4` latent frames; 1 is text-to-image.
            fps: frames per second written into the prompt and video header (images use 1).
            num_inference_steps: AR-DF steps per latent frame (50 officially).
            guidance_scale: classifier-free guidance `u + s (c - u)`; default 15 for videos, 16 for images (the
                official scripts); 1 disables guidance and runs no unconditional branch.
            history_mask_ratio: fraction rho of a finished frame's content tokens shown as MASK to later frames.
            history_mask: `"periodic"` (official, evenly spaced) or `"random"` (Bernoulli per token, drawn once per
                video from its generator before sampling).
            num_videos_per_prompt: videos per prompt; the batch is `B * num_videos_per_prompt` videos.
            generator: a list with one generator per video makes every video identical to a run of that video alone
                with its generator. A single generator is shared by the whole batch: each step draws for all videos
                at once (`[B, h * w]` uniforms for the sampling, then `[B, h * w]` Gumbel noise), so a video then depends
                on the batch it runs in.
            output_type: `"np"`, `"pt"`, `"pil"` or `"tokens"` (the latent grids, not decoded).
            return_dict: return a [`LumosPipelineOutput`] rather than a tuple.
            callback_on_step_end: called after every step as `callback_on_step_end(self, i, t, callback_kwargs)`, `i`
                counting all steps of the call and `t` the step within the frame. `callback_kwargs` holds the
                requested tensors: `sample` `[B, h * w]` (video indices; raster order), `is_masked` `[B, h * w]`, and
                `logits` `[B, h * w, V]` (guided); returning `sample` / `is_masked` replaces them.
            callback_on_step_end_tensor_inputs: the tensors passed to the callback.

        Examples:

        Returns:
            [`LumosPipelineOutput`] with `frames`, or the tuple `(frames,)`.
        """
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        if guidance_scale is None:
            guidance_scale = DEFAULT_IMAGE_GUIDANCE_SCALE if num_frames == 1 else DEFAULT_VIDEO_GUIDANCE_SCALE
        given = image if image is not None else video
        if given is not None and (height is None or width is None):
            first = given[0] if isinstance(given, (list, tuple)) else given
            first = first[0] if isinstance(first, (list, tuple)) else first
            size = first.size[::-1] if isinstance(first, PIL.Image.Image) else _frame_size(first)
            height, width = height or size[0], width or size[1]
        height, width = height or DEFAULT_HEIGHT, width or DEFAULT_WIDTH
        self.check_inputs(
            prompt, negative_prompt, image, video, height, width, num_frames, fps, num_inference_steps,
            guidance_scale, history_mask_ratio, history_mask, num_videos_per_prompt, generator, output_type,
            callback_on_step_end_tensor_inputs,
        )  # fmt: skip
        self._guidance_scale = guidance_scale
        device = self._execution_device

        # 1. Token sequences of both branches, with the given frames (if any) partially observed.
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if isinstance(negative_prompt, (list, tuple)) and len(negative_prompt) == 1:
            negative_prompt = negative_prompt[0]
        negatives = None if negative_prompt is None or isinstance(negative_prompt, str) else list(negative_prompt)
        repeat = num_videos_per_prompt
        conditioning = None
        if given is not None:
            conditioning = self.encode_conditioning(
                given, "image" if image is not None else "video", height, width, num_frames, len(prompts)
            ).repeat_interleave(repeat, dim=0)
        inputs = self.processor(
            [p for p in prompts for _ in range(repeat)],
            height=height,
            width=width,
            num_frames=num_frames,
            fps=fps,
            negative_prompt=negative_prompt if negatives is None else [n for n in negatives for _ in range(repeat)],
            conditioning_latents=None if conditioning is None else conditioning.cpu(),
        )
        batch_size = inputs["input_ids"].shape[0]
        total_frames = int(inputs["num_latent_frames"])
        given_frames = int(inputs["num_conditioning_frames"])
        rows, cols = self.processor.latent_size(height, width)
        scaffold, video_positions = self.processor.frame_scaffold(height, width)
        frame_length = scaffold.shape[0]
        history = make_history_mask(
            history_mask, history_mask_ratio, batch_size, rows * (cols + 1), generator=generator, device="cpu"
        )
        branches = [(inputs["input_ids"], inputs["attention_mask"])]
        if self.do_classifier_free_guidance:
            branches.append((inputs["uncond_input_ids"], inputs["uncond_attention_mask"]))
        prefix_ids, attention_mask = _stack_left_padded(branches, self.processor.pad_token_id)
        num_branches = len(branches)
        if given_frames:
            given_ids = prefix_ids[:, -given_frames * frame_length :].view(num_branches * batch_size, given_frames, -1)
            self._apply_history_mask(given_ids, history.repeat(num_branches, 1))
        prefix_ids, attention_mask = prefix_ids.to(device), attention_mask.to(device)
        scaffold = scaffold.to(device)
        video_positions = video_positions.nonzero().flatten().to(device)
        history = history.to(device)

        # 2. Encode the prompt (and given frames) once into the KV cache of both branches.
        # A config-free cache of full-attention layers (a cache built from a config follows its sliding-window /
        # chunk settings), of the class in the transformer's own module: remote code may load the transformer from
        # another copy of the modeling code than this pipeline's.
        cache = sys.modules[type(self.transformer).__module__].LumosCache()
        self._extend(cache, prefix_ids, attention_mask)
        frame_mask = attention_mask.new_ones(attention_mask.shape[0], frame_length)

        # 3. AR-DF: frame by frame, N masked-diffusion steps each.
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps
        self._num_timesteps = (total_frames - given_frames) * num_inference_steps
        latents = torch.zeros(batch_size, total_frames, rows * cols, dtype=torch.long, device=device)
        if given_frames:
            latents[:, :given_frames] = conditioning[:, :given_frames].flatten(2).to(device)
        offset, mask_token_id = self.processor.video_token_offset, self.processor.mask_token_id
        step = 0
        with self.progress_bar(total=self._num_timesteps) as progress_bar:
            for frame_index in range(given_frames, total_frames):
                sample = torch.zeros(batch_size, rows * cols, dtype=torch.long, device=device)
                is_masked = torch.ones(batch_size, rows * cols, dtype=torch.bool, device=device)
                progress_bar.set_postfix(frame=f"{frame_index + 1}/{total_frames}")
                frame = scaffold.repeat(num_branches * batch_size, 1)
                attention_mask = torch.cat([attention_mask, frame_mask], dim=1)
                for t in timesteps:
                    shown = torch.where(is_masked, mask_token_id, sample + offset)
                    frame[:, video_positions] = shown.repeat(num_branches, 1)
                    logits = self._extend(cache, frame, attention_mask, logits_to_keep=video_positions)
                    cache.crop(-frame_length)
                    if self.do_classifier_free_guidance:
                        logits = guided_logits(logits, guidance_scale)
                    sample, is_masked = self.scheduler.step(
                        logits, int(t), sample, is_masked, generator=generator, return_dict=False
                    )
                    if callback_on_step_end is not None:
                        tensors = {"sample": sample, "is_masked": is_masked, "logits": logits}
                        callback_kwargs = {k: tensors[k] for k in callback_on_step_end_tensor_inputs}
                        callback_outputs = callback_on_step_end(self, step, int(t), callback_kwargs)
                        sample = callback_outputs.pop("sample", sample)
                        is_masked = callback_outputs.pop("is_masked", is_masked)
                    step += 1
                    progress_bar.update()
                latents[:, frame_index] = sample
                if frame_index < total_frames - 1:  # commit the partially observed frame (not after the last)
                    frame[:, video_positions] = (sample + offset).repeat(num_branches, 1)
                    self._apply_history_mask(frame.unsqueeze(1), history.repeat(num_branches, 1))
                    self._extend(cache, frame, attention_mask)
        del cache

        # 4. Decode.
        latents = latents.view(batch_size, total_frames, rows, cols)
        if output_type == "tokens":
            frames = latents
        else:
            decoded = self.video_tokenizer.decode(latents.to(self.video_tokenizer.device))
            frames = self.video_processor.postprocess_video(decoded.float(), output_type=output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return LumosPipelineOutput(frames=frames)

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, remote_code: bool = False, **kwargs: Any):
        """`DiffusionPipeline.save_pretrained`, plus a root `config.json` (the transformer's config, so that
        `transformers.pipeline("text-to-video", model=save_directory)` recognises the folder).

        Args:
            remote_code: also write the code of the pipeline and of every component into the folder (Hub layout):
                it then loads with `DiffusionPipeline.from_pretrained(save_directory, trust_remote_code=True)` where
                `lumos_hf` is not installed (and `trust_remote_code=True` is needed everywhere, as the folder's code
                is then used).
            args, kwargs: as `DiffusionPipeline.save_pretrained` (`push_to_hub=True` uploads the code too).
        """
        self._save_remote_code = remote_code
        try:
            super().save_pretrained(save_directory, *args, **kwargs)
        finally:
            del self._save_remote_code

    def save_config(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """Writes `model_index.json`; within `save_pretrained` also the root `config.json` and the remote code."""
        super().save_config(save_directory, *args, **kwargs)
        if not hasattr(self, "_save_remote_code"):
            return
        root = Path(save_directory)
        config = self.transformer.config.to_dict()
        if self._save_remote_code:
            config |= write_remote_code(self, root)
        (root / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

    def _extend(
        self,
        cache: Cache,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        logits_to_keep: int | torch.LongTensor = 1,
    ) -> torch.Tensor:
        """Run `input_ids [R, L]` after the cached tokens (`attention_mask [R, P + L]`); the cache grows by L.

        Returns the video logits `[R, len(logits_to_keep), V]` (by default of the last position only).
        """
        return self.transformer(
            input_ids,
            attention_mask=attention_mask,
            past_key_values=cache,
            use_cache=True,
            video_logits_only=True,
            logits_to_keep=logits_to_keep,
        ).logits

    def _apply_history_mask(self, frames: torch.LongTensor, history: torch.BoolTensor) -> None:
        """In place: replace the masked content tokens of `frames [R, T, L_f]` by MASK (`history [R, N]`)."""
        content = frames[..., FRAME_HEADER_LENGTH:-1]
        content.masked_fill_(history.unsqueeze(1).expand_as(content), self.processor.mask_token_id)


def _frame_size(frames: Any) -> tuple[int, int]:
    """(H, W) of an image or video given as an array `[..., H, W, 3]` or a float tensor `[3, ..., H, W]`."""
    if isinstance(frames, torch.Tensor) and frames.is_floating_point():
        return tuple(frames.shape[-2:])
    return tuple(np.asarray(frames).shape[-3:-1])


def _stack_left_padded(
    branches: list[tuple[torch.LongTensor, torch.LongTensor]], pad_token_id: int
) -> tuple[torch.LongTensor, torch.LongTensor]:
    """Stack left-padded `(input_ids [B, L_i], attention_mask [B, L_i])` batches into `[sum B, max L_i]`."""
    length = max(ids.shape[1] for ids, _ in branches)
    all_ids, all_masks = [], []
    for ids, mask in branches:
        pad = length - ids.shape[1]
        all_ids.append(torch.nn.functional.pad(ids, (pad, 0), value=pad_token_id))
        all_masks.append(torch.nn.functional.pad(mask, (pad, 0), value=0))
    return torch.cat(all_ids), torch.cat(all_masks)


# ---------------------------------------------------------------------------------------------------------------------
# Hub-style remote-code layout


def write_remote_code(pipeline: DiffusionPipeline, root: Path) -> dict[str, Any]:
    """Write the code of `pipeline` and its components into a saved pipeline folder `root`, for
    `DiffusionPipeline.from_pretrained(root, trust_remote_code=True)` and
    `transformers.pipeline(task, model=root, trust_remote_code=True)` without `lumos_hf`.

    diffusers copies a remote module, and only the files it imports relatively (one level, no recursion), into one
    flat folder before running it. So every package module needed (the transitive closure of the package-relative
    imports) is written flat into each folder, its relative imports rewritten to `from .module import ...`, and a
    small entry module per folder imports all of them: `pipeline_lumos_remote.py` at the root (named by
    `model_index.json`'s `_class_name`) and `lumos_<component>.py` in each component folder.

    transformers' `pipeline()` loads the model from the root with `AutoModel`: the transformer's weight files are
    hard-linked (else copied) there (the Hub stores identical files once), and the task pipelines of `hf_pipelines`
    load the other components from their sub-folders.

    Returns:
        The `auto_map` and `custom_pipelines` entries of the root `config.json`.
    """
    model_index_path = root / "model_index.json"
    model_index = json.loads(model_index_path.read_text())
    targets = {None: type(pipeline)}
    targets |= {
        name: type(getattr(pipeline, name)) for name in ("transformer", "video_tokenizer", "processor", "scheduler")
    }
    for name, cls in targets.items():
        entry = "pipeline_lumos_remote" if name is None else f"lumos_{name}"
        folder = root if name is None else root / name
        modules = _write_flat_modules(cls.__module__, folder)
        dependencies = "".join(f"from .{flat} import {first}  # noqa: F401\n" for flat, first in modules[:-1])
        (folder / f"{entry}.py").write_text(
            f'"""Remote-code entry of {name or "the pipeline"} (written by lumos_hf.pipeline_lumos.write_remote_code).\n\n'
            "diffusers copies only the modules an entry imports relatively: it lists them all.\n"
            f'"""\n\n{dependencies}from .{modules[-1][0]} import {cls.__name__}  # noqa: F401\n'
        )
        if name is None:
            model_index["_class_name"] = [entry, cls.__name__]
        else:
            model_index[name] = [entry, cls.__name__]
    model_index_path.write_text(json.dumps(model_index, indent=2, sort_keys=True) + "\n")

    package = type(pipeline).__module__.rpartition(".")[0]
    _write_flat_modules(f"{package}.hf_pipelines", root)
    hf_pipelines = importlib.import_module(f"{package}.hf_pipelines")
    for weights in (root / "transformer").glob("*.safetensors*"):
        (root / weights.name).unlink(missing_ok=True)
        try:
            os.link(weights, root / weights.name)
        except OSError:
            shutil.copy2(weights, root / weights.name)
    auto_map = {
        auto: f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"
        for auto, cls in (("AutoConfig", type(pipeline.transformer.config)), ("AutoModel", type(pipeline.transformer)))
    }
    return {
        "auto_map": auto_map,
        "custom_pipelines": {
            task: {"impl": f"hf_pipelines.{cls.__name__}", "pt": ["AutoModel"], "type": "multimodal"}
            for task, cls in hf_pipelines.TASKS.items()
        },
    }


_RELATIVE_IMPORT = re.compile(r"^(\s*from\s+)(\.+)([\w.]*)(\s+import\s)", flags=re.MULTILINE)


def _write_flat_modules(module_name: str, folder: Path) -> list[tuple[str, str]]:
    """Write `module_name` and the package modules it imports relatively (transitively) flat into `folder`.

    Returns:
        `(flat module name, one name it defines)` per module written, dependencies first, `module_name` last.
    """
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dependency in _relative_dependencies(name):
            visit(dependency)
        ordered.append(name)

    visit(module_name)
    flat = {name: name.rsplit(".", 1)[-1] for name in ordered}
    if len(set(flat.values())) != len(flat):
        raise ValueError(f"modules with the same name cannot be flattened: {sorted(flat)}")
    written = []
    for name in ordered:
        path = Path(importlib.util.find_spec(name).origin)
        source = _RELATIVE_IMPORT.sub(
            lambda m, name=name, path=path: f"{m[1]}.{flat[_resolve(name, path, m[2], m[3])]}{m[4]}",
            path.read_text(),
        )
        (folder / f"{flat[name]}.py").write_text(source)
        tree = ast.parse(source)
        first = next(n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)))
        written.append((flat[name], first))
    return written


def _relative_dependencies(module_name: str) -> list[str]:
    """Full names of the modules that `module_name` imports relatively (anywhere in the file)."""
    path = Path(importlib.util.find_spec(module_name).origin)
    return [_resolve(module_name, path, m[2], m[3]) for m in _RELATIVE_IMPORT.finditer(path.read_text())]


def _resolve(module_name: str, path: Path, dots: str, relative: str) -> str:
    """The full module name of `from {dots}{relative} import ...` written in `module_name` (file `path`)."""
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    for _ in range(len(dots) - 1):
        package = package.rpartition(".")[0]
    full = f"{package}.{relative}" if relative else package
    if Path(importlib.util.find_spec(full).origin).name == "__init__.py":
        raise ValueError(f"{module_name} imports the package {full}: import from its modules for the remote code")
    return full
