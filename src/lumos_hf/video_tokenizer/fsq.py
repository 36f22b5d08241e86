"""Finite scalar quantisation (FSQ) as used by the Cosmos discrete tokenizers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class FSQuantizer(nn.Module):
    r"""
    Finite scalar quantiser with levels `L_0 … L_{d-1}` (Mentzer et al., 2023), numerically identical to Cosmos'
    `FSQuantizer` in float32.

    Each of the `d` channels is bounded with `tanh` and rounded to one of `L_i` values; the code of a channel is that
    value rescaled to [-1, 1] and the index of a vector is `Σ digit_i · basis_i` with `basis = cumprod([1, L_0, …])`.
    Quantisation always runs in float32, whatever the dtype of the input.

    Args:
        levels (`Sequence[int]`): number of values per channel, each at least 2.
    """

    def __init__(self, levels: Sequence[int]) -> None:
        super().__init__()
        levels = [int(level) for level in levels]
        if not levels or any(level < 2 for level in levels):
            raise ValueError(f"`levels` must be a non-empty list of integers >= 2, got {levels}.")
        basis = [math.prod(levels[:i]) for i in range(len(levels))]
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.int64), persistent=False)
        self.register_buffer("basis", torch.tensor(basis, dtype=torch.int64), persistent=False)
        self.codebook_size = math.prod(levels)
        self.dim = len(levels)

    def _check_codes(self, codes: torch.Tensor) -> None:
        if not torch.is_tensor(codes) or not codes.is_floating_point():
            raise TypeError(f"`codes` must be a floating point tensor, got {type(codes).__name__}.")
        if codes.ndim < 2 or codes.shape[1] != self.dim:
            raise ValueError(f"`codes` must have shape [B, {self.dim}, ...], got {tuple(codes.shape)}.")

    def check_indices(self, indices: torch.Tensor) -> None:
        """Raises when `indices` is not an integer tensor with values in [0, codebook_size)."""
        if (
            not torch.is_tensor(indices)
            or indices.is_floating_point()
            or indices.is_complex()
            or indices.dtype == torch.bool
        ):
            raise TypeError(f"`indices` must be an integer tensor, got {getattr(indices, 'dtype', type(indices))}.")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size):
            raise ValueError(
                f"`indices` must lie in [0, {self.codebook_size}), got values in [{int(indices.min())}, "
                f"{int(indices.max())}]."
            )

    def _half_width(self) -> torch.Tensor:
        return (self.levels // 2).float()

    def _bound(self, latents: torch.Tensor) -> torch.Tensor:
        """[..., d] float32 latents -> [..., d] float32 values in (-L_i / 2, L_i / 2), rounded to the digits."""
        levels = self.levels.to(torch.int32)  # the official buffer dtype: keeps the float32 arithmetic identical
        half_l = (levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(levels % 2 == 0, 0.5, 0.0)
        shift = (offset / half_l).atanh()
        return (latents + shift).tanh() * half_l - offset

    def quantize(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            latents: [B, d, ...] pre-quantisation latents (any float dtype).

        Returns:
            `(codes, indices)`: codes [B, d, ...] float32 in [-1, 1] and indices [B, ...] int64. When `latents`
            requires grad (and grad mode is on), the codes carry a straight-through gradient: their value is
            unchanged and their gradient is that of `bounded / half_width`, i.e.
            `codes = (bounded + (round(bounded) - bounded).detach()) / half_width`.
        """
        self._check_codes(latents)
        bounded = self._bound(latents.float().movedim(1, -1))
        digits = bounded.round().long() + self.levels // 2
        indices = self.digits_to_indices(digits)
        codes = (digits.float() - self._half_width()) / self._half_width()
        if torch.is_grad_enabled() and latents.requires_grad:
            # Adding an exact zero keeps the values bit-identical to the rounded codes.
            codes = codes + (bounded - bounded.detach()) / self._half_width()
        return codes.movedim(-1, 1), indices

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, ...] integer indices -> [B, d, ...] float32 codes in [-1, 1]."""
        self.check_indices(indices)
        digits = self.indices_to_digits(indices)
        codes = (digits.float() - self._half_width()) / self._half_width()
        return codes.movedim(-1, 1)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """[B, d, ...] codes on the FSQ grid -> [B, ...] int64 indices (codes are snapped to the nearest grid value)."""
        self._check_codes(codes)
        half_width = self._half_width()
        digits = (codes.float().movedim(1, -1) * half_width + half_width).round().long()
        if (digits < 0).any() or (digits >= self.levels).any():
            raise ValueError("`codes` must lie in [-1, 1] on the FSQ grid of each channel.")
        return self.digits_to_indices(digits)

    def indices_to_digits(self, indices: torch.Tensor) -> torch.Tensor:
        """[...] integer indices -> [..., d] int64 digits, digit `i` in `[0, L_i)`."""
        return (indices.long().unsqueeze(-1) // self.basis) % self.levels

    def digits_to_indices(self, digits: torch.Tensor) -> torch.Tensor:
        """[..., d] integer digits (digit `i` in `[0, L_i)`) -> [...] int64 indices."""
        return (digits * self.basis).sum(-1)

    def implicit_codebook(self) -> torch.Tensor:
        """[codebook_size, d] float32: the code of every index, as the official `implicit_codebook` buffer."""
        return self.indices_to_codes(torch.arange(self.codebook_size, device=self.levels.device)[None]).squeeze(0).T
