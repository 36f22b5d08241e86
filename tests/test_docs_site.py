"""The documentation site: `mkdocs build --strict` (mkdocs-material, mkdocstrings' API reference from the docstrings)
succeeds, fails on a broken link, and the API page covers every public name of `lumos_hf`."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lumos_hf

ROOT = Path(__file__).resolve().parents[1]


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"), "-d", str(site)]
    return subprocess.run(command, capture_output=True, text=True, cwd=root, env=env)


def test_site_builds_strictly(tmp_path):
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "LumosPipeline" in api and "load_lora_weights" in api and "CosmosDiscreteVideoTokenizer" in api


@pytest.mark.slow
def test_a_broken_link_fails_the_build(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "src").symlink_to(ROOT / "src")
    with open(tmp_path / "docs" / "index.md", "a") as index:
        index.write("\nSee [a page that does not exist](missing.md).\n")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode != 0 and "missing.md" in result.stderr


def test_api_reference_covers_every_public_name():
    documented = re.findall(r"^::: ([\w.]+)$", (ROOT / "docs" / "api.md").read_text(), flags=re.MULTILINE)
    names = {path.rsplit(".", 1)[1] for path in documented}
    public = (set(lumos_hf.__all__) | set(lumos_hf._LAZY_IMPORTS)) - {"__version__"}
    assert public <= names, sorted(public - names)
    for path in documented:  # every entry resolves to the object `lumos_hf` exports
        module, name = path.rsplit(".", 1)
        obj = getattr(importlib.import_module(module), name)
        if name in public:
            assert getattr(lumos_hf, name) is obj, path
