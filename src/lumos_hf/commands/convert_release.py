"""`lumos-hf convert-release`: the official Lumos-1 release (checkpoint, text tokenizer, Cosmos tokenizer) -> one
complete pipeline folder with remote code and a model card, optionally uploaded to the Hub."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .outputs import add_overwrite_argument, atomic_output_folder, check_output_folder

DTYPES = ("float32", "bfloat16", "float16")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-release",
        help="convert the official release (Lumos checkpoint, text_tokenizer.json, Cosmos folder) into a Hub folder",
        description=__doc__,
    )
    parser.add_argument("--lumos", required=True, help="official checkpoint folder, e.g. 1B/stage-2-joint-384p")
    parser.add_argument("--text-tokenizer", required=True, help="official tokenizer/text_tokenizer.json")
    parser.add_argument(
        "--cosmos", required=True, help="Cosmos DV4x8x8 folder: encoder.jit + decoder.jit (or autoencoder.jit)"
    )
    parser.add_argument("--output", required=True, help="pipeline folder to write")
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the folder to this Hub repository")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repository private")
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="cast the weights (default: keep)")
    parser.add_argument("--license", default="other", help="Hub license id for the card (default: other)")
    parser.add_argument("--base-model", help="Hub id of the original release, for the card's base_model")
    parser.add_argument("--height", type=int, help="default frame height (default: the checkpoint's bucket)")
    parser.add_argument("--width", type=int, help="default frame width (default: the checkpoint's bucket)")
    parser.add_argument("--num-frames", type=int, help="default number of frames (default: 25)")
    parser.add_argument("--steps", type=int, help="default AR-DF steps per latent frame (default: 50)")
    parser.add_argument(
        "--no-remote-code", action="store_true", help="do not write the package's code (loads only with lumos_hf)"
    )
    add_overwrite_argument(parser)
    parser.set_defaults(func=run)


def _generation_overrides(args: argparse.Namespace) -> dict[str, int]:
    """The sampling defaults given on the command line, checked before any conversion."""
    overrides = {}
    for name, key, multiple in (
        ("height", "height", 32),
        ("width", "width", 32),
        ("num_frames", "num_frames", 1),
        ("steps", "num_inference_steps", 1),
    ):
        value = getattr(args, name)
        if value is None:
            continue
        if value <= 0 or value % multiple:
            kind = f"a positive multiple of {multiple}" if multiple > 1 else "positive"
            raise SystemExit(f"convert-release: --{name.replace('_', '-')} must be {kind}, got {value}")
        overrides[key] = value
    frames = overrides.get("num_frames")
    if frames is not None and (frames - 1) % 4:
        raise SystemExit(f"convert-release: --num-frames must be 1 + 4k (1, 5, 9, ...), got {frames}")
    return overrides


def run(args: argparse.Namespace) -> int:
    import torch

    from lumos_hf.release import convert_release, find_cosmos_weights

    overrides = _generation_overrides(args)
    for flag, path in (("--lumos", Path(args.lumos) / "config.json"), ("--text-tokenizer", Path(args.text_tokenizer))):
        if not path.is_file():
            raise SystemExit(f"convert-release: {flag}: {path} does not exist")
    try:
        find_cosmos_weights(args.cosmos)
    except FileNotFoundError as error:
        raise SystemExit(f"convert-release: --cosmos: {error}") from None
    target = check_output_folder(args.output, [args.lumos, args.text_tokenizer, args.cosmos], args.overwrite)
    repo_id = args.push_to_hub or str(target)
    with atomic_output_folder(target) as staging:
        pipeline = convert_release(
            args.lumos,
            args.text_tokenizer,
            args.cosmos,
            staging,
            dtype=getattr(torch, args.dtype) if args.dtype else None,
            generation_config=overrides,
            remote_code=not args.no_remote_code,
            repo_id=repo_id,
            license=args.license,
            base_model=args.base_model,
        )
    index = json.loads((target / "model_index.json").read_text())
    n_params = sum(math.prod(p.shape) for p in pipeline.transformer.parameters())
    print(f"converted the release ({n_params:,} transformer parameters) to {args.output}: {sorted(index)}")
    if args.push_to_hub:
        from huggingface_hub import create_repo, upload_folder

        repo = create_repo(args.push_to_hub, exist_ok=True, private=args.private).repo_id
        upload_folder(
            repo_id=repo, folder_path=target, commit_message="Upload Lumos-1 pipeline (lumos-hf convert-release)"
        )
        print(f"uploaded to https://huggingface.co/{repo}")
    return 0
