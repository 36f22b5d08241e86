"""Sampling speed: `LumosPipeline` against a sampler with the official structure, same weights, one run, per op.

The baseline (`official_structure_sampler.py`) samples as the official code does: two KV caches, two batch-1 guidance
forwards per step, full-vocabulary logits at every frame position, multinomial over the full vocabulary, every frame
committed. Both get the same model, prompt, steps and guidance 15; each size runs both in interleaved rounds and
reports the best round of each, as seconds per latent frame, with the time split by op (forward hooks and wrappers,
summed per call): head (vocabulary projections), guidance, scheduler step (sampling and re-masking), attention, MLP,
other (embeddings, norms, masks, cache, Python).

    python benchmarks/bench_pipeline.py --threads 2                  # the three CPU sizes
    python benchmarks/bench_pipeline.py --sizes fixture --threads 2  # one of them
    python benchmarks/bench_pipeline.py --sizes preset --preset lumos-1-1b --layers 0 --height 256 --width 448 \\
        --num-frames 25 --steps 50 --dtype bfloat16 --device cuda --skip-baseline --count-flops \\
        --peak-tflops 790 --attn-implementation sdpa   # GPU: the full 1B preset, s / video, TFLOP/s, peak memory

Sizes: `fixture`, the official tiny fixture model (hidden 64, 2 layers, official vocabulary) converted from
`../shared/fixtures`, 64x64; `medium`, hidden 256 / 4 layers at 128x224; `preset`, the `lumos-1-1b` preset shape with
2 layers at 256x448 (random weights, no download).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import official_structure_sampler as baseline
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers.models.llama.modeling_llama import LlamaMLP

import lumos_hf.pipeline_lumos as pipeline_module
from lumos_hf import ARDFScheduler, LumosConfig, LumosForVideoGeneration, LumosPipeline, LumosProcessor
from lumos_hf.conversion_lumos import convert_lumos_checkpoint
from lumos_hf.modeling_lumos import LumosAttention
from lumos_hf.testing import build_tiny_chameleon_tokenizer

PROMPT = "A small bird flying over the sea with trees in the background"
FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official_lumos_tiny" / "official_checkpoint"
SIZES = {  # name: (model, height, width, frames, steps)
    "fixture": ("fixture", 64, 64, 9, 8),
    "medium": ({"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4}, 128, 224, 5, 4),
    "preset": ("lumos-1-1b", 256, 448, 1, 2),
}
OPS = ("head", "guidance", "scheduler_step", "attention", "mlp")


class OpTimer:
    """Wall time per op, summed over calls: module hooks for attention and MLP, wrappers for the rest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._started: dict[int, float] = {}

    def hook_modules(self, model: torch.nn.Module) -> list:
        handles = []
        for module in model.modules():
            name = (
                "attention" if isinstance(module, LumosAttention) else "mlp" if isinstance(module, LlamaMLP) else None
            )
            if name:
                handles.append(module.register_forward_pre_hook(self._start))
                handles.append(module.register_forward_hook(lambda m, i, o, name=name: self._stop(m, name)))
        return handles

    def _start(self, module: torch.nn.Module, inputs: tuple) -> None:
        self._started[id(module)] = time.perf_counter()

    def _stop(self, module: torch.nn.Module, name: str) -> None:
        self.seconds[name] += time.perf_counter() - self._started.pop(id(module))

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed


@contextmanager
def op_timing(timer: OpTimer, pipe: LumosPipeline):
    """Time the ops of both samplers: projections onto vocabulary-sized weights are the head."""
    config = pipe.transformer.config
    linear = torch.nn.functional.linear

    def head_or_layer(x, weight, bias=None):
        if weight.shape[0] in (config.video_vocab_size, config.vocab_size):
            return timer.wrap("head", linear)(x, weight, bias)
        return linear(x, weight, bias)

    patches = [
        (torch.nn.functional, "linear", head_or_layer),
        (pipeline_module, "guided_logits", timer.wrap("guidance", pipeline_module.guided_logits)),
        (baseline, "guide", timer.wrap("guidance", baseline.guide)),
        (baseline, "sampling_step", timer.wrap("scheduler_step", baseline.sampling_step)),
        (pipe.scheduler, "step", timer.wrap("scheduler_step", pipe.scheduler.step)),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    handles = timer.hook_modules(pipe.transformer)
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
        for handle in handles:
            handle.remove()
        del pipe.scheduler.step  # the instance attribute; the class method stays


def build_pipeline(model: str | dict, args: argparse.Namespace, workdir: Path) -> LumosPipeline:
    torch.manual_seed(0)
    if model == "fixture":
        convert_lumos_checkpoint(FIXTURE, workdir / "fixture", remote_code=False)
        transformer = LumosForVideoGeneration.from_pretrained(workdir / "fixture")
    else:
        config = LumosConfig.from_preset(model) if isinstance(model, str) else LumosConfig(**model)
        if isinstance(model, str) and args.layers:
            config = LumosConfig.from_preset(model, num_hidden_layers=args.layers)
        transformer = LumosForVideoGeneration(config)
    transformer = transformer.to(device=args.device, dtype=getattr(torch, args.dtype)).eval()
    if args.attn_implementation:
        transformer.set_attn_implementation(args.attn_implementation)
    processor = LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer())
    pipe = LumosPipeline(transformer=transformer, video_tokenizer=None, processor=processor, scheduler=ARDFScheduler())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def bench_size(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    model, height, width, num_frames, steps = SIZES[name]
    if args.height:
        height, width, num_frames, steps = args.height, args.width, args.num_frames, args.steps
    pipe = build_pipeline(args.preset or model, args, workdir)
    frames = pipe.processor.num_latent_frames(num_frames)
    common = {"height": height, "width": width, "num_frames": num_frames, "fps": 8}
    common |= {"num_inference_steps": steps, "guidance_scale": 15.0}

    def ours() -> None:
        pipe(PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent", **common)

    def official() -> None:
        baseline.official_structure_sample(
            pipe.transformer, pipe.processor, ARDFScheduler(), PROMPT, common["height"], common["width"],
            num_frames, 8, steps, 15.0, generator=torch.Generator().manual_seed(0),
        )  # fmt: skip

    runs = {"pipeline": ours} | ({} if args.skip_baseline else {"official_structure": official})
    ours()  # warm-up (and compilation, which does not run under the FLOP counter's dispatch mode)
    flop_counter = FlopCounterMode(display=False) if args.count_flops else None
    if flop_counter is not None:
        with flop_counter:
            ours()
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    best: dict[str, tuple[float, dict]] = {}
    for _ in range(args.repeats):  # interleaved rounds, best of each: both see similar machine load
        for run_name, fn in runs.items():
            timer = OpTimer()
            with op_timing(timer, pipe):
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                fn()
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                total = time.perf_counter() - start
            if run_name not in best or total < best[run_name][0]:
                best[run_name] = (total, dict(timer.seconds))
    result = {"size": name, "height": height, "width": width, "latent_frames": frames, "steps": steps}
    result["params_M"] = round(sum(p.numel() for p in pipe.transformer.parameters()) / 1e6, 1)
    for run_name, (total, ops) in best.items():
        per_frame = {op: ops.get(op, 0.0) / frames for op in OPS}
        per_frame["other"] = total / frames - sum(per_frame.values())
        result[run_name] = {"s_per_latent_frame": total / frames} | {f"{op}_s": v for op, v in per_frame.items()}
    if flop_counter is not None:  # the pipeline's FLOPs per video (matrix products and attention)
        result["tflop_per_video"] = flop_counter.get_total_flops() / 1e12
        result["tflop_per_s"] = result["tflop_per_video"] / best["pipeline"][0]
        if args.peak_tflops:
            result["fraction_of_peak"] = result["tflop_per_s"] / args.peak_tflops
    if args.device.startswith("cuda"):
        result["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    result["s_per_video"] = best["pipeline"][0]
    if "official_structure" in best:
        result["speedup"] = best["official_structure"][0] / best["pipeline"][0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--preset", default=None, help="override the model of the sizes (e.g. lumos-1-1b)")
    parser.add_argument("--layers", type=int, default=2, help="layers of a preset (0: the preset's own)")
    parser.add_argument("--height", type=int, default=None, help="override height, width, frames and steps")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--num-frames", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--attn-implementation", default=None, help="e.g. sdpa, flex_attention (default: the model's)")
    parser.add_argument("--count-flops", action="store_true", help="count the pipeline's FLOPs in one extra run")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for `fraction_of_peak`")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.sizes:
            result = bench_size(name, args, Path(workdir))
            result |= {"device": args.device, "dtype": args.dtype, "threads": torch.get_num_threads()}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
