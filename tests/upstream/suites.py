"""Where the upstream common test suites come from, made importable.

- diffusers: its `tests/` package in `../shared/upstream/diffusers` (its PyPI packages do not ship tests), imported as
  `tests.*` with that folder on `sys.path`.
- transformers: the `tests/` folder of the source distribution of the *installed* transformers, downloaded once with
  `pip download --no-binary :all:` and cached (`$LUMOS_HF_UPSTREAM_CACHE`, default `~/.cache/lumos_hf/upstream`), as
  the package `transformers_tests`. The source distribution carries only the top-level common files; the three
  modules they import from sub-folders of the repository are absent, so stand-ins are written beside them
  (`STAND_INS`): `ExportTesterMixin` and `GenerationTesterMixin` as empty mixins (Lumos does not `generate`; no
  export tests run), and `config_common_kwargs` (common config attributes with non-default values, for
  `ConfigTester`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import transformers

SHARED_DIR = Path(__file__).resolve().parents[2].parent / "shared"
DIFFUSERS_SUITE = SHARED_DIR / "upstream" / "diffusers"
CACHE_DIR = Path(os.environ.get("LUMOS_HF_UPSTREAM_CACHE", Path.home() / ".cache" / "lumos_hf" / "upstream"))

STAND_INS = {
    "exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
    "generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
    "utils/test_configuration_utils.py": (
        "config_common_kwargs = {\n"
        '    "return_dict": False,\n'
        '    "output_hidden_states": True,\n'
        '    "output_attentions": True,\n'
        '    "dtype": "float16",\n'
        '    "chunk_size_feed_forward": 5,\n'
        '    "architectures": ["LumosForVideoGeneration"],\n'
        '    "id2label": {0: "label"},\n'
        '    "label2id": {"label": "0"},\n'
        '    "problem_type": "regression",\n'
        "}\n"
    ),
}


def use_diffusers_suite() -> None:
    """Put diffusers' `tests` package on `sys.path`; fail clearly when `../shared` lacks it."""
    if not (DIFFUSERS_SUITE / "tests" / "pipelines" / "testing_utils").is_dir():
        pytest.fail(f"{DIFFUSERS_SUITE}/tests is missing: the upstream suites are read from `../shared/upstream`")
    if str(DIFFUSERS_SUITE) not in sys.path:
        sys.path.append(str(DIFFUSERS_SUITE))  # after ours: its `utils/` folder must not shadow `tests/utils.py`


def use_transformers_suite() -> None:
    """Put `transformers_tests` (the installed version's common suites) on `sys.path`, downloading it once."""
    root = CACHE_DIR / f"transformers-{transformers.__version__}"
    if not (root / "transformers_tests" / "test_modeling_common.py").exists():
        _fetch_transformers_suite(root)
    if str(root) not in sys.path:
        sys.path.append(str(root))


def _fetch_transformers_suite(root: Path) -> None:
    version = transformers.__version__
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        result = subprocess.run(
            [*command, f"transformers=={version}", "--dest", tmp], capture_output=True, text=True, timeout=600
        )
        archives = list(Path(tmp).glob("transformers-*.tar.gz"))
        if result.returncode or not archives:
            pytest.fail(
                f"could not download the source distribution of transformers {version} for its common test suites "
                f"(pip download needs PyPI):\n{result.stderr[-2000:]}"
            )
        package = Path(tmp) / "staging" / "transformers_tests"
        package.mkdir(parents=True)
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                parts = Path(member.name).parts
                if member.isfile() and len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py"):
                    (package / parts[2]).write_bytes(archive.extractfile(member).read())
        (package / "__init__.py").write_text("")
        for relative, text in STAND_INS.items():
            path = package / relative
            path.parent.mkdir(exist_ok=True)
            (path.parent / "__init__.py").touch()
            path.write_text(text)
        shutil.rmtree(root, ignore_errors=True)
        (Path(tmp) / "staging").rename(root)
