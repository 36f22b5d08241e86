"""diffusers' own model suites (`ModelTesterMixin`, `TrainingTesterMixin`, `MemoryTesterMixin`, from
`../shared/upstream/diffusers/tests/models/testing_utils`) on `CosmosDiscreteVideoTokenizer`, in the style of
diffusers' `test_models_autoencoder_cosmos.py`."""

from __future__ import annotations

import torch
from suites import use_diffusers_suite

from lumos_hf import CosmosDiscreteVideoTokenizer

use_diffusers_suite()

from tests.models.testing_utils import (  # noqa: E402
    BaseModelTesterConfig,
    MemoryTesterMixin,
    ModelTesterMixin,
    TrainingTesterMixin,
)


class CosmosDiscreteVideoTokenizerTesterConfig(BaseModelTesterConfig):
    @property
    def model_class(self):
        return CosmosDiscreteVideoTokenizer

    @property
    def main_input_name(self) -> str:
        return "video"

    @property
    def output_shape(self) -> tuple:
        return (3, 9, 32, 32)  # the reconstruction [C, T, H, W] of each video

    def get_init_dict(self) -> dict:
        return {"channels": 8, "channels_mult": (1, 1), "num_res_blocks": 1, "attn_resolutions": (), "z_channels": 4,
                "levels": (4, 4, 4), "resolution": 32}  # fmt: skip

    def get_dummy_inputs(self) -> dict:
        generator = torch.Generator("cpu").manual_seed(0)
        return {"video": torch.rand(2, 3, 9, 32, 32, generator=generator) * 2 - 1}  # [B, C, T, H, W] in [-1, 1]


class TestCosmosDiscreteVideoTokenizer(CosmosDiscreteVideoTokenizerTesterConfig, ModelTesterMixin):
    pass


class TestCosmosDiscreteVideoTokenizerTraining(CosmosDiscreteVideoTokenizerTesterConfig, TrainingTesterMixin):
    def test_gradient_checkpointing_is_applied(self):
        super().test_gradient_checkpointing_is_applied(expected_set={"CosmosEncoder3d", "CosmosDecoder3d"})


class TestCosmosDiscreteVideoTokenizerMemory(CosmosDiscreteVideoTokenizerTesterConfig, MemoryTesterMixin):
    pass
