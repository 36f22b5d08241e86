"""CosmosDiscreteVideoTokenizer: parity with the official tokenizer, causality, chunking, slicing, I/O, validation."""

from __future__ import annotations

import importlib.metadata
import inspect

import diffusers
import numpy as np
import pytest
import torch
from conftest import shared_path
from packaging.requirements import Requirement
from PIL import Image
from safetensors.torch import load_file

from lumos_hf.video_processing_lumos import frames_to_tensor
from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer, CosmosDiscreteVideoTokenizerOutput
from lumos_hf.video_tokenizer.conversion import convert_cosmos_tokenizer

FIXTURE = ("fixtures", "official_cosmos_dv_tiny")


@pytest.fixture(scope="module")
def official_cases() -> dict[str, torch.Tensor]:
    return load_file(shared_path(*FIXTURE, "cases.safetensors"))


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> CosmosDiscreteVideoTokenizer:
    """The fixture's official state dicts, converted, saved and reloaded with `from_pretrained`."""
    out = tmp_path_factory.mktemp("cosmos_dv_tiny")
    convert_cosmos_tokenizer(
        encoder=shared_path(*FIXTURE, "encoder_state.safetensors"),
        decoder=shared_path(*FIXTURE, "decoder_state.safetensors"),
        config=shared_path(*FIXTURE, "config.json"),
        output_dir=out,
    )
    return CosmosDiscreteVideoTokenizer.from_pretrained(out).eval()


@pytest.fixture(scope="module")
def tiny() -> CosmosDiscreteVideoTokenizer:
    torch.manual_seed(0)
    return CosmosDiscreteVideoTokenizer(channels=16).eval()


def _video(batch: int, frames: int, height: int = 32, width: int = 48, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, frames, height, width, generator=generator) * 2 - 1


def test_installed_diffusers_is_within_the_pinned_range():
    # The model builds on private diffusers blocks: the package pins the minor version these tests cover.
    requirement = next(r for r in importlib.metadata.requires("lumos_hf") or [] if r.startswith("diffusers"))
    assert Requirement(requirement).specifier.contains(diffusers.__version__), (requirement, diffusers.__version__)


def test_default_config_is_dv4x8x8():
    parameters = inspect.signature(CosmosDiscreteVideoTokenizer.__init__).parameters
    config = {name: parameter.default for name, parameter in parameters.items() if name != "self"}
    assert config["channels"] == 128 and list(config["channels_mult"]) == [2, 4, 4]
    assert list(config["levels"]) == [8, 8, 8, 5, 5, 5]
    assert (config["spatial_compression"], config["temporal_compression"], config["patch_size"]) == (8, 4, 4)
    assert config["z_channels"] == 16 and config["num_res_blocks"] == 2


@torch.no_grad()
def test_parity_with_official(converted, official_cases):
    video = official_cases["input"][None]
    indices = converted.encode(video)
    assert indices.dtype == torch.int64 and indices.shape == (1, 3, 8, 14)
    assert torch.equal(indices[0], official_cases["indices"])
    assert torch.equal(converted.indices_to_codes(indices)[0], official_cases["codes"])
    assert torch.equal(converted.codes_to_indices(official_cases["codes"][None]), indices)
    reconstruction = converted.decode(official_cases["indices"][None], clamp=False)
    torch.testing.assert_close(reconstruction[0], official_cases["reconstruction"], atol=1e-4, rtol=0)
    clamped = converted.decode(official_cases["indices"][None])
    torch.testing.assert_close(clamped[0], official_cases["reconstruction"].clamp(-1, 1), atol=1e-4, rtol=0)


@torch.no_grad()
def test_parity_from_uint8_frames(converted, official_cases):
    frames = official_cases["pixels_uint8"].permute(1, 2, 3, 0).numpy()  # [T, H, W, 3]
    assert torch.equal(converted.encode(frames_to_tensor(frames)[None])[0], official_cases["indices"])
    images = [Image.fromarray(frame) for frame in frames]
    assert torch.equal(converted.encode(frames_to_tensor(images)[None])[0], official_cases["indices"])


@torch.no_grad()
def test_temporal_chunking_matches_single_pass(converted, official_cases):
    video = official_cases["input"][None]
    converted.enable_temporal_chunking(1)
    try:
        indices = converted.encode(video)
        reconstruction = converted.decode(indices, clamp=False)
    finally:
        converted.enable_temporal_chunking()
    assert torch.equal(indices[0], official_cases["indices"])
    torch.testing.assert_close(reconstruction[0], official_cases["reconstruction"], atol=1e-4, rtol=0)


@torch.no_grad()
def test_long_video_chunked_equals_one_pass(tiny):
    video = _video(1, 25, 16, 16, seed=1)
    tiny.disable_temporal_chunking()
    try:
        latents = tiny._encode_latents(video)
        indices = tiny.encode(video)
        reconstruction = tiny.decode(indices, clamp=False)
        for chunk in (2, 3):
            tiny.enable_temporal_chunking(chunk)
            torch.testing.assert_close(tiny._encode_latents(video), latents, atol=1e-5, rtol=1e-5)
            assert torch.equal(tiny.encode(video), indices)
            torch.testing.assert_close(tiny.decode(indices, clamp=False), reconstruction, atol=1e-5, rtol=1e-5)
    finally:
        tiny.enable_temporal_chunking()


@torch.no_grad()
def test_causality_prefix(tiny):
    video = _video(1, 25, seed=2)
    full = tiny.encode(video)
    prefix = tiny.encode(video[:, :, :9])
    assert full.shape == (1, 7, 4, 6) and prefix.shape == (1, 3, 4, 6)
    assert torch.equal(full[:, :3], prefix)
    # Changing later frames leaves the earlier latent frames unchanged.
    changed = video.clone()
    changed[:, :, 9:] = -changed[:, :, 9:]
    assert torch.equal(tiny.encode(changed)[:, :3], prefix)
    # Decoding is causal too: the first 9 frames only depend on the first 3 latent frames.
    torch.testing.assert_close(
        tiny.decode(full, clamp=False)[:, :, :9], tiny.decode(prefix, clamp=False), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize(("frames", "latent_frames"), [(1, 1), (9, 3), (25, 7)])
@torch.no_grad()
def test_frame_counts(tiny, frames, latent_frames):
    video = _video(1, frames, 16, 24)
    indices = tiny.encode(video)
    assert indices.shape == (1, latent_frames, 2, 3)
    assert tiny.num_latent_frames(frames) == latent_frames
    assert int(indices.min()) >= 0 and int(indices.max()) < 64000
    reconstruction = tiny.decode(indices)
    assert reconstruction.shape == (1, 3, frames, 16, 24)
    assert reconstruction.min() >= -1 and reconstruction.max() <= 1


@torch.no_grad()
def test_batch_slicing_matches_unbatched(tiny):
    video = _video(3, 5, 16, 16, seed=3)
    singles = torch.cat([tiny.encode(v[None]) for v in video])
    assert torch.equal(tiny.encode(video), singles)
    tiny.enable_slicing()
    try:
        assert torch.equal(tiny.encode(video), singles)
        sliced = tiny.decode(singles, clamp=False)
    finally:
        tiny.disable_slicing()
    single_decodes = torch.cat([tiny.decode(i[None], clamp=False) for i in singles])
    torch.testing.assert_close(sliced, single_decodes, atol=1e-6, rtol=0)
    torch.testing.assert_close(tiny.decode(singles, clamp=False), single_decodes, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_forward_output(tiny):
    video = _video(1, 5, 16, 16)
    output = tiny(video)
    assert isinstance(output, CosmosDiscreteVideoTokenizerOutput)
    assert output.sample.shape == video.shape and output.indices.shape == (1, 2, 2, 2)
    sample, indices = tiny(video, return_dict=False)
    assert torch.equal(indices, output.indices) and torch.equal(sample, output.sample)


@torch.no_grad()
def test_save_load_round_trip(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = CosmosDiscreteVideoTokenizer.from_pretrained(tmp_path).eval()
    for key, value in tiny.config.items():
        if key.startswith("_"):
            continue
        assert loaded.config[key] == (list(value) if isinstance(value, tuple) else value), key
    for (name, a), (_, b) in zip(tiny.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    video = _video(1, 5, 16, 16)
    assert torch.equal(loaded.encode(video), tiny.encode(video))


@torch.no_grad()
def test_quantisation_is_float32_for_other_model_dtypes(tiny):
    # bfloat16 convs are not available on CPU (avg_pool3d); float64 exercises the same dtype handling.
    model = CosmosDiscreteVideoTokenizer(channels=16).eval()
    model.load_state_dict(tiny.state_dict())
    model = model.double()
    video = _video(1, 5, 16, 16)
    latents = model._encode_latents(video.double())
    assert latents.dtype == torch.float64
    indices = model.encode(video)
    assert indices.dtype == torch.int64
    assert torch.equal(indices, model.quantizer.quantize(latents.float())[1])
    assert model.decode(indices).dtype == torch.float64


@pytest.mark.parametrize(
    ("video", "error", "match"),
    [
        (np.zeros((1, 3, 5, 16, 16), dtype=np.float32), TypeError, "float tensor"),
        (torch.zeros(1, 3, 5, 16, 16, dtype=torch.uint8), TypeError, "float tensor"),
        (torch.zeros(3, 5, 16, 16), ValueError, r"\[B, C, T, H, W\]"),
        (torch.zeros(1, 4, 5, 16, 16), ValueError, "3 channels"),
        (torch.zeros(1, 3, 4, 16, 16), ValueError, r"1 \+ 4k"),
        (torch.zeros(1, 3, 5, 12, 16), ValueError, "multiples of 8"),
        (torch.full((1, 3, 5, 16, 16), 255.0), ValueError, r"\[-1, 1\]"),
    ],
)
def test_bad_videos(tiny, video, error, match):
    with pytest.raises(error, match=match):
        tiny.encode(video)


@pytest.mark.parametrize(
    ("indices", "error", "match"),
    [
        (torch.full((1, 2, 2, 2), 64000), ValueError, r"\[0, 64000\)"),
        (torch.full((1, 2, 2, 2), -3), ValueError, r"\[0, 64000\)"),
        (torch.zeros(1, 2, 2, 2), TypeError, "integer"),
        (torch.zeros(2, 2, 2, dtype=torch.long), ValueError, r"\[B, T', H', W'\]"),
    ],
)
def test_bad_indices(tiny, indices, error, match):
    with pytest.raises(error, match=match):
        tiny.decode(indices)


def test_bad_options_and_configs(tiny):
    with pytest.raises(ValueError, match="latent_frames"):
        tiny.enable_temporal_chunking(0)
    with pytest.raises(ValueError, match="patch_method"):
        CosmosDiscreteVideoTokenizer(channels=16, patch_method="dct")
    with pytest.raises(ValueError, match="spatial_compression"):
        CosmosDiscreteVideoTokenizer(channels=16, spatial_compression=6)
    temporal_8 = CosmosDiscreteVideoTokenizer(channels=16, temporal_compression=8)
    assert temporal_8.temporal_chunk_size is None
    with pytest.raises(ValueError, match="temporal_compression == patch_size"):
        temporal_8.enable_temporal_chunking(2)
