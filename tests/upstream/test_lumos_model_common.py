"""transformers' own common suites (`ModelTesterMixin`, `ConfigTester`) on `LumosModel` / `LumosForVideoGeneration`,
as an in-tree model's test file runs them (see `suites.py` for where they come from)."""

from __future__ import annotations

import random
import unittest

import pytest
import torch
from suites import use_transformers_suite
from utils import VIDEO_OFFSET, video_sequence

from lumos_hf import LumosConfig, LumosForVideoGeneration, LumosModel, LumosPreTrainedModel, compute_mm_rope_layout

use_transformers_suite()

from transformers_tests.test_configuration_common import ConfigTester  # noqa: E402
from transformers_tests.test_modeling_common import ModelTesterMixin  # noqa: E402

# Tests of the suite that cannot apply to Lumos, each with its reason (also listed in docs/upstream_suites.md).
SKIPPED: dict[str, str] = {
    "test_model_forward_default_config_values": "sets bos, eos, pad and sep to one id (0); Lumos' control ids must be "
    "distinct (its sequence parser finds text, frames and rows by them)",
    "test_model_is_small": "the official vocabulary (65,536 text ids + video ids) gives 4 M embedding parameters even at "
    "hidden size 32; a compact one would make the suite's random ids mostly control tokens (malformed sequences)",
}
# Tests that load incomplete checkpoints to read transformers' report of the missing weights: Lumos' loading is
# strict by default (a missing weight raises), so they run with `strict=False`, which must give that same report.
NON_STRICT: set[str] = {
    "test_base_model_prefix_loads_base_weights",
    "test_can_init_all_missing_weights",
    "test_correct_missing_keys",
    "test_model_weights_reload_no_missing_tied_weights",
}


class LumosModelTester:
    """Tiny configs and a batch of two real Lumos sequences (text, size tokens, two 32x32 frames, one padded)."""

    def __init__(self, parent: unittest.TestCase, batch_size: int = 2, is_training: bool = True) -> None:
        self.parent = parent
        self.batch_size = batch_size
        self.is_training = is_training
        self.hidden_size = 32
        self.num_hidden_layers = 2
        self.num_attention_heads = 4
        self.sequences = [video_sequence(5, 2, seed=1), video_sequence(3, 2, seed=2)]
        self.seq_length = max(map(len, self.sequences))

    def get_config(self) -> LumosConfig:
        return LumosConfig(
            hidden_size=self.hidden_size,
            intermediate_size=64,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=2,
            model_parallel_size=2,
            head_dim=16,
            mm_rope_channel_pattern="tthw",
            video_vocab_size=64,
            max_position_embeddings=64,  # the rope-scaling tests draw 1.5x this many random ids
        )

    def prepare_config_and_inputs(self) -> tuple[LumosConfig, torch.Tensor, torch.Tensor]:
        ids = torch.full((self.batch_size, self.seq_length), self.get_config().pad_token_id)  # left padding
        mask = torch.zeros_like(ids)
        for row, sequence in zip(range(self.batch_size), self.sequences * self.batch_size):
            ids[row, self.seq_length - len(sequence) :] = torch.tensor(sequence)
            mask[row, self.seq_length - len(sequence) :] = 1
        return self.get_config(), ids, mask

    def prepare_config_and_inputs_for_common(self) -> tuple[LumosConfig, dict[str, torch.Tensor]]:
        config, input_ids, attention_mask = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": attention_mask}


class LumosModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (LumosModel, LumosForVideoGeneration)
    test_can_init_all_missing_weights_before_2023 = True  # the suite dates models by a copyright line we do not have

    def setUp(self) -> None:
        self.model_tester = LumosModelTester(self)
        self.config_tester = ConfigTester(
            self,
            config_class=LumosConfig,
            hidden_size=37,
            num_attention_heads=1,
            head_dim=16,
            mm_rope_channel_pattern="tthw",
        )

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        """The labels an in-tree masked-LM head gets: here the sequence's video tokens (AR-DF scores those only)."""
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=False)
        if return_labels and model_class is LumosForVideoGeneration:
            ids = inputs_dict["input_ids"]
            inputs_dict["labels"] = torch.where(ids >= VIDEO_OFFSET, ids, -100)
        return inputs_dict

    def test_inputs_embeds_matches_input_ids(self) -> None:
        """Embeddings carry no frame layout, so the MM-RoPE positions and frame ids of the ids are passed with them
        (the suite's hook for models that derive positions from ids)."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        layout = compute_mm_rope_layout(
            inputs["input_ids"], inputs["attention_mask"], config.token_layout, tuple(config.position_scale)
        )
        super().test_inputs_embeds_matches_input_ids(position_ids=layout.position_ids, frame_ids=layout.frame_ids)

    def test_config(self) -> None:
        self.config_tester.run_common_tests()


@pytest.fixture(autouse=True)
def _as_an_in_tree_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an in-tree model gets: its base model in `MODEL_MAPPING_NAMES` (the suite reads the static names, which
    `AutoModel.register` does not change); plus the reasoned skips and the non-strict loading tests above."""
    from transformers.models.auto import modeling_auto

    random.seed(0)  # the suite draws its random ids with `random`: reproducible runs
    monkeypatch.setitem(modeling_auto.MODEL_MAPPING_NAMES, "lumos", "LumosModel")
    if request.node.name in SKIPPED:
        pytest.skip(SKIPPED[request.node.name])
    if request.node.name in NON_STRICT:
        loader = LumosPreTrainedModel.from_pretrained.__func__
        monkeypatch.setattr(
            LumosPreTrainedModel,
            "from_pretrained",
            classmethod(lambda cls, *args, strict=False, **kwargs: loader(cls, *args, strict=strict, **kwargs)),
        )
