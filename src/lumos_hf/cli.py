"""`lumos-hf` command line: one sub-command per module in `lumos_hf.commands`."""

from __future__ import annotations

import argparse
import importlib

# Each module defines `register(subparsers)`, which adds its sub-command and sets `func` on the parser.
COMMAND_MODULES = [
    "convert_release",
    "convert_model",
    "convert_tokenizer",
    "convert_text_tokenizer",
    "pretokenize",
    "generate",
    "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lumos-hf", description="Lumos-1 tools: conversion, generation, training data."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"lumos_hf.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
