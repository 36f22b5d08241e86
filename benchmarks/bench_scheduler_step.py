"""The AR-DF scheduler step over the video vocabulary: rows sampled in chunks (the default) vs one pass over all rows,
side by side in one run, for one frame of 8 steps with the logits of the still-masked positions only (as the pipeline
calls it). "One pass" is the same step with a chunk larger than all rows. Both give the same tokens (checked here
and in `tests/test_scheduler.py`).

    python benchmarks/bench_scheduler_step.py [--threads 1] [--repeats 3] [--steps 8]

Sizes: the official video vocabulary (64,000) at the masked positions of one latent frame of 64x64 (64 positions),
128x224 (448) and 256x448 (1,792). One pass allocates float32 buffers of `positions x 64,000` (460 MB at 256x448)
anew at every step; chunks of `SAMPLING_CHUNK_ELEMENTS` logits are small enough for the allocator to reuse.
"""

from __future__ import annotations

import argparse
import time

import torch

import lumos_hf.scheduling_ardf as scheduling
from lumos_hf import ARDFScheduler

VOCAB = 64_000
SIZES = {"64x64": 64, "128x224": 448, "256x448": 1792}


def one_frame(logits: torch.Tensor, steps: int) -> tuple[torch.Tensor, float]:
    """Sample one frame ([1, N, V] fixed logits) in `steps` steps; returns its tokens and the seconds taken."""
    scheduler = ARDFScheduler(num_inference_steps=steps)
    generator = torch.Generator().manual_seed(0)
    num_tokens = logits.shape[1]
    sample = torch.zeros(1, num_tokens, dtype=torch.long)
    is_masked = torch.ones(1, num_tokens, dtype=torch.bool)
    start = time.perf_counter()
    for step_index in range(steps):
        positions = is_masked[0].nonzero().squeeze(-1)
        sample, is_masked = scheduler.step(
            logits[:, positions], step_index, sample, is_masked, generator, return_dict=False, positions=positions
        )
    return sample, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chunked_elements = scheduling.SAMPLING_CHUNK_ELEMENTS
    modes = {"one pass": 1 << 62, "chunked": chunked_elements}
    print(f"{args.steps} steps per frame, {args.threads} thread(s), best of {args.repeats} interleaved rounds")
    print("| frame | positions | one pass (s) | chunked (s) | one pass / chunked | same tokens |")
    print("|---|---|---|---|---|---|")
    for name, num_tokens in SIZES.items():
        logits = 3 * torch.randn(1, num_tokens, VOCAB, generator=torch.Generator().manual_seed(0))
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        tokens: dict[str, torch.Tensor] = {}
        for _ in range(args.repeats):
            for mode, elements in modes.items():
                scheduling.SAMPLING_CHUNK_ELEMENTS = elements
                tokens[mode], seconds = one_frame(logits, args.steps)
                times[mode].append(seconds)
        scheduling.SAMPLING_CHUNK_ELEMENTS = chunked_elements
        one_pass, chunked = min(times["one pass"]), min(times["chunked"])
        same = torch.equal(tokens["one pass"], tokens["chunked"])
        print(f"| {name} | {num_tokens} | {one_pass:.3f} | {chunked:.3f} | {one_pass / chunked:.2f}x | {same} |")


if __name__ == "__main__":
    main()
