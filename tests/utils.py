"""Builders shared by the tests: tiny configs, models, pipelines, token sequences and training samples."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lumos_hf import (
    ARDFScheduler,
    CosmosDiscreteVideoTokenizer,
    LumosConfig,
    LumosForVideoGeneration,
    LumosPipeline,
    LumosProcessor,
)
from lumos_hf.testing import build_tiny_chameleon_tokenizer

VIDEO_OFFSET = 65536
VOCAB = 64  # tiny FSQ codebook (levels 4, 4, 4) = the tiny models' video vocabulary
PROMPTS = ["a red cat", "A small bird flying over the sea with trees in the background", "the dog"]
SMALL = {"height": 32, "width": 64, "fps": 4, "output_type": "latent"}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2}


def tiny_config(**kwargs) -> LumosConfig:
    defaults = dict(
        hidden_size=128,
        intermediate_size=192,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        model_parallel_size=2,
        video_vocab_size=64,
    )
    return LumosConfig(**{**defaults, **kwargs})


def frame(n_h: int = 1, n_w: int = 1, generator: torch.Generator | None = None, masked_new_lines: bool = False):
    """Token ids of one frame of (H, W) = (32 n_h, 32 n_w) px: 4 n_h rows of 4 n_w video tokens + a new line."""
    rows = []
    for _ in range(4 * n_h):
        rows += (torch.randint(0, 64, (4 * n_w,), generator=generator) + VIDEO_OFFSET).tolist()
        rows.append(9003 if masked_new_lines else 8803)
    return [8197, 8804 + n_h, 8804 + n_w, *rows, 8196]


def video_sequence(text_length: int, num_frames: int, n_h: int = 1, n_w: int = 1, seed: int = 0) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    text = torch.randint(3, 8000, (text_length,), generator=g).tolist()
    frames = [tok for _ in range(num_frames) for tok in frame(n_h, n_w, g)]
    return [0, *text, 8710, 9004, 8806, 8816, *frames, 9005, 8710]


def padded_batch(sequences: list[list[int]], side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """`input_ids [B, L]` padded with 1 on `side` ("left" or "right") and the `attention_mask [B, L]`."""
    length = max(map(len, sequences))
    ids = torch.ones(len(sequences), length, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, seq in enumerate(sequences):
        span = slice(length - len(seq), length) if side == "left" else slice(0, len(seq))
        ids[i, span] = torch.tensor(seq)
        mask[i, span] = 1
    return ids, mask


MIXED_SEQUENCES = [video_sequence(4, 2, seed=1), video_sequence(11, 1, n_h=1, n_w=2, seed=2), list(range(3, 20))]


def build_tiny_pipeline(dtype: torch.dtype = torch.float32, seed: int = 0) -> LumosPipeline:
    torch.manual_seed(seed)
    config = LumosConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, video_vocab_size=VOCAB
    )
    pipe = LumosPipeline(
        transformer=LumosForVideoGeneration(config).eval().to(dtype),
        video_tokenizer=CosmosDiscreteVideoTokenizer(channels=16, levels=(4, 4, 4)).eval(),
        processor=LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer(), video_vocab_size=VOCAB),
        scheduler=ARDFScheduler(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generators(count: int, seed: int = 0) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed + i) for i in range(count)]


def random_image(height: int = 32, width: int = 64, frames: int | None = None, seed: int = 0) -> np.ndarray:
    shape = (height, width, 3) if frames is None else (frames, height, width, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def tiny_model(video_vocab_size: int = 64, seed: int = 0, **kwargs) -> LumosForVideoGeneration:
    """A randomly initialised 2-layer model (sdpa, no KV cache in training)."""
    torch.manual_seed(seed)
    config = LumosConfig(**TINY, video_vocab_size=video_vocab_size, use_cache=False, **kwargs)
    config._attn_implementation = "sdpa"
    return LumosForVideoGeneration(config)


def synthetic_samples(num_samples: int = 8, seed: int = 0, video_vocab_size: int = 64) -> list[dict]:
    """Processor-built training sequences: 16x32-pixel frames (4x4 latents), 1 to 3 latent frames, real captions."""
    processor = LumosProcessor(build_tiny_chameleon_tokenizer())
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for index in range(num_samples):
        num_latent_frames = 1 + index % 3
        latents = torch.randint(0, video_vocab_size, (num_latent_frames, 4, 4), generator=generator)
        sequence = processor.build_training_sequence(f"sample {index}: a cat on a mat", latents, fps=12)
        kind = "image" if num_latent_frames == 1 else "video"
        samples.append({"input_ids": sequence["input_ids"].tolist(), "kind": kind})
    return samples


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


class _OfficialNode(nn.Module):
    """A module tree with the official parameter names; its traced program only scales the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def _official_module(state: dict[str, torch.Tensor]) -> nn.Module:
    root = _OfficialNode()
    for key, value in state.items():
        *path, name = key.split(".")
        module = root
        for part in path:
            if not hasattr(module, part):
                module.add_module(part, _OfficialNode())
            module = getattr(module, part)
        if value.is_floating_point() and "patcher3d" not in key and "quantizer" not in key:
            module.register_parameter(name, nn.Parameter(value.clone()))
        else:
            module.register_buffer(name, value.clone())
    return root


def save_official_jit(state: dict[str, torch.Tensor], path: Path) -> Path:
    """Write `state` as a TorchScript file with the official parameter names, as NVIDIA ships `encoder.jit`."""
    traced = torch.jit.trace(_official_module(state), torch.ones(2))
    traced.save(str(path))
    return path
