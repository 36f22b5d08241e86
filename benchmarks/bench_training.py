#!/usr/bin/env python
"""Training-step benchmark of LumosForVideoGeneration (AR-DF, LUMOS_SPEC 5).

Default (CPU or GPU): one 2-frame 384p sample (672x384: 2 x 4,084 frame tokens plus text, ~8.3k tokens) with a tiny
model (hidden 64, 2 layers, the real 129,536-id vocabulary), AdamW step included. Configurations, each in its own
subprocess so that peak memory is its own:

- `chunked+flex` (GPU): the model's loss (fp32 cross-entropy on the 64,000 video logits of the scored positions, in
  chunks, recomputed in backward) and the block-causal mask as a flex-attention block mask;
- `chunked+blockchunk` (CPU, where flex attention has no backward): the same loss, attention
  `block_causal_chunked` (exact, query chunks against key ranges, no `[L, L]` mask);
- `chunked+sdpa`, `chunked+dense`: the same loss, sdpa / eager attention with a dense `[L, L]` mask;
- `full+dense`: the naive way: full-vocabulary logits `[L, 129,536]` and fp32 cross-entropy over them, eager attention
  with a dense mask; `full+sdpa`, `full+flex`: full logits with the other attentions.

Peak memory: `ru_maxrss` of the subprocess on CPU (the whole process: Python, torch, model, activations), and the
growth over the RSS before the first step; `torch.cuda.max_memory_allocated` on GPU.

`--lora-1b` (GPU): LoRA (r=16, default targets) on the official 1B configuration with random weights, bf16, gradient
checkpointing, flex attention, 25-frame 384p samples (7 latent frames, ~28.7k tokens): peak memory and tokens/s.

    python benchmarks/bench_training.py                 # the tiny-model comparison, in one run
    python benchmarks/bench_training.py --lora-1b       # on a GPU
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

CONFIGS = {
    "chunked+flex": ("chunked", "flex_attention"),
    "chunked+blockchunk": ("chunked", "block_causal_chunked"),
    "chunked+sdpa": ("chunked", "sdpa"),
    "chunked+dense": ("chunked", "eager"),
    "full+flex": ("full", "flex_attention"),
    "full+sdpa": ("full", "sdpa"),
    "full+dense": ("full", "eager"),
}
# torch's flex attention has no backward pass on CPU: there, the block mask is exercised by the chunked exact
# attention (`block_causal_chunked`, key ranges instead of an [L, L] mask).
DEFAULT_CONFIGS = {
    "cuda": ["chunked+flex", "chunked+sdpa", "full+flex", "full+dense"],
    "cpu": ["chunked+blockchunk", "chunked+sdpa", "chunked+dense", "full+sdpa", "full+dense"],
}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2}


def build_batch(num_frames: int, height: int, width: int, device: str) -> dict[str, torch.Tensor]:
    """One processor-built training sample (random latents, a real prompt) masked by the AR-DF collator."""
    from lumos_hf.processing_lumos import LumosProcessor
    from lumos_hf.testing import build_tiny_chameleon_tokenizer
    from lumos_hf.training import ARDFDataCollator

    processor = LumosProcessor(build_tiny_chameleon_tokenizer())
    latent_frames = processor.num_latent_frames(num_frames)
    rows, cols = processor.latent_size(height, width)
    latents = torch.randint(0, 64000, (latent_frames, rows, cols), generator=torch.Generator().manual_seed(0))
    sample = processor.build_training_sequence("A close-up shot of a hawk turning its head", latents, fps=12)
    batch = ARDFDataCollator(seed=0, text_drop_prob=0.0)([sample])
    return {key: value.to(device) for key, value in batch.items()}


def full_vocabulary_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The naive loss: all logits over the whole vocabulary, fp32 cross-entropy over the scored positions."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # [B, L, V]
    return F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)


def run_worker(spec: dict) -> dict:
    from lumos_hf import LumosConfig, LumosForVideoGeneration
    from lumos_hf.training.recipes import LUMOS_OPTIMIZER_DEFAULTS

    device = spec["device"]
    loss_kind, attention = CONFIGS[spec["config"]]
    torch.manual_seed(0)
    config = LumosConfig(**TINY, use_cache=False)
    config._attn_implementation = attention
    model = LumosForVideoGeneration(config).to(device).train()
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=LUMOS_OPTIMIZER_DEFAULTS["learning_rate"],
        betas=(LUMOS_OPTIMIZER_DEFAULTS["adam_beta1"], LUMOS_OPTIMIZER_DEFAULTS["adam_beta2"]),
        weight_decay=LUMOS_OPTIMIZER_DEFAULTS["weight_decay"],
    )
    batch = build_batch(spec["num_frames"], spec["height"], spec["width"], device)

    def step() -> float:
        loss = model(**batch).loss if loss_kind == "chunked" else full_vocabulary_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), LUMOS_OPTIMIZER_DEFAULTS["max_grad_norm"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(spec["warmup"]):
        step()
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    losses = [step() for _ in range(spec["steps"])]
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    tokens = int(batch["attention_mask"].sum())
    result = {
        "config": spec["config"],
        "tokens": tokens,
        "scored_tokens": int((batch["labels"] >= 0).sum()),
        "step_s": elapsed / spec["steps"],
        "tokens_per_s": tokens * spec["steps"] / elapsed,
        "warmup_s": warmup_s,
        "loss": losses[-1],
    }
    if device == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result.update(peak_rss_mib=peak, step_rss_growth_mib=peak - rss_before)
    return result


def run_lora_1b(args: argparse.Namespace) -> dict:
    """LoRA on the 1B configuration (random weights) on GPU, 25-frame 384p samples."""
    from lumos_hf import LumosConfig, LumosForVideoGeneration
    from lumos_hf.training.lora import add_lora_adapter, count_trainable_parameters

    if not torch.cuda.is_available():
        raise SystemExit("--lora-1b needs a CUDA GPU")
    torch.manual_seed(0)
    config = LumosConfig.from_preset("lumos-1-1b", use_cache=False)
    config._attn_implementation = "flex_attention"
    model = LumosForVideoGeneration(config).to("cuda", torch.bfloat16)
    model.activation_checkpointing_enable()
    model = add_lora_adapter(model, r=16)
    model.train()
    trainable, total = count_trainable_parameters(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, betas=(0.9, 0.95))
    batch = build_batch(25, 384, 672, "cuda")
    tokens = int(batch["attention_mask"].sum())
    torch.cuda.reset_peak_memory_stats()
    times = []
    for index in range(args.warmup + args.steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if index >= args.warmup:
            times.append(time.perf_counter() - start)
    step_s = sum(times) / len(times)
    return {
        "config": "lora-1b (r=16, bf16, gradient checkpointing, flex)",
        "tokens": tokens,
        "trainable_params": trainable,
        "total_params": total,
        "step_s": step_s,
        "tokens_per_s": tokens / step_s,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20,
        "gpu": torch.cuda.get_device_name(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", help=f"comma-separated subset of {list(CONFIGS)} (default: per device)")
    parser.add_argument("--num-frames", type=int, default=5, help="pixel frames (5: 2 latent frames)")
    parser.add_argument("--height", type=int, default=384)
    parser.add_argument("--width", type=int, default=672)
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps (flex attention compiles in the first)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lora-1b", action="store_true", help="LoRA on the 1B configuration (GPU)")
    parser.add_argument("--output", help="also write the results as JSON to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if args.lora_1b:
        results = [run_lora_1b(args)]
    else:
        names = DEFAULT_CONFIGS[args.device] if args.configs is None else args.configs.split(",")
        names = [name.strip() for name in names if name.strip()]
        unknown = sorted(set(names) - set(CONFIGS))
        if unknown:
            raise SystemExit(f"unknown configs {unknown}; choose from {list(CONFIGS)}")
        results = []
        for name in names:
            spec = {key: getattr(args, key) for key in ("num_frames", "height", "width", "warmup", "steps", "device")}
            spec["config"] = name
            done = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True
            )
            if done.returncode:
                lines = done.stderr.strip().splitlines()
                reason = lines[-1] if lines else f"exit status {done.returncode}"
                if done.returncode == -9:
                    reason += " (killed: out of memory?)"
                results.append({"config": name, "error": reason})
            else:
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr)
    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    memory_key = "peak_gpu_mib" if args.device == "cuda" or args.lora_1b else "peak_rss_mib"
    print(f"| config | tokens | step (s) | tokens/s | {memory_key} |")
    print("|---|---|---|---|---|")
    for result in results:
        if "error" in result:
            print(f"| {result['config']} | error: {result['error']} | | | |")
            continue
        growth = f" (+{result['step_rss_growth_mib']:.0f} in steps)" if "step_rss_growth_mib" in result else ""
        print(
            f"| {result['config']} | {result['tokens']} | {result['step_s']:.3f} | {result['tokens_per_s']:.0f} "
            f"| {result[memory_key]:.0f}{growth} |"
        )
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
