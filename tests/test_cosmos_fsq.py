"""FSQ quantiser of the Cosmos discrete tokenizer: index <-> code bijection, basis, float32 numerics."""

from __future__ import annotations

import pytest
import torch
from conftest import shared_path
from safetensors.torch import load_file

from lumos_hf.video_tokenizer import FSQuantizer

LEVELS = [8, 8, 8, 5, 5, 5]


@pytest.fixture(scope="module")
def fsq() -> FSQuantizer:
    return FSQuantizer(LEVELS)


def test_basis_and_codebook_size(fsq):
    assert fsq.basis.tolist() == [1, 8, 64, 512, 2560, 12800]
    assert fsq.codebook_size == 64000
    assert fsq.dim == 6


def test_round_trip_over_all_indices(fsq):
    indices = torch.arange(64000).reshape(1, 64000)
    codes = fsq.indices_to_codes(indices)
    assert codes.shape == (1, 6, 64000) and codes.dtype == torch.float32
    assert codes.min() == -1 and codes.max() <= 1
    assert torch.equal(fsq.codes_to_indices(codes), indices)
    # All 64,000 code vectors are distinct.
    assert torch.unique(codes[0].T, dim=0).shape[0] == 64000


def test_index_is_digit_sum(fsq):
    digits = torch.tensor([7, 0, 3, 4, 1, 2])
    index = int((digits * torch.tensor([1, 8, 64, 512, 2560, 12800])).sum())
    codes = fsq.indices_to_codes(torch.tensor([index]))
    half = torch.tensor([4.0, 4, 4, 2, 2, 2])
    assert torch.equal(codes[0], (digits - half) / half)
    assert torch.equal(fsq.indices_to_digits(torch.tensor([index])), digits[None])
    all_digits = fsq.indices_to_digits(torch.arange(64000))  # [64000, 6]
    assert torch.equal(fsq.digits_to_indices(all_digits), torch.arange(64000))
    assert (all_digits >= 0).all() and (all_digits < fsq.levels).all()


def test_matches_official_implicit_codebook(fsq):
    state = load_file(shared_path("fixtures", "official_cosmos_dv_tiny", "encoder_state.safetensors"))
    assert torch.equal(fsq.implicit_codebook(), state["quantizer.implicit_codebook"])


def test_quantize_is_float32_for_low_precision_inputs(fsq):
    latents = torch.randn(2, 6, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 3
    codes32, indices32 = fsq.quantize(latents)
    codes_bf16, indices_bf16 = fsq.quantize(latents.bfloat16())
    assert codes_bf16.dtype == torch.float32 and indices_bf16.dtype == torch.int64
    assert indices32.shape == (2, 3, 4, 4)
    assert torch.equal(indices_bf16, fsq.quantize(latents.bfloat16().float())[1])
    assert torch.equal(fsq.indices_to_codes(indices32), codes32)


@pytest.mark.parametrize(
    ("indices", "error"),
    [
        (torch.tensor([[64000]]), ValueError),
        (torch.tensor([[-1]]), ValueError),
        (torch.tensor([[1.0]]), TypeError),
        ([[1, 2]], TypeError),
    ],
)
def test_bad_indices(fsq, indices, error):
    with pytest.raises(error, match="indices"):
        fsq.indices_to_codes(indices)


def test_bad_codes_and_levels(fsq):
    with pytest.raises(ValueError, match="codes"):
        fsq.codes_to_indices(torch.zeros(1, 5, 2))
    with pytest.raises(ValueError, match="codes"):
        fsq.codes_to_indices(torch.full((1, 6, 2), 2.0))
    with pytest.raises(TypeError, match="codes"):
        fsq.codes_to_indices(torch.zeros(1, 6, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="levels"):
        FSQuantizer([8, 1])
