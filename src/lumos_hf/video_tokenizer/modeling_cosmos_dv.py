"""Cosmos discrete video tokenizer (DV4x8x8 by default) built from diffusers' Cosmos blocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.autoencoder_kl_cosmos import (
    CosmosCausalAttention,
    CosmosCausalConv3d,
    CosmosDecoder3d,
    CosmosEncoder3d,
    CosmosTemporalAttentionProcessor2_0,
)
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from diffusers.utils.accelerate_utils import apply_forward_hook
from torch import nn

from .fsq import FSQuantizer

# Values outside [-1 - tol, 1 + tol] are rejected by `encode`: they almost always mean [0, 255] or [0, 1] pixels.
_RANGE_TOLERANCE = 1e-3


@dataclass
class CosmosDiscreteVideoTokenizerOutput(BaseOutput):
    """
    Output of [`CosmosDiscreteVideoTokenizer.forward`].

    Args:
        sample (`torch.Tensor`): [B, 3, T, H, W] reconstruction, clamped to [-1, 1].
        indices (`torch.LongTensor`): [B, 1 + (T - 1) / 4, H / 8, W / 8] FSQ indices.
    """

    sample: torch.Tensor
    indices: torch.Tensor


class _StreamingCausalConv3d(CosmosCausalConv3d):
    """
    `CosmosCausalConv3d` (temporal stride 1) that can run over consecutive temporal chunks: while streaming, each chunk
    is left-padded with the last `temporal_pad` input frames of the previous chunk instead of copies of its own first
    frame, so the chunked output equals the one-pass output.
    """

    def __init__(self, conv: CosmosCausalConv3d) -> None:
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            kernel_size=conv.kernel_size,
            dilation=conv.dilation,
            stride=conv.stride,
            padding=conv.spatial_pad[0],
            pad_mode=conv.pad_mode,
        )
        self.streaming = False
        self._cache: torch.Tensor | None = None

    def begin_stream(self) -> None:
        self.streaming, self._cache = True, None

    def end_stream(self) -> None:
        self.streaming, self._cache = False, None

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if not self.streaming:
            return super().forward(hidden_states)
        past = self._cache
        if past is None:
            past = hidden_states[:, :, :1].repeat(1, 1, self.temporal_pad, 1, 1)
        hidden_states = torch.cat([past, hidden_states], dim=2)
        self._cache = hidden_states[:, :, -self.temporal_pad :].clone()
        hidden_states = F.pad(hidden_states, (*self.spatial_pad, 0, 0), mode=self.pad_mode, value=0.0)
        return nn.Conv3d.forward(self, hidden_states)


class _StreamingTemporalAttnProcessor(CosmosTemporalAttentionProcessor2_0):
    """Causal temporal attention that, while streaming, keeps the keys and values of earlier chunks (a KV cache)."""

    def __init__(self) -> None:
        super().__init__()
        self.streaming = False
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def begin_stream(self) -> None:
        self.streaming, self._cache = True, None

    def end_stream(self) -> None:
        self.streaming, self._cache = False, None

    def __call__(
        self, attn: CosmosCausalAttention, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if not self.streaming:
            return super().__call__(attn, hidden_states, attention_mask)
        batch_size, _, num_frames, height, width = hidden_states.shape
        residual = hidden_states
        hidden_states = attn.norm(hidden_states)
        # [B, C, T, H, W] -> [B * H * W, T, C]
        query, key, value = (
            proj(hidden_states).permute(0, 3, 4, 2, 1).flatten(0, 2) for proj in (attn.to_q, attn.to_k, attn.to_v)
        )
        if self._cache is not None:
            key = torch.cat([self._cache[0], key], dim=1)
            value = torch.cat([self._cache[1], value], dim=1)
        self._cache = (key, value)
        num_past = key.shape[1] - num_frames
        mask = torch.ones(num_frames, key.shape[1], dtype=torch.bool, device=key.device).tril(diagonal=num_past)
        # [B * H * W, T, C] -> [B * H * W, N, T, C // N]
        query, key, value = (
            x.unflatten(2, (attn.num_attention_heads, -1)).transpose(1, 2) for x in (query, key, value)
        )
        hidden_states = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
        hidden_states = hidden_states.transpose(1, 2).flatten(2, 3).type_as(query)
        hidden_states = hidden_states.unflatten(0, (batch_size, height, width)).permute(0, 4, 3, 1, 2)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        return hidden_states + residual


def _make_streamable(module: nn.Module) -> None:
    """Swaps, in place, the temporal convs and temporal attention processors of `module` for streaming versions."""
    for name, child in list(module.named_children()):
        if type(child) is CosmosCausalConv3d and child.temporal_pad > 0 and child.stride[0] == 1:
            setattr(module, name, _StreamingCausalConv3d(child))
        else:
            _make_streamable(child)
    if isinstance(module, CosmosCausalAttention) and isinstance(module.processor, CosmosTemporalAttentionProcessor2_0):
        module.processor = _StreamingTemporalAttnProcessor()


class CosmosDiscreteVideoTokenizer(ModelMixin, ConfigMixin):
    r"""
    NVIDIA Cosmos discrete video tokenizer (default configuration: DV4x8x8, the tokenizer of Lumos-1).

    A causal video autoencoder with a finite-scalar-quantised bottleneck: `1 + 4k` RGB frames of `H x W` in [-1, 1]
    become `(1 + k) x H/8 x W/8` integer indices in `[0, 64000)`. Time is causal: the indices of the first frames do
    not depend on later frames, and an image is a video of one frame. The encoder and decoder are diffusers'
    `CosmosEncoder3d` / `CosmosDecoder3d` (Haar wavelet patcher, factorised causal 3D convolutions, spatial and causal
    temporal attention), which have the layer structure of the official network; weights of the official TorchScript
    releases are converted with `lumos_hf.video_tokenizer.conversion`.

    Memory: long videos are processed in temporal chunks of `temporal_chunk_size` latent frames (default 8, i.e. 29
    pixel frames; see [`enable_temporal_chunking`]); convolution states and temporal-attention keys/values are carried
    across chunks, so the result equals a single pass up to float rounding. [`enable_slicing`] encodes and decodes a
    batch one video at a time. `enable_gradient_checkpointing()` recomputes the encoder's down and middle blocks and
    the decoder's middle and up blocks in backward (as diffusers' `AutoencoderKLCosmos`); while it is on and gradients
    are recorded, a video runs in one pass (a recomputed chunk could not replay the state carried into it).

    Args:
        in_channels (`int`, defaults to 3): channels of the input video.
        out_channels (`int`, defaults to 3): channels of the reconstruction.
        channels (`int`, defaults to 128): base channel count of the encoder and decoder.
        channels_mult (`tuple[int, ...]`, defaults to `(2, 4, 4)`): channel multipliers of the resolution levels.
        num_res_blocks (`int`, defaults to 2): residual blocks per encoder level (the decoder has one more).
        attn_resolutions (`tuple[int, ...]`, defaults to `(32,)`): resolutions (relative to `resolution`) with
            attention inside the down/up blocks; the middle blocks always have attention.
        resolution (`int`, defaults to 1024): reference resolution for `attn_resolutions`.
        patch_size (`int`, defaults to 4): spatio-temporal patch size of the wavelet patcher.
        patch_method (`str`, defaults to `"haar"`): `"haar"` (wavelet) or `"rearrange"`.
        z_channels (`int`, defaults to 16): latent channels before the quantiser projection.
        z_factor (`int`, defaults to 1): the encoder outputs `z_factor * z_channels` channels.
        levels (`tuple[int, ...]`, defaults to `(8, 8, 8, 5, 5, 5)`): FSQ levels, one per code channel.
        spatial_compression (`int`, defaults to 8): spatial down-sampling factor.
        temporal_compression (`int`, defaults to 4): temporal down-sampling factor.

    Example:

    ```python
    >>> import torch
    >>> from lumos_hf import CosmosDiscreteVideoTokenizer

    >>> tokenizer = CosmosDiscreteVideoTokenizer(channels=16)  # tiny; the default config is the real DV4x8x8
    >>> video = torch.rand(1, 3, 9, 32, 64) * 2 - 1  # [B, 3, T, H, W] in [-1, 1], T = 1 + 4k
    >>> indices = tokenizer.encode(video)
    >>> indices.shape, indices.dtype
    (torch.Size([1, 3, 4, 8]), torch.int64)
    >>> tokenizer.decode(indices).shape
    torch.Size([1, 3, 9, 32, 64])
    ```
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        channels: int = 128,
        channels_mult: Sequence[int] = (2, 4, 4),
        num_res_blocks: int = 2,
        attn_resolutions: Sequence[int] = (32,),
        resolution: int = 1024,
        patch_size: int = 4,
        patch_method: str = "haar",
        z_channels: int = 16,
        z_factor: int = 1,
        levels: Sequence[int] = (8, 8, 8, 5, 5, 5),
        spatial_compression: int = 8,
        temporal_compression: int = 4,
    ) -> None:
        super().__init__()
        if patch_method not in ("haar", "rearrange"):
            raise ValueError(f"`patch_method` must be 'haar' or 'rearrange', got {patch_method!r}.")
        for name, value in (
            ("patch_size", patch_size),
            ("spatial_compression", spatial_compression),
            ("temporal_compression", temporal_compression),
        ):
            if value < 1 or value & (value - 1):
                raise ValueError(f"`{name}` must be a power of two, got {value}.")
        if min(spatial_compression, temporal_compression) < patch_size:
            raise ValueError(
                f"`spatial_compression` ({spatial_compression}) and `temporal_compression` ({temporal_compression}) "
                f"must be at least `patch_size` ({patch_size})."
            )
        if spatial_compression // patch_size > 2 ** (len(channels_mult) - 1):
            raise ValueError(
                f"`spatial_compression / patch_size` = {spatial_compression // patch_size} needs more than the "
                f"{len(channels_mult) - 1} down-sampling levels that `channels_mult` {tuple(channels_mult)} gives."
            )
        channels_mult = tuple(channels_mult)
        common = {
            "num_resnet_blocks": num_res_blocks,
            "attention_resolutions": tuple(attn_resolutions),
            "resolution": resolution,
            "patch_size": patch_size,
            "patch_type": patch_method,
            "spatial_compression_ratio": spatial_compression,
            "temporal_compression_ratio": temporal_compression,
        }
        self.encoder = CosmosEncoder3d(
            in_channels=in_channels,
            out_channels=z_factor * z_channels,
            block_out_channels=(channels, *(channels * m for m in channels_mult)),
            **common,
        )
        self.quant_conv = CosmosCausalConv3d(z_factor * z_channels, len(levels), kernel_size=1, padding=0)
        self.quantizer = FSQuantizer(levels)
        self.post_quant_conv = CosmosCausalConv3d(len(levels), z_channels, kernel_size=1, padding=0)
        self.decoder = CosmosDecoder3d(
            in_channels=z_channels,
            out_channels=out_channels,
            block_out_channels=(*(channels * m for m in channels_mult), channels * channels_mult[-1]),
            **common,
        )
        # Chunked (streamed) processing is exact when all temporal compression happens in the patcher, as in DV4x8x8.
        self.supports_temporal_chunking = temporal_compression == patch_size
        if self.supports_temporal_chunking:
            _make_streamable(self.encoder)
            _make_streamable(self.decoder)
        self.temporal_chunk_size: int | None = 8 if self.supports_temporal_chunking else None
        self.use_slicing = False

    # ----------------------------------------------------------------------------------------------------------------
    # Memory options

    def enable_slicing(self) -> None:
        """Encode and decode a batch one video at a time (identical results, lower peak memory)."""
        self.use_slicing = True

    def disable_slicing(self) -> None:
        self.use_slicing = False

    def enable_temporal_chunking(self, latent_frames: int = 8) -> None:
        """
        Process videos in chunks of `latent_frames` latent frames (`4 * latent_frames` pixel frames), carrying causal
        convolution states and temporal attention keys/values across chunks: the result equals a single pass up to
        float rounding and peak activation memory no longer grows with the video length.
        """
        if not self.supports_temporal_chunking:
            raise ValueError(
                "Temporal chunking needs `temporal_compression == patch_size` (no temporal down-sampling layers); "
                f"this model has temporal_compression={self.config.temporal_compression}, "
                f"patch_size={self.config.patch_size}."
            )
        if not isinstance(latent_frames, int) or latent_frames < 1:
            raise ValueError(f"`latent_frames` must be an integer >= 1, got {latent_frames!r}.")
        self.temporal_chunk_size = latent_frames

    def disable_temporal_chunking(self) -> None:
        """Process every video in a single pass (the official behaviour; activation memory grows with length)."""
        self.temporal_chunk_size = None

    # ----------------------------------------------------------------------------------------------------------------
    # Shapes and validation

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    def num_latent_frames(self, num_frames: int) -> int:
        """Latent frames for `num_frames` pixel frames (`1 + (num_frames - 1) / temporal_compression`)."""
        return 1 + (num_frames - 1) // self.config.temporal_compression

    def _check_video(self, video: Any) -> None:
        if not torch.is_tensor(video) or not video.is_floating_point():
            raise TypeError(
                "`video` must be a float tensor [B, C, T, H, W] in [-1, 1], got "
                f"{getattr(video, 'dtype', type(video).__name__)}; convert uint8 frames, PIL images or numpy arrays "
                "with `lumos_hf.video_processing_lumos.frames_to_tensor`."
            )
        if video.ndim != 5:
            raise ValueError(f"`video` must have shape [B, C, T, H, W] (an image is T = 1), got {tuple(video.shape)}.")
        _, num_channels, num_frames, height, width = video.shape
        tc, sc = self.config.temporal_compression, self.config.spatial_compression
        if num_channels != self.config.in_channels:
            raise ValueError(f"`video` must have {self.config.in_channels} channels (dim 1), got {num_channels}.")
        if num_frames < 1 or (num_frames - 1) % tc:
            raise ValueError(
                f"The number of frames of `video` must be 1 + {tc}k (1, {1 + tc}, {1 + 2 * tc}, ...), got {num_frames}."
            )
        if height < sc or width < sc or height % sc or width % sc:
            raise ValueError(f"`video` height and width must be positive multiples of {sc}, got {height}x{width}.")
        low, high = video.aminmax()
        if low < -1 - _RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
            raise ValueError(
                f"`video` values must lie in [-1, 1], got [{float(low):.4g}, {float(high):.4g}]; "
                "map uint8 pixels with `x / 127.5 - 1` (`lumos_hf.video_processing_lumos.frames_to_tensor`)."
            )

    def _check_indices(self, indices: Any) -> None:
        self.quantizer.check_indices(indices)
        if indices.ndim != 4:
            raise ValueError(f"`indices` must have shape [B, T', H', W'], got {tuple(indices.shape)}.")

    def _chunks(self, num_latent_frames: int, checkpointing: bool) -> Iterator[tuple[int, int]]:
        size = num_latent_frames if checkpointing or not self.temporal_chunk_size else self.temporal_chunk_size
        for start in range(0, num_latent_frames, size):
            yield start, min(start + size, num_latent_frames)

    @staticmethod
    def _checkpointing(module: nn.Module) -> bool:
        """Whether `module` (the encoder or decoder) recomputes its blocks in backward in this pass."""
        return torch.is_grad_enabled() and module.gradient_checkpointing

    @staticmethod
    def _run_block(module: nn.Module, block: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
        if CosmosDiscreteVideoTokenizer._checkpointing(module):
            return module._gradient_checkpointing_func(block, hidden_states)
        return block(hidden_states)

    @contextmanager
    def _streaming(self, module: nn.Module) -> Iterator[None]:
        if self._checkpointing(module):  # one pass without carried state: the recomputation sees the same inputs
            yield
            return
        states = [m for m in module.modules() if isinstance(m, _StreamingCausalConv3d)]
        states += [
            m.processor
            for m in module.modules()
            if isinstance(m, CosmosCausalAttention) and isinstance(m.processor, _StreamingTemporalAttnProcessor)
        ]
        for state in states:
            state.begin_stream()
        try:
            yield
        finally:
            for state in states:
                state.end_stream()

    # ----------------------------------------------------------------------------------------------------------------
    # Encoder / decoder passes

    def _encode_latents(self, video: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] -> [B, len(levels), T', H', W'] pre-quantisation latents (model dtype)."""
        encoder, tc = self.encoder, self.config.temporal_compression
        num_latent = self.num_latent_frames(video.shape[2])
        outputs = []
        with self._streaming(encoder):
            for start, end in self._chunks(num_latent, self._checkpointing(encoder)):
                frames = video[:, :, (0 if start == 0 else 1 + tc * (start - 1)) : 1 + tc * (end - 1)]
                if start == 0:
                    hidden_states = encoder.patch_embed(frames)
                else:
                    # The patcher treats the first frame as an image; a throw-away leading frame keeps this chunk's
                    # frames in their own patch groups.
                    hidden_states = encoder.patch_embed(torch.cat([frames[:, :, :1], frames], dim=2))[:, :, 1:]
                hidden_states = encoder.conv_in(hidden_states)
                for block in encoder.down_blocks:
                    hidden_states = self._run_block(encoder, block, hidden_states)
                hidden_states = self._run_block(encoder, encoder.mid_block, hidden_states)
                hidden_states = encoder.conv_out(F.silu(encoder.norm_out(hidden_states)))
                outputs.append(self.quant_conv(hidden_states))
        return torch.cat(outputs, dim=2)

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """[B, len(levels), T', H', W'] codes -> [B, C, 1 + tc (T' - 1), H, W] raw reconstruction (model dtype)."""
        tc, sc = self.config.temporal_compression, self.config.spatial_compression
        batch_size, _, num_latent, height, width = codes.shape
        output = None
        with self._streaming(self.decoder):
            for start, end in self._chunks(num_latent, self._checkpointing(self.decoder)):
                frames = self._decode_chunk(codes[:, :, start:end], first=start == 0)
                if output is None:
                    shape = (batch_size, frames.shape[1], 1 + tc * (num_latent - 1), height * sc, width * sc)
                    output = frames.new_empty(shape)
                first = 0 if start == 0 else 1 + tc * (start - 1)
                output[:, :, first : first + frames.shape[2]] = frames
        return output

    def _decode_chunk(self, codes: torch.Tensor, first: bool) -> torch.Tensor:
        """`[B, len(levels), t, h, w]` codes of consecutive latent frames -> their pixel frames `[B, C, f, H, W]`
        (`f = 1 + tc (t - 1)` for the video's first chunk, `tc t` after it), inside `_streaming(decoder)`."""
        decoder = self.decoder
        hidden_states = decoder.conv_in(self.post_quant_conv(codes.to(self.dtype)))
        hidden_states = self._run_block(decoder, decoder.mid_block, hidden_states)
        for block in decoder.up_blocks:
            hidden_states = self._run_block(decoder, block, hidden_states)
        hidden_states = decoder.conv_out(F.silu(decoder.norm_out(hidden_states)))
        if first:
            return decoder.unpatch_embed(hidden_states)
        # The unpatcher drops the padding frames of the first patch group; a leading copy absorbs that.
        return decoder.unpatch_embed(torch.cat([hidden_states[:, :, :1], hidden_states], dim=2))[:, :, 1:]

    def _encode_indices(self, video: torch.Tensor) -> torch.Tensor:
        return self.quantizer.quantize(self._encode_latents(video.to(self.device, self.dtype)))[1]

    def _decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        return self._decode_codes(self.quantizer.indices_to_codes(indices.to(self.device)))

    def _per_video(self, fn: Callable[[torch.Tensor], torch.Tensor], tensor: torch.Tensor) -> torch.Tensor:
        if self.use_slicing and tensor.shape[0] > 1:
            return torch.cat([fn(part) for part in tensor.split(1)])
        return fn(tensor)

    # ----------------------------------------------------------------------------------------------------------------
    # Public API

    @apply_forward_hook
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """
        Args:
            video: [B, C, T, H, W] float tensor in [-1, 1], T = 1 + 4k, H and W multiples of 8 (for DV4x8x8).

        Returns:
            [B, 1 + (T - 1) / 4, H / 8, W / 8] int64 FSQ indices in [0, codebook_size).
        """
        self._check_video(video)
        return self._per_video(self._encode_indices, video)

    @apply_forward_hook
    def decode(self, indices: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """
        Args:
            indices: [B, T', H', W'] integer FSQ indices.
            clamp: clamp the reconstruction to [-1, 1]; `False` returns the raw network output, as the official
                `decoder.jit`.

        Returns:
            [B, C, 1 + 4 (T' - 1), 8 H', 8 W'] reconstruction in the model dtype.
        """
        self._check_indices(indices)
        video = self._per_video(self._decode_indices, indices)
        return video.clamp(-1.0, 1.0) if clamp else video

    @contextmanager
    def streaming_decode(self, clamp: bool = True) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
        """
        Decode a video a few latent frames at a time, as they are generated: the decoder is causal in time, and its
        convolution states and temporal-attention keys/values are carried from one call to the next, so the frames
        equal those of one `decode` of the whole video up to float rounding. One video (batch) per context.

        Yields:
            `decode(indices [B, t, h, w]) -> [B, C, f, H, W]`: the pixel frames of the next `t` latent frames
            (`f = 1 + 4 (t - 1)` for the first call, `4 t` after it; for DV4x8x8), clamped to [-1, 1] unless `clamp`
            is False.

        Example:

        ```python
        >>> import torch
        >>> from lumos_hf import CosmosDiscreteVideoTokenizer

        >>> tokenizer = CosmosDiscreteVideoTokenizer(channels=16)
        >>> indices = torch.randint(0, tokenizer.codebook_size, (1, 3, 4, 8))
        >>> with tokenizer.streaming_decode() as decode:
        ...     parts = [decode(indices[:, t : t + 1]) for t in range(3)]
        >>> [part.shape[2] for part in parts]
        [1, 4, 4]
        >>> bool((torch.cat(parts, dim=2) - tokenizer.decode(indices)).abs().max() < 1e-4)
        True
        ```
        """
        if not self.supports_temporal_chunking:
            raise ValueError(
                "streaming_decode needs `temporal_compression == patch_size` (no temporal down-sampling layers); "
                f"this model has temporal_compression={self.config.temporal_compression}, "
                f"patch_size={self.config.patch_size}."
            )
        calls = 0

        def decode(indices: torch.Tensor) -> torch.Tensor:
            nonlocal calls
            self._check_indices(indices)
            frames = self._decode_chunk(self.quantizer.indices_to_codes(indices.to(self.device)), first=calls == 0)
            calls += 1
            return frames.clamp(-1.0, 1.0) if clamp else frames

        with torch.no_grad(), self._streaming(self.decoder):
            yield decode

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, ...] integer indices -> [B, len(levels), ...] float32 codes in [-1, 1]."""
        return self.quantizer.indices_to_codes(indices)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """[B, len(levels), ...] codes on the FSQ grid -> [B, ...] int64 indices."""
        return self.quantizer.codes_to_indices(codes)

    def forward(self, video: torch.Tensor, return_dict: bool = True) -> CosmosDiscreteVideoTokenizerOutput | tuple:
        """Encodes and decodes `video` ([B, C, T, H, W] in [-1, 1]); returns the clamped reconstruction and indices."""
        indices = self.encode(video)
        sample = self.decode(indices)
        if not return_dict:
            return (sample, indices)
        return CosmosDiscreteVideoTokenizerOutput(sample=sample, indices=indices)
