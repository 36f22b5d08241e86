"""diffusers' own pipeline suites (`PipelineTesterMixin`, `MemoryTesterMixin`, from
`../shared/upstream/diffusers/tests/pipelines/testing_utils`) on `LumosPipeline`, in the style of diffusers'
`tests/pipelines/wan/test_wan.py`."""

from __future__ import annotations

import pytest
import torch
from suites import use_diffusers_suite
from utils import VOCAB

from lumos_hf import ARDFScheduler, CosmosDiscreteVideoTokenizer, LumosConfig, LumosForVideoGeneration, LumosPipeline
from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.testing import build_tiny_chameleon_tokenizer

use_diffusers_suite()

from tests.pipelines.testing_utils import BasePipelineTesterConfig, MemoryTesterMixin, PipelineTesterMixin  # noqa: E402


class LumosPipelineTesterConfig(BasePipelineTesterConfig):
    pipeline_class = LumosPipeline
    required_input_params_in_call_signature = frozenset(
        ["prompt", "negative_prompt", "height", "width", "num_frames", "guidance_scale", "prompt_ids",
         "negative_prompt_ids"]
    )  # fmt: skip
    batch_input_params = frozenset(["prompt"])
    callback_cfg_params = frozenset()
    output_shape = (5, 3, 32, 32)  # [F, C, H, W]: 5 frames = 2 latent frames of 4x4 tokens
    # A video pipeline: `num_videos_per_prompt`, not `num_images_per_prompt` (as diffusers' Wan tests).
    optional_input_params = frozenset(
        ["num_inference_steps", "num_videos_per_prompt", "generator", "latents", "output_type", "return_dict"]
    )

    def get_dummy_components(self) -> dict:
        torch.manual_seed(0)
        config = LumosConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                             head_dim=16, mm_rope_channel_pattern="tthw", video_vocab_size=VOCAB)  # fmt: skip
        transformer = LumosForVideoGeneration(config).eval()
        torch.manual_seed(0)
        video_tokenizer = CosmosDiscreteVideoTokenizer(channels=8, channels_mult=(1, 1, 1), num_res_blocks=1,
                                                       attn_resolutions=(), z_channels=4, levels=(4, 4, 4))  # fmt: skip
        processor = LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer(), video_vocab_size=VOCAB)
        return {"transformer": transformer, "video_tokenizer": video_tokenizer, "processor": processor,
                "scheduler": ARDFScheduler()}  # fmt: skip

    latent_output = False  # see test_save_load_optional_components

    def get_dummy_inputs(self) -> dict:
        return {
            "prompt": "a red circle moves right",
            "negative_prompt": "blurry",
            "generator": self.get_generator(0),
            "num_inference_steps": 2,
            "guidance_scale": 3.0,
            "height": 32,
            "width": 32,
            "num_frames": 5,
            "fps": 8,
            "output_type": "latent" if self.latent_output else "pt",
        }


class TestLumosPipeline(LumosPipelineTesterConfig, PipelineTesterMixin):
    def test_save_load_optional_components(self, tmp_path):
        # The optional component is the video tokenizer: without it the pipeline returns token grids, not frames.
        self.latent_output = True
        super().test_save_load_optional_components(tmp_path)

    @pytest.mark.skip(reason="Lumos has no text encoder: encode_prompt tokenizes with the processor, which this test "
                      "removes as a non-text component (keeping video_tokenizer for its name)")  # fmt: skip
    def test_encode_prompt_works_in_isolation(self):
        pass

    @pytest.mark.filterwarnings("ignore:`torch_dtype` is deprecated")  # the suite's own call, not ours
    def test_torch_dtype_dict(self, tmp_path):
        super().test_torch_dtype_dict(tmp_path)


class TestLumosPipelineMemory(LumosPipelineTesterConfig, MemoryTesterMixin):
    pass
