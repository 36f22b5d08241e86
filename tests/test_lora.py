"""LoRA with PEFT: default targets, adapter-only training (examples/train_lora.py), saving and reloading to
identical logits, trainable embeddings of new tokens, merging, loading into LumosPipeline."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from peft import LoraConfig, PeftModel
from utils import TINY, load_example, synthetic_samples, tiny_model

from lumos_hf import LumosConfig, LumosForVideoGeneration
from lumos_hf.training.lora import (
    LUMOS_LORA_TARGET_MODULES,
    add_lora_adapter,
    count_trainable_parameters,
    get_lumos_lora_config,
    load_lora_adapter,
    load_lora_into_pipeline,
    merge_lora_adapter,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NEW_TOKENS = [9100, 9101]  # <reserved09096>, <reserved09097>: repurposed as new tokens


def probe_ids() -> torch.LongTensor:
    """A sequence with text, a new token and one 32x32 frame."""
    frame = [8197, 8805, 8805] + ([65536 + 7, 65536 + 9, 65536 + 1, 65536 + 3] + [8803]) * 4 + [8196]
    return torch.tensor([[0, 100, NEW_TOKENS[0], 200, 8710, 9004, 8805, 8805, *frame]])


def logits(model, ids: torch.LongTensor | None = None) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(probe_ids() if ids is None else ids).logits


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """examples/train_lora.py for 4 steps on a saved tiny base model, with trainable new-token embeddings."""
    root = tmp_path_factory.mktemp("lora")
    base = tiny_model()
    base.save_pretrained(root / "base")
    data = root / "data.jsonl"
    samples = synthetic_samples(6)
    for sample in samples:  # the new tokens appear in the text, so their embeddings get gradients
        sample["input_ids"][1:1] = NEW_TOKENS
    data.write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    argv = [
        "--model_name_or_path", str(root / "base"),
        "--dataset", str(data),
        "--output_dir", str(root / "adapter"),
        "--lora_r", "4",
        "--trainable_token_indices", ",".join(map(str, NEW_TOKENS)),
        "--learning_rate", "1e-2",
        "--max_steps", "4",
        "--per_device_train_batch_size", "2",
        "--save_strategy", "no",
        "--report_to", "none",
        "--use_cpu",
        "--disable_tqdm", "true",
        "--text_drop_prob", "0",
    ]  # fmt: skip
    trainer = load_example("train_lora").main(argv)
    return {"root": root, "trainer": trainer, "base": base, "adapter": root / "adapter"}


def test_default_target_modules_cover_every_projection():
    model = add_lora_adapter(tiny_model(), r=2)
    wrapped = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if hasattr(module, "lora_A")}
    assert wrapped == set(LUMOS_LORA_TARGET_MODULES)
    count = sum(1 for _, module in model.named_modules() if hasattr(module, "lora_A"))
    assert count == len(LUMOS_LORA_TARGET_MODULES) * TINY["num_hidden_layers"]
    trainable, total = count_trainable_parameters(model)
    assert 0 < trainable < total / 10
    assert all("lora_" in name for name, p in model.named_parameters() if p.requires_grad)


def test_lora_trains_only_the_adapter_and_new_token_rows(trained):
    model = trained["trainer"].model
    assert isinstance(model, PeftModel)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name or "trainable_tokens_delta" in name for name in trainable)
    base_state = trained["base"].state_dict()
    trained_base = model.get_base_model().state_dict()
    for name, weight in base_state.items():  # every base weight (the embedding matrix too) is untouched
        module, _, param = name.rpartition(".")
        wrapped = (name, f"{module}.base_layer.{param}", f"{module}.token_adapter.base_layer.{param}")
        key = next(key for key in wrapped if key in trained_base)
        assert torch.equal(trained_base[key], weight), name
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    assert any(p.abs().sum() > 0 for p in lora_b)  # initialised at 0, moved by training
    delta = next(p for name, p in model.named_parameters() if "trainable_tokens_delta" in name)
    assert delta.shape == (len(NEW_TOKENS), TINY["hidden_size"]) and delta.abs().sum() > 0


def test_saved_adapter_reloads_to_identical_logits(trained):
    files = sorted(p.name for p in trained["adapter"].iterdir())
    assert "adapter_config.json" in files and "adapter_model.safetensors" in files
    assert "adapter_model.bin" not in files  # safetensors only (training_args.bin is the Trainer's)
    expected = logits(trained["trainer"].model)
    assert not torch.allclose(expected, logits(trained["base"]))
    base = LumosForVideoGeneration.from_pretrained(trained["root"] / "base")
    reloaded = load_lora_adapter(base, trained["adapter"])
    torch.testing.assert_close(logits(reloaded), expected, rtol=0, atol=0)
    merged = merge_lora_adapter(reloaded)
    assert type(merged) is LumosForVideoGeneration
    torch.testing.assert_close(logits(merged), expected, rtol=1e-5, atol=1e-5)


def test_adapter_in_a_pipeline(trained, tmp_path):
    expected = logits(trained["trainer"].model)
    pipeline = SimpleNamespace(transformer=LumosForVideoGeneration.from_pretrained(trained["root"] / "base"))
    load_lora_into_pipeline(pipeline, trained["adapter"], merge=False)
    assert isinstance(pipeline.transformer, PeftModel)
    torch.testing.assert_close(logits(pipeline.transformer), expected, rtol=0, atol=0)

    from lumos_hf.pipeline_lumos import LumosPipeline
    from lumos_hf.processing_lumos import LumosProcessor
    from lumos_hf.scheduling_ardf import ARDFScheduler
    from lumos_hf.testing import build_tiny_chameleon_tokenizer
    from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer

    pipe = LumosPipeline(
        transformer=LumosForVideoGeneration.from_pretrained(trained["root"] / "base"),
        # The tiny model has 64 video ids: FSQ levels (4, 4, 4) give a 64-entry codebook.
        video_tokenizer=CosmosDiscreteVideoTokenizer(
            channels=8, channels_mult=(1, 1), num_res_blocks=1, levels=(4, 4, 4)
        ),
        processor=LumosProcessor(build_tiny_chameleon_tokenizer(), video_vocab_size=64),
        scheduler=ARDFScheduler(),
    )
    load_lora_into_pipeline(pipe, trained["adapter"])  # merged: a plain LumosForVideoGeneration again
    assert type(pipe.transformer) is LumosForVideoGeneration
    torch.testing.assert_close(logits(pipe.transformer), expected, rtol=1e-5, atol=1e-5)
    out = pipe(
        "a cat", height=32, width=32, num_frames=1, num_inference_steps=2, output_type="tokens",
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert out.frames.shape == (1, 1, 4, 4)


def test_train_embeddings_and_config_errors():
    config = get_lumos_lora_config(r=8, train_embeddings=True, target_modules=["q_proj", "v_proj"])
    assert isinstance(config, LoraConfig) and config.lora_alpha == 8
    assert set(config.target_modules) == {"q_proj", "v_proj"}
    model = add_lora_adapter(tiny_model(), config)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any("embed_tokens.modules_to_save" in name for name in trainable)
    assert get_lumos_lora_config(trainable_token_indices=[5, 3, 5]).trainable_token_indices == {
        "model.embed_tokens": [3, 5]
    }
    for kwargs, error, match in [
        ({"r": 0}, ValueError, "positive int"),
        ({"lora_dropout": 1.0}, ValueError, "lora_dropout"),
        ({"trainable_token_indices": [1], "train_embeddings": True}, ValueError, "either"),
        ({"trainable_token_indices": []}, ValueError, "non-empty"),
        ({"trainable_token_indices": [-1]}, ValueError, "non-negative"),
        ({"target_modules": []}, TypeError, "non-empty"),
    ]:
        with pytest.raises(error, match=match):
            get_lumos_lora_config(**kwargs)
    with pytest.raises(ValueError, match="vocab_size"):
        add_lora_adapter(tiny_model(), trainable_token_indices=[200_000])
    with pytest.raises(ValueError, match="not both"):
        add_lora_adapter(tiny_model(), get_lumos_lora_config(), r=4)
    with pytest.raises(TypeError, match="LumosForVideoGeneration"):
        add_lora_adapter(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="PeftModel"):
        merge_lora_adapter(tiny_model())
    with pytest.raises(TypeError, match="transformer"):
        load_lora_into_pipeline(object(), "adapter")


# ---------------------------------------------------------------------------------------------------------------------
# The diffusers-style loader: pipe.load_lora_weights / set_adapters / fuse_lora / unload_lora_weights / ...


def lora_pipeline(base: LumosForVideoGeneration):
    from lumos_hf import ARDFScheduler, LumosPipeline, LumosProcessor
    from lumos_hf.testing import build_tiny_chameleon_tokenizer

    transformer = LumosForVideoGeneration.from_pretrained(base.name_or_path).eval() if base.name_or_path else base
    processor = LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer(), video_vocab_size=64)
    return LumosPipeline(transformer=transformer, video_tokenizer=None, processor=processor, scheduler=ARDFScheduler())


def saved_adapter(folder: Path, seed: int, r: int = 4, **config) -> Path:
    """A LoRA adapter with random (non-zero) B matrices on a fresh copy of the tiny base model."""
    model = add_lora_adapter(tiny_model(), r=r, **config)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    model.save_pretrained(folder)
    return folder


def test_load_lora_weights_equals_the_peft_model(trained):
    base = trained["base"]
    pipe = lora_pipeline(LumosForVideoGeneration.from_pretrained(trained["root"] / "base"))
    pipe.load_lora_weights(trained["adapter"], adapter_name="trained")  # saved by the Trainer of train_lora.py
    reference = load_lora_adapter(
        LumosForVideoGeneration.from_pretrained(trained["root"] / "base"), trained["adapter"]
    )
    assert pipe.get_active_adapters() == ["trained"] and pipe.get_list_adapters() == {"transformer": ["trained"]}
    assert torch.allclose(logits(pipe.transformer), logits(reference), atol=1e-6)
    assert not torch.allclose(logits(pipe.transformer), logits(base), atol=1e-4)


def test_weighted_adapters_fuse_and_unload(tmp_path):
    pipe = lora_pipeline(tiny_model())
    base = logits(pipe.transformer)
    pipe.load_lora_weights(saved_adapter(tmp_path / "a", seed=1), adapter_name="a")
    pipe.load_lora_weights(saved_adapter(tmp_path / "b", seed=2), adapter_name="b")
    pipe.set_adapters(["a", "b"], adapter_weights=[0.5, 1.5])
    assert pipe.get_active_adapters() == ["a", "b"]
    # PEFT's weighted combination, layer by layer: W x + sum_i w_i (alpha / r) B_i A_i x
    layer = pipe.transformer.model.layers[0].self_attn.q_proj
    x = torch.randn(3, layer.in_features)
    with torch.no_grad():
        expected = layer.base_layer(x) + sum(
            weight * (layer.lora_alpha[name] / layer.r[name]) * layer.lora_B[name](layer.lora_A[name](x))
            for name, weight in (("a", 0.5), ("b", 1.5))
        )
        assert torch.allclose(layer(x), expected, atol=1e-6)
    combined = logits(pipe.transformer)
    pipe.fuse_lora()
    assert torch.allclose(logits(pipe.transformer), combined, atol=1e-5)
    pipe.unfuse_lora()
    assert torch.allclose(logits(pipe.transformer), combined, atol=1e-5)
    pipe.fuse_lora(lora_scale=0.5)
    half = logits(pipe.transformer)
    pipe.unfuse_lora()
    assert not torch.allclose(half, combined, atol=1e-4)
    assert torch.allclose(logits(pipe.transformer), combined, atol=1e-5)  # the adapter weights survive fusing
    pipe.disable_lora()  # (fusing and unfusing rounds the base weights: equal within fp32 rounding)
    assert torch.allclose(logits(pipe.transformer), base, atol=1e-5) and pipe.get_active_adapters() == []
    pipe.enable_lora()
    pipe.save_lora_weights(tmp_path / "saved_b", adapter_name="b")

    fresh = lora_pipeline(tiny_model())
    fresh.load_lora_weights(tmp_path / "a")
    fresh.disable_lora()
    assert torch.equal(logits(fresh.transformer), base)
    fresh.enable_lora()
    fresh.unload_lora_weights()  # never fused: the base model exactly
    assert torch.equal(logits(fresh.transformer), base) and fresh.get_list_adapters() == {}
    assert not any("lora" in name for name, _ in fresh.transformer.named_parameters())
    fresh.load_lora_weights(tmp_path / "saved_b")  # a saved adapter loads back to the same model
    alone = lora_pipeline(tiny_model())
    alone.load_lora_weights(tmp_path / "b")
    assert torch.equal(logits(fresh.transformer), logits(alone.transformer))


def test_bad_adapters_are_refused(tmp_path):
    pipe = lora_pipeline(tiny_model())
    base = logits(pipe.transformer)
    other = tmp_path / "other"
    smaller = LumosConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=1,
                          video_vocab_size=64)  # fmt: skip
    model = add_lora_adapter(LumosForVideoGeneration(smaller), r=4)
    model.save_pretrained(other)  # made for another config: other shapes
    with pytest.raises(ValueError, match="does not fit this transformer"):
        pipe.load_lora_weights(other, adapter_name="other")
    assert pipe.get_list_adapters() == {} and torch.equal(logits(pipe.transformer), base)
    pickled = saved_adapter(tmp_path / "pickled", seed=0)
    (pickled / "adapter_model.safetensors").rename(pickled / "adapter_model.bin")
    with pytest.raises(ValueError, match="only safetensors adapters load"):
        pipe.load_lora_weights(pickled)
    pipe.load_lora_weights(saved_adapter(tmp_path / "ok", seed=0), adapter_name="ok")
    with pytest.raises(ValueError, match="already loaded"):
        pipe.load_lora_weights(tmp_path / "ok", adapter_name="ok")
    with pytest.raises(ValueError, match="unknown adapter"):
        pipe.set_adapters(["nope"])
    with pytest.raises(ValueError, match="lora_scale must be a finite non-zero number"):
        pipe.fuse_lora(lora_scale=float("nan"))
