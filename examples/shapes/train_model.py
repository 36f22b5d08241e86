"""
Train the shapes demo Lumos model by AR-DF with the package's Trainer recipe (`examples/train_lumos.py`: tube masks,
CFG text drop), from scratch or from a trained transformer (`--init_from`), on `RUN_DIR/dataset` (see
`prepare_data.py`). Resumes from the latest checkpoint in `RUN_DIR/model` when there is one.

    python examples/shapes/train_model.py --run_dir runs/shapes --max_steps 1500
    python examples/shapes/train_model.py --run_dir runs/more --init_from src/lumos_hf/demo_model/transformer

Any other argument is passed to `train_lumos.py` (e.g. `--per_device_train_batch_size 8`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from demo_spec import build_config
from transformers.trainer_utils import get_last_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_lumos import main as train_lumos  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", type=Path, required=True)
    parser.add_argument("--max_steps", type=int, default=1500)
    parser.add_argument("--init_from", type=Path, default=None, help="a trained transformer folder to continue from")
    args, extra = parser.parse_known_args()

    if args.init_from is None:
        config_dir = args.run_dir / "model_config"
        build_config().save_pretrained(config_dir)
        model_arg = f"--config_name={config_dir}"
    else:
        model_arg = f"--model_name_or_path={args.init_from}"
    output_dir = args.run_dir / "model"
    checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    argv = [
        model_arg,
        f"--dataset={args.run_dir / 'dataset'}",
        f"--output_dir={output_dir}",
        f"--max_steps={args.max_steps}",
        "--stage=joint",
        "--per_device_train_batch_size=16",
        "--learning_rate=1e-3",
        "--lr_scheduler_type=cosine",
        "--warmup_steps=100",
        "--weight_decay=0.1",
        "--max_grad_norm=1.0",
        "--logging_steps=10",
        "--save_steps=100",
        "--save_total_limit=2",
        "--dataloader_num_workers=0",
        "--report_to=none",
        "--seed=0",
        *([f"--resume_from_checkpoint={checkpoint}"] if checkpoint else []),
        *extra,
    ]
    print("resuming from", checkpoint) if checkpoint else print("starting from", args.init_from or "scratch")
    train_lumos(argv)


if __name__ == "__main__":
    main()
