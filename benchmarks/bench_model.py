"""Model benchmarks (issue 2), every comparison measured side by side in one run.

1. MM-RoPE overhead: forward time with MM-RoPE vs plain 1D RoPE, same weights, on the official 2-frame 384p sample.
2. Long sequences: forward + backward of the tiny fixture model on the real 90k-token video sample on CPU, with the
   cost of building positions and the block-causal mask (ours vs transformers' generic flex BlockMask).
3. Loss memory: peak memory of the chunked visual-only loss vs the full-vocabulary fp32 loss.

Peak memory is measured in a fresh subprocess per configuration (`ru_maxrss` minus the RSS before the step).

    python benchmarks/bench_model.py [--sections rope,long,loss] [--skip-long-training] [--skip-generic-flex]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURE = SHARED / "fixtures" / "official_lumos_tiny"
SAMPLES = SHARED / "data" / "pretokenized" / "official_samples.jsonl"


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def current_rss_gib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**30


def official_video_ids(length: int | None = None) -> torch.Tensor:
    with open(SAMPLES) as f:
        ids = json.loads(f.readline())["input_ids"]
    return torch.tensor(ids[:length] if length else ids)[None]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_mm_rope(repeats: int) -> None:
    from safetensors.torch import load_file

    from lumos_hf import LumosConfig, LumosForVideoGeneration, compute_mm_rope_layout

    ids = load_file(FIXTURE / "cases.safetensors")["t2v_2_frames.input_ids"][None]
    kwargs = dict(
        hidden_size=512, intermediate_size=1408, num_hidden_layers=4, num_attention_heads=8, video_vocab_size=64000
    )
    torch.manual_seed(0)
    models = {}
    for name, mm_rope in (("MM-RoPE", True), ("1D RoPE", False)):
        model = LumosForVideoGeneration(LumosConfig(mm_rope=mm_rope, **kwargs)).eval()
        model.set_attn_implementation("sdpa")
        models[name] = model
    models["1D RoPE"].load_state_dict(models["MM-RoPE"].state_dict())
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():  # warm-up
            model(ids, logits_to_keep=1)
        for _ in range(repeats):  # interleaved, so both see the same machine load
            for name, model in models.items():
                times[name].append(median_time(lambda m=model: m(ids, logits_to_keep=1), 1))
    mm, plain = statistics.median(times["MM-RoPE"]), statistics.median(times["1D RoPE"])
    # The MM-RoPE-specific work in isolation: positions from the ids and the per-channel cos/sin, vs 1D cos/sin.
    rotary = {name: model.model.rotary_emb for name, model in models.items()}
    hidden = torch.zeros(1, 1, 1)

    def mm_rope_inputs():
        layout = compute_mm_rope_layout(ids)
        return rotary["MM-RoPE"](hidden, layout.position_ids)

    plain_positions = torch.arange(ids.shape[1]).expand(3, 1, -1)
    mm_part = median_time(mm_rope_inputs, 20)
    plain_part = median_time(lambda: rotary["1D RoPE"](hidden, plain_positions), 20)
    print(f"\n## MM-RoPE overhead ({ids.shape[1]} tokens, hidden 512, 4 layers, sdpa, median of {repeats})")
    print("| rotary | forward s |\n|---|---|")
    print(f"| 1D RoPE | {plain:.3f} |\n| MM-RoPE | {mm:.3f} |")
    print(f"MM-RoPE overhead, whole forward: {100 * (mm / plain - 1):+.2f} % (paper: 3.5-4.1 %, target < 2 %)")
    print(
        f"MM-RoPE positions + cos/sin, once per forward: {1e3 * mm_part:.2f} ms vs 1D cos/sin {1e3 * plain_part:.2f} ms: "
        f"{100 * (mm_part - plain_part) / plain:.3f} % of the forward"
    )


def long_sequence_worker(attn_implementation: str) -> dict:
    from lumos_hf import LumosForVideoGeneration
    from lumos_hf.conversion_lumos import convert_lumos_checkpoint

    out = Path("/tmp/lumos_bench_tiny")
    if not (out / "config.json").exists():
        convert_lumos_checkpoint(FIXTURE / "official_checkpoint", out, remote_code=False)
    model = LumosForVideoGeneration.from_pretrained(out, attn_implementation=attn_implementation).train()
    ids = official_video_ids()
    labels = torch.where(ids >= 65536, ids, -100)
    before = current_rss_gib()
    start = time.perf_counter()
    loss = model(ids, labels=labels).loss
    forward = time.perf_counter() - start
    start = time.perf_counter()
    loss.backward()
    backward = time.perf_counter() - start
    return {
        "tokens": ids.shape[1],
        "forward_s": forward,
        "backward_s": backward,
        "peak_gib": rss_gib(),
        "base_gib": before,
    }


def bench_long(skip_generic_flex: bool, train: bool) -> None:
    from transformers.masking_utils import create_causal_mask

    from lumos_hf import LumosConfig, compute_mm_rope_layout
    from lumos_hf.attention_lumos import block_causal_block_mask, block_causal_ranges

    ids = official_video_ids()
    length = ids.shape[1]
    layout_ms = 1e3 * median_time(lambda: compute_mm_rope_layout(ids), 5)
    ranges_ms = 1e3 * median_time(lambda: block_causal_ranges(compute_mm_rope_layout(ids).frame_ids, None, length), 5)
    frame_ids = compute_mm_rope_layout(ids).frame_ids
    block_ms = 1e3 * median_time(
        lambda: block_causal_block_mask(block_causal_ranges(frame_ids, None, length), length), 5
    )
    print(f"\n## Long sequence: the official 22-frame 384p video sample ({length} tokens)")
    print("| step | ms |\n|---|---|")
    print(f"| MM-RoPE positions + frame segments | {layout_ms:.1f} |")
    print(f"| + key ranges (block_causal_chunked mask) | {ranges_ms:.1f} |")
    print(f"| + analytic flex BlockMask | {block_ms + layout_ms:.1f} |")
    if not skip_generic_flex:
        config = LumosConfig(hidden_size=64, num_attention_heads=1, num_hidden_layers=1, intermediate_size=64)
        config._attn_implementation = "flex_attention"
        embeds = torch.zeros(1, length, 1)
        start = time.perf_counter()
        create_causal_mask(config, embeds, None, None, block_sequence_ids=frame_ids)
        print(
            f"| transformers' generic flex BlockMask (create_block_mask) | {1e3 * (time.perf_counter() - start):.0f} |"
        )
    print(
        f"A dense [L, L] mask would take {length**2 / 2**30:.1f} GiB as bool, {4 * length**2 / 2**30:.1f} GiB as int32."
    )
    if not train:
        return
    result = run_worker("long", "block_causal_chunked")
    print(
        f"forward + backward, tiny fixture model, block_causal_chunked, fp32 CPU: forward {result['forward_s']:.1f} s, "
        f"backward {result['backward_s']:.1f} s, peak RSS {result['peak_gib']:.2f} GiB (24 GiB machine)"
    )


def loss_worker(kind: str, tokens: int, hidden: int = 256) -> dict:
    import torch.nn.functional as F

    from lumos_hf.loss_lumos import visual_cross_entropy

    torch.manual_seed(0)
    vocab, offset = 129536, 65536
    hidden_states = torch.randn(1, tokens, hidden, requires_grad=True)
    weight = torch.randn(vocab, hidden).mul_(0.02).requires_grad_()
    labels = torch.randint(offset, vocab, (1, tokens))
    labels[:, ::4] = -100  # about three quarters of the tokens are masked video tokens
    before = current_rss_gib()
    start = time.perf_counter()
    if kind == "chunked visual-only":
        loss = visual_cross_entropy(hidden_states, weight, labels, offset, vocab - offset)
    else:  # what a plain causal-LM head does: full fp32 logits, cross-entropy over all 129,536 ids
        logits = F.linear(hidden_states, weight).float()
        loss = F.cross_entropy(logits.view(-1, vocab), labels.view(-1), ignore_index=-100)
    loss.backward()
    return {"peak_gib": rss_gib() - before, "seconds": time.perf_counter() - start}


def run_worker(kind: str, *args, memory_limit_gib: float | None = None) -> dict:
    command = [sys.executable, __file__, "--worker", json.dumps([kind, *args])]
    preexec = None
    if memory_limit_gib:
        limit = int(memory_limit_gib * 2**30)

        def preexec():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run(command, capture_output=True, text=True, preexec_fn=preexec)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_loss() -> None:
    print("\n## Loss memory (hidden 256, 129,536-id head, 75 % of tokens scored, forward + backward)")
    print("| tokens | loss | peak memory GiB | s |\n|---|---|---|---|")
    for tokens in (8192, 28000):
        peaks = {}
        for kind in ("chunked visual-only", "full-vocabulary fp32"):
            result = run_worker("loss", kind, tokens, memory_limit_gib=20)
            if "error" in result:
                print(f"| {tokens} | {kind} | out of memory under a 20 GiB limit ({result['error'][:60]}) | - |")
            else:
                peaks[kind] = result["peak_gib"]
                print(f"| {tokens} | {kind} | {result['peak_gib']:.2f} | {result['seconds']:.1f} |")
        if len(peaks) == 2:
            print(
                f"| {tokens} | ratio chunked / full | {peaks['chunked visual-only'] / peaks['full-vocabulary fp32']:.3f} | |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--sections", default="rope,long,loss", help="comma-separated: rope, long, loss")
    parser.add_argument("--skip-long-training", action="store_true", help="time the 90k-token mask only")
    parser.add_argument("--skip-generic-flex", action="store_true", help="skip the ~20 s create_block_mask timing")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        kind, *rest = json.loads(args.worker)
        result = long_sequence_worker(*rest) if kind == "long" else loss_worker(*rest)
        print(json.dumps(result))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    sections = args.sections.split(",")
    if "rope" in sections:
        bench_mm_rope(args.repeats)
    if "long" in sections:
        bench_long(args.skip_generic_flex, train=not args.skip_long_training)
    if "loss" in sections:
        bench_loss()


if __name__ == "__main__":
    main()
