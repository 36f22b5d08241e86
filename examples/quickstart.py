"""Quick start on a fresh machine, with the official-format fixtures in `../shared` (random weights, no download):

1. convert the official Lumos-1 checkpoint and check it against the official code's outputs;
2. convert the official Cosmos DV4x8x8 tokenizer weights;
3. assemble a `LumosPipeline` (with a download-free test tokenizer) and generate a short video to an mp4.

    python examples/quickstart.py [--output outputs/quickstart]

With real checkpoints the same steps are `lumos-hf convert-model`, `lumos-hf convert-tokenizer`,
`lumos-hf convert-text-tokenizer`, then `LumosPipeline.from_pretrained` (docs/inference.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from diffusers.utils import export_to_video
from safetensors.torch import load_file

from lumos_hf import (
    ARDFScheduler,
    LumosForVideoGeneration,
    LumosPipeline,
    LumosProcessor,
    compute_mm_rope_layout,
    convert_cosmos_tokenizer,
)
from lumos_hf.conversion_lumos import convert_lumos_checkpoint
from lumos_hf.testing import build_tiny_chameleon_tokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared"
LUMOS_FIXTURE = SHARED / "fixtures" / "official_lumos_tiny"
COSMOS_FIXTURE = SHARED / "fixtures" / "official_cosmos_dv_tiny"


def check_parity(model: LumosForVideoGeneration) -> None:
    """Positions, sample logits and argmax of every fixture case against the official outputs."""
    cases = load_file(LUMOS_FIXTURE / "cases.safetensors")
    for name in json.loads((LUMOS_FIXTURE / "cases.json").read_text()):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="outputs/quickstart")
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is missing: the quick start reads the official fixtures from ../shared")
    output = Path(args.output)

    print("1. Lumos LLM: official checkpoint -> LumosForVideoGeneration, compared with the official outputs")
    convert_lumos_checkpoint(LUMOS_FIXTURE / "official_checkpoint", output / "transformer")
    transformer = LumosForVideoGeneration.from_pretrained(output / "transformer").eval()
    check_parity(transformer)

    print("2. Cosmos DV4x8x8: official state dicts -> CosmosDiscreteVideoTokenizer")
    video_tokenizer = convert_cosmos_tokenizer(
        encoder=COSMOS_FIXTURE / "encoder_state.safetensors",
        decoder=COSMOS_FIXTURE / "decoder_state.safetensors",
        config=COSMOS_FIXTURE / "config.json",
    )

    print("3. LumosPipeline: text-to-video, 9 frames of 64x128, 8 AR-DF steps per latent frame")
    pipe = LumosPipeline(
        transformer=transformer,
        video_tokenizer=video_tokenizer,
        processor=LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer()),
        scheduler=ARDFScheduler(),
    )
    prompt = json.loads((SHARED / "data" / "videos" / "captions.json").read_text())["hawk_closeup.mp4"]
    video = pipe(
        prompt,
        height=64,
        width=128,
        num_frames=9,
        fps=8,
        num_inference_steps=8,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames[0]
    pipe.save_pretrained(output / "pipeline")
    path = export_to_video(list(video), str(output / "quickstart.mp4"), fps=8)
    print(f"   {video.shape[0]} frames {video.shape[1]}x{video.shape[2]} -> {path} (random weights: noise-like)")
    print(f"   pipeline saved to {output / 'pipeline'} (LumosPipeline.from_pretrained)")


if __name__ == "__main__":
    main()
