"""`lumos-hf convert-tokenizer`: official Cosmos DV tokenizer weights -> `CosmosDiscreteVideoTokenizer` directory."""

from __future__ import annotations

import argparse

from .outputs import add_overwrite_argument, atomic_output_folder, check_output_folder

_DTYPES = ("float32", "bfloat16", "float16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", help="official encoder.jit, or a .safetensors state dict with its key names")
    parser.add_argument("--decoder", help="official decoder.jit, or a .safetensors state dict with its key names")
    parser.add_argument("--autoencoder", help="official autoencoder.jit (both halves), instead of --encoder/--decoder")
    parser.add_argument(
        "--config", help="official tokenizer config.json (optional: the architecture is read off the weights)"
    )
    parser.add_argument("--output", required=True, help="output directory (save_pretrained, safetensors)")
    parser.add_argument(
        "--spatial-compression", type=int, help="override the spatial compression (default: config or 8)"
    )
    parser.add_argument(
        "--temporal-compression", type=int, help="override the temporal compression (default: config or 4)"
    )
    parser.add_argument("--dtype", choices=_DTYPES, default="float32", help="dtype of the saved weights")
    add_overwrite_argument(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from lumos_hf.video_tokenizer.conversion import convert_cosmos_tokenizer

    if args.autoencoder is None and (args.encoder is None or args.decoder is None):
        raise SystemExit("convert-tokenizer: give --encoder and --decoder, or --autoencoder.")
    inputs = [args.encoder, args.decoder, args.autoencoder, args.config]
    target = check_output_folder(args.output, inputs, args.overwrite)
    with atomic_output_folder(target) as staging:
        model = convert_cosmos_tokenizer(
            encoder=args.encoder,
            decoder=args.decoder,
            autoencoder=args.autoencoder,
            config=args.config,
            output_dir=staging,
            spatial_compression=args.spatial_compression,
            temporal_compression=args.temporal_compression,
            dtype=getattr(torch, args.dtype),
        )
    num_params = sum(p.numel() for p in model.parameters())
    print(f"Saved CosmosDiscreteVideoTokenizer ({num_params / 1e6:.1f}M parameters) to {args.output}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-tokenizer",
        help="convert the official Cosmos DV4x8x8 tokenizer (TorchScript or safetensors) to a diffusers model",
        description=__doc__,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
