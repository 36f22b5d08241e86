"""Output folders of the `lumos-hf` commands: checked before any work, written atomically, never overwritten
without `--overwrite`."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace the output folder if it exists")


def check_output_folder(
    output: str | os.PathLike, inputs: list[str | os.PathLike | None], overwrite: bool, name: str = "--output"
) -> Path:
    """`output` as a resolved path, or `ValueError` / `FileExistsError` naming the argument `name` when it is a file,
    is (or lies inside, or contains) one of `inputs`, or is a non-empty folder without `overwrite`."""
    target = Path(output).resolve()
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{name} {output} is an existing file; give a folder")
    for source in inputs:
        if source is None:
            continue
        source = Path(source).resolve()
        if target == source or source in target.parents or target in source.parents:
            raise ValueError(f"{name} {output} must not be, lie inside or contain the input {source}")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{name} {output} is a non-empty folder; pass --overwrite to replace it")
    return target


@contextmanager
def atomic_output_folder(target: Path) -> Iterator[Path]:
    """Yields a hidden sibling folder to write into; on success it replaces `target`, on any error it is removed, so
    an interrupted command leaves `target` as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        staging.chmod(0o777 & ~_umask())
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
