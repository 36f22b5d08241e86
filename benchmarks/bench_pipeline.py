"""Time per latent frame: LumosPipeline (KV cache, batched guidance, video logits) against the naive reference sampler.

Both run the same random model in one process, with the same prompt, steps and guidance. The reference is the
official sampler's structure: batch 1, the whole sequence recomputed at every step, two separate guidance forwards,
logits over the full vocabulary at every position ("reference"); "reference_frame_logits" is the same but projects
only the frame's video positions (a stronger baseline). The pipeline runs one video (same work as the reference) and a batch of videos.

    python benchmarks/bench_pipeline.py                      # tiny model on CPU (about a minute)
    python benchmarks/bench_pipeline.py --preset lumos-1-1b --height 256 --width 448 --num-frames 25 \\
        --steps 50 --dtype bfloat16 --device cuda --skip-reference --peak-tflops 989

`--preset` builds the official architecture with random weights (no download). `--peak-tflops` (the GPU's dense
bf16 peak, e.g. 989 for an H100 SXM) adds the fraction of peak reached, from a FLOP count of the forwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from lumos_hf.configuration_lumos import LumosConfig
from lumos_hf.modeling_lumos import LumosForVideoGeneration
from lumos_hf.pipeline_lumos import LumosPipeline
from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.scheduling_ardf import ARDFScheduler
from lumos_hf.testing import build_tiny_chameleon_tokenizer
from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer

# The naive sampler is the tests' oracle (one video, no KV cache, two guidance forwards); it lives beside them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from naive_sampler import naive_sample  # noqa: E402

PROMPT = "A small bird flying over the sea with trees in the background"


def build_pipeline(args: argparse.Namespace) -> LumosPipeline:
    torch.manual_seed(0)
    if args.preset:
        config = LumosConfig.from_preset(args.preset)
    else:
        config = LumosConfig(
            hidden_size=args.hidden_size,
            intermediate_size=4 * args.hidden_size,
            num_hidden_layers=args.layers,
            num_attention_heads=args.hidden_size // 64,
        )
    dtype = getattr(torch, args.dtype)
    transformer = LumosForVideoGeneration(config).to(device=args.device, dtype=dtype).eval()
    pipe = LumosPipeline(
        transformer=transformer,
        video_tokenizer=CosmosDiscreteVideoTokenizer(channels=16).to(args.device).eval(),
        processor=LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer()),
        scheduler=ARDFScheduler(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def forward_flops(config: LumosConfig, processor: LumosProcessor, args: argparse.Namespace, batch: int) -> float:
    """FLOPs of the pipeline's forwards for `batch` videos (matmuls: 2 per multiply-add; attention scores and values)."""
    rows, cols = processor.latent_size(args.height, args.width)
    frame = rows * (cols + 1) + 4
    frames = processor.num_latent_frames(args.num_frames)
    branches = 2 if args.guidance > 1 else 1
    prompt = len(processor.build_prompt_ids(PROMPT, args.height, args.width, args.num_frames, args.fps)) + 4
    d, kv = config.hidden_size, config.num_key_value_heads * config.head_dim
    per_token = 2 * config.num_hidden_layers * (2 * d * d + 2 * d * kv + 3 * d * config.intermediate_size)

    def chunk(tokens: int, context: int) -> float:  # one chunk of `tokens` attending to `context` tokens
        return tokens * per_token + 4 * config.num_hidden_layers * tokens * context * d

    total = chunk(prompt, prompt)
    for index in range(frames):
        context = prompt + index * frame
        total += args.steps * (chunk(frame, context + frame) + 2 * rows * cols * d * config.video_vocab_size)
        total += chunk(frame, context + frame) if index < frames - 1 else 0
    return total * branches * batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=None, help="official architecture, e.g. lumos-1-1b (random weights)")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=9)
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--guidance", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=4, help="videos in the batched pipeline run")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds; the best of each is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    pipe = build_pipeline(args)
    config, processor = pipe.transformer.config, pipe.processor
    frames = processor.num_latent_frames(args.num_frames)
    rows, cols = processor.latent_size(args.height, args.width)
    common = {"height": args.height, "width": args.width, "num_frames": args.num_frames, "fps": args.fps}
    common |= {"num_inference_steps": args.steps, "guidance_scale": args.guidance}

    def timed(fn, *fn_args, **fn_kwargs) -> float:
        synchronize(args.device)
        start = time.perf_counter()
        fn(*fn_args, **fn_kwargs)
        synchronize(args.device)
        return time.perf_counter() - start

    def run_pipeline(batch: int) -> float:
        gens = [torch.Generator().manual_seed(i) for i in range(batch)]
        return timed(pipe, [PROMPT] * batch, generator=gens, output_type="latent", **common)

    def run_reference(all_positions: bool) -> float:
        generator = torch.Generator().manual_seed(0)
        scheduler = ARDFScheduler()
        return timed(
            naive_sample,
            pipe.transformer,
            processor,
            scheduler,
            PROMPT,
            generator=generator,
            all_position_logits=all_positions,
            **common,
        )

    runs = {"pipeline": lambda: run_pipeline(1)}
    if args.batch > 1:
        runs["pipeline_batch"] = lambda: run_pipeline(args.batch)
    if not args.skip_reference:
        runs["reference"] = lambda: run_reference(True)
        runs["reference_frame_logits"] = lambda: run_reference(False)
    run_pipeline(1)  # warm-up
    # Interleaved rounds, best of each: on a shared machine every variant sees similar load.
    best = {name: fn() for name, fn in runs.items()}
    for _ in range(args.repeats - 1):
        best = {name: min(best[name], fn()) for name, fn in runs.items()}

    single = best["pipeline"]
    results = {"device": str(args.device), "dtype": args.dtype, "threads": torch.get_num_threads()}
    results |= {"latent_frames": frames, "latent_grid": [rows, cols], **common}
    results["params"] = sum(p.numel() for p in pipe.transformer.parameters())
    results["pipeline_s_per_latent_frame"] = single / frames
    results["pipeline_s_per_video"] = single
    results["pipeline_video_tokens_per_s"] = frames * rows * cols / single
    if args.batch > 1:
        results[f"pipeline_batch{args.batch}_s_per_latent_frame_per_video"] = (
            best["pipeline_batch"] / frames / args.batch
        )
    if args.peak_tflops:
        achieved = forward_flops(config, processor, args, 1) / single / 1e12
        results["pipeline_tflops"] = achieved
        results["fraction_of_peak"] = achieved / args.peak_tflops
    for name in ("reference", "reference_frame_logits"):
        if name in best:
            results[f"{name}_s_per_latent_frame"] = best[name] / frames
            results[f"speedup_vs_{name}_single_video"] = best[name] / single
            if args.batch > 1:
                per_video = best["pipeline_batch"] / args.batch
                results[f"speedup_vs_{name}_batch{args.batch}_per_video"] = best[name] / per_video
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
