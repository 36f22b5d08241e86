"""`lumos-hf convert-text-tokenizer`: the official `text_tokenizer.json` -> a saved LumosProcessor (tokenizer included)."""

from __future__ import annotations

import argparse

from .outputs import add_overwrite_argument, atomic_output_folder, check_output_folder

DESCRIPTION = (
    "Convert Chameleon's text_tokenizer.json (shipped with the Lumos-1 checkpoints) into a PreTrainedTokenizerFast "
    "with the Lumos placeholders and save it with a LumosProcessor, so that LumosProcessor.from_pretrained(OUTPUT_DIR) "
    "loads both."
)


def _add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("text_tokenizer_json", help="path to the official text_tokenizer.json")
    parser.add_argument("output_dir", help="folder to write the tokenizer and processor files to")
    add_overwrite_argument(parser)
    parser.set_defaults(func=run)
    return parser


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `convert-text-tokenizer` sub-command to `subparsers`."""
    return _add_arguments(
        subparsers.add_parser(
            "convert-text-tokenizer",
            help="convert the official text_tokenizer.json into a LumosProcessor folder",
            description=DESCRIPTION,
        )
    )


def run(args: argparse.Namespace) -> int:
    from ..processing_lumos import LumosProcessor
    from ..text_tokenizer import convert_text_tokenizer

    target = check_output_folder(args.output_dir, [args.text_tokenizer_json], args.overwrite, name="output_dir")
    processor = LumosProcessor(convert_text_tokenizer(args.text_tokenizer_json))
    with atomic_output_folder(target) as staging:
        processor.save_pretrained(staging)
    print(f"saved LumosProcessor with {len(processor.tokenizer)} token ids to {args.output_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command on its own (what `conversion/convert_text_tokenizer.py` does)."""
    parser = _add_arguments(argparse.ArgumentParser(prog="convert_text_tokenizer", description=DESCRIPTION))
    args = parser.parse_args(argv)
    return args.func(args)
