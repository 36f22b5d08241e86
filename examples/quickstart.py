"""Quick start on a fresh machine: convert the official-format fixture checkpoint and check it against the
official code's outputs (`../shared/fixtures/official_lumos_tiny`).

    python examples/quickstart.py [--output outputs/lumos-tiny]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from lumos_hf import LumosForVideoGeneration, compute_mm_rope_layout
from lumos_hf.conversion_lumos import convert_lumos_checkpoint

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official_lumos_tiny"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="outputs/lumos-tiny")
    args = parser.parse_args()
    if not FIXTURE.exists():
        raise SystemExit(f"{FIXTURE} is missing: the quick start reads the official fixtures from ../shared")

    convert_lumos_checkpoint(FIXTURE / "official_checkpoint", args.output)
    model = LumosForVideoGeneration.from_pretrained(args.output).eval()
    cases = load_file(FIXTURE / "cases.safetensors")
    print(f"converted to {args.output}; comparing with the official outputs:")
    for name in json.loads((FIXTURE / "cases.json").read_text()):
        ids = cases[f"{name}.input_ids"][None]
        flag = cases[f"{name}.visual_content_flag"].bool()
        positions = compute_mm_rope_layout(ids).position_ids[:, 0]
        official = torch.stack([cases[f"{name}.position_{axis}"] for axis in "thw"])
        positions_exact = torch.equal(positions[:, flag], official[:, flag])
        rows = cases[f"{name}.sample_rows"]
        with torch.no_grad():
            hidden = model.model(ids).last_hidden_state[0]
            logits = model.lm_head(hidden[rows])
            argmax = torch.cat([model.lm_head(h).argmax(-1) for h in hidden.split(1024)])
        error = max(
            (logits[:, :2048] - cases[f"{name}.sample_text_logits"]).abs().max().item(),
            (logits[:, 65536:66560] - cases[f"{name}.sample_visual_logits"]).abs().max().item(),
        )
        same_argmax = torch.equal(argmax, cases[f"{name}.argmax"])
        print(
            f"  {name:24s} {ids.shape[1]:6d} tokens  positions exact: {positions_exact}  "
            f"max |logit error|: {error:.1e}  argmax identical: {same_argmax}"
        )
        if not (positions_exact and error < 1e-4 and same_argmax):
            raise SystemExit(f"parity check failed on {name}")
    print("all cases match the official implementation")


if __name__ == "__main__":
    main()
