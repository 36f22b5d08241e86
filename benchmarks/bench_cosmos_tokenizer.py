"""
Throughput and peak memory of `CosmosDiscreteVideoTokenizer` (full-size DV4x8x8 architecture, random weights unless
`--model` points to a converted checkpoint).

Every measurement runs in a fresh subprocess, so peak memory is per measurement: on CPU the process' peak resident set
size (`ru_maxrss`), reported with the RSS after building the model and inputs subtracted ("activation peak"); on CUDA
`torch.cuda.max_memory_allocated`.

    python benchmarks/bench_cosmos_tokenizer.py                          # CPU, 448x256, 25 and 97 frames
    python benchmarks/bench_cosmos_tokenizer.py --device cuda --dtype bfloat16 --width 672 --height 384
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(spec: dict) -> dict:
    import torch

    from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer

    torch.manual_seed(0)
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    device, dtype = torch.device(spec["device"]), getattr(torch, spec["dtype"])
    if spec["model"]:
        model = CosmosDiscreteVideoTokenizer.from_pretrained(spec["model"], torch_dtype=dtype)
    else:
        model = CosmosDiscreteVideoTokenizer().to(dtype)
    model = model.to(device).eval()
    if spec["chunk"]:
        model.enable_temporal_chunking(spec["chunk"])
    else:
        model.disable_temporal_chunking()
    frames, height, width = spec["frames"], spec["height"], spec["width"]
    latent_shape = (1, model.num_latent_frames(frames), height // 8, width // 8)
    if spec["op"] == "encode":
        inputs = torch.rand(1, 3, frames, height, width, device=device) * 2 - 1
        run = model.encode
    else:
        inputs = torch.randint(0, model.codebook_size, latent_shape, device=device)
        run = model.decode

    def timed() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(inputs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    with torch.inference_mode():
        for _ in range(spec["warmup"]):
            timed()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        baseline = _rss_mib()
        seconds = min(timed() for _ in range(spec["repeats"]))
    result = {**spec, "seconds": seconds, "fps": frames / seconds}
    if device.type == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        result["peak_mib"], result["baseline_mib"] = _rss_mib(), baseline
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[25, 97])
    parser.add_argument("--ops", nargs="+", choices=["encode", "decode"], default=["encode", "decode"])
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--chunk", type=int, nargs="+", default=[8], help="latent frames per chunk; 0 = one pass")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: PyTorch default)")
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", help="converted checkpoint directory (default: random full-size DV4x8x8)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    memory = "peak MiB (CUDA allocated)" if args.device.startswith("cuda") else "peak RSS MiB (after setup)"
    print(f"CosmosDiscreteVideoTokenizer, {args.width}x{args.height}, {args.device} {args.dtype}")
    print(f"| op | frames | chunk | seconds | frames/s | {memory} |")
    print("|---|---|---|---|---|---|")
    for chunk in args.chunk:
        for op in args.ops:
            for frames in args.frames:
                spec = {
                    "op": op,
                    "frames": frames,
                    "height": args.height,
                    "width": args.width,
                    "chunk": chunk,
                    "device": args.device,
                    "dtype": args.dtype,
                    "threads": args.threads,
                    "warmup": args.warmup,
                    "repeats": args.repeats,
                    "model": args.model,
                }
                output = subprocess.run(
                    [sys.executable, __file__, "--worker", json.dumps(spec)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = json.loads(output.stdout.strip().splitlines()[-1])
                peak = f"{result['peak_mib']:.0f}"
                if "baseline_mib" in result:
                    peak += f" ({result['peak_mib'] - result['baseline_mib']:.0f})"
                chunk_text = chunk or "off"
                print(
                    f"| {op} | {frames} | {chunk_text} | {result['seconds']:.1f} | {result['fps']:.2f} | {peak} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
