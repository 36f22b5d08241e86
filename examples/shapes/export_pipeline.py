"""
Assemble the shapes demo `LumosPipeline` from a training run and save it (safetensors + json only), atomically:

    python examples/shapes/export_pipeline.py --run_dir runs/shapes --output_dir src/lumos_hf/demo_model --overwrite

Takes the video tokenizer from `RUN_DIR/tokenizer/final`, the processor from `RUN_DIR/processor` and the latest
Trainer checkpoint of `RUN_DIR/model` (or `--checkpoint`). The transformer's weights are stored in float16 to halve
the package size; its config says float32, so `from_pretrained` loads and runs it in float32. The generation defaults
(64x64, 17 frames, 8 fps, steps, guidance, history mask) are saved in `model_index.json`, the sampling temperature
in the scheduler's config (`demo_spec.SCHEDULER_CONFIG`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch
from demo_spec import GENERATION_DEFAULTS, SCHEDULER_CONFIG
from transformers.trainer_utils import get_last_checkpoint

from lumos_hf import (
    ARDFScheduler,
    CosmosDiscreteVideoTokenizer,
    LumosForVideoGeneration,
    LumosPipeline,
    LumosProcessor,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", type=Path, required=True)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=None, help="a Trainer checkpoint (default: the latest)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output_dir if it exists")
    args = parser.parse_args()
    if args.output_dir.exists() and not args.overwrite:
        raise SystemExit(f"--output_dir {args.output_dir} exists; pass --overwrite to replace it")
    checkpoint = args.checkpoint or get_last_checkpoint(str(args.run_dir / "model"))
    if checkpoint is None:
        raise SystemExit(f"no checkpoint in {args.run_dir / 'model'}: run train_model.py first")

    transformer = LumosForVideoGeneration.from_pretrained(checkpoint, dtype=torch.float32).eval()
    transformer.config.use_cache = True  # training turned the KV cache off
    pipe = LumosPipeline(
        transformer=transformer,
        video_tokenizer=CosmosDiscreteVideoTokenizer.from_pretrained(args.run_dir / "tokenizer" / "final").eval(),
        processor=LumosProcessor.from_pretrained(args.run_dir / "processor"),
        scheduler=ARDFScheduler(**SCHEDULER_CONFIG),
        generation_config=GENERATION_DEFAULTS,
    )
    args.output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{args.output_dir.name}.", dir=args.output_dir.parent))
    try:
        pipe.transformer.to(torch.float16)
        pipe.save_pretrained(staging)
        for config_file in (staging / "config.json", staging / "transformer" / "config.json"):
            config = json.loads(config_file.read_text())
            config["dtype"] = "float32"  # weights stored in float16, loaded and run in float32
            config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        for path in (staging, *staging.rglob("*")):  # mkdtemp and the safetensors writers make them private
            path.chmod(0o755 if path.is_dir() else 0o644)
        if args.output_dir.exists():
            shutil.rmtree(args.output_dir)
        staging.rename(args.output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = sum(path.stat().st_size for path in args.output_dir.rglob("*") if path.is_file())
    print(f"saved the demo pipeline from {checkpoint} to {args.output_dir} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
