"""`lumos-hf convert-model`: official Lumos-1 checkpoint → `LumosForVideoGeneration` folder."""

from __future__ import annotations

import argparse

from .outputs import add_overwrite_argument, atomic_output_folder, check_output_folder

DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-model",
        help="convert an official Lumos-1 checkpoint (Chameleon + MM-RoPE) into a LumosForVideoGeneration folder",
    )
    parser.add_argument("--input", required=True, help="official checkpoint folder (config.json + weights)")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="cast weights (default: keep)")
    parser.add_argument(
        "--no-remote-code",
        action="store_true",
        help="do not copy the modeling code into the folder (it then loads only where lumos_hf is installed)",
    )
    add_overwrite_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from lumos_hf.conversion_lumos import convert_lumos_checkpoint

    target = check_output_folder(args.output, [args.input], args.overwrite)
    dtype = getattr(torch, DTYPES[args.dtype]) if args.dtype else None
    with atomic_output_folder(target) as staging:
        model = convert_lumos_checkpoint(args.input, staging, dtype=dtype, remote_code=not args.no_remote_code)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"converted {n_params:,} parameters ({model.dtype}) to {args.output}")
    return 0
