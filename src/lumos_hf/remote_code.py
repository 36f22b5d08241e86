"""Hub packaging: write a saved pipeline folder's own code into it, so that it loads where `lumos_hf` is not installed.

`write_remote_code(pipeline, folder)` is the entry point (`LumosPipeline.save_pretrained(..., remote_code=True)` and
the release tooling call it). After it, the folder loads with `DiffusionPipeline.from_pretrained(folder,
trust_remote_code=True)` and `transformers.pipeline(task, model=folder, trust_remote_code=True)`.

diffusers copies a remote module, and only the files it imports relatively (one level, no recursion), into one flat
folder before running it. So every package module needed (the transitive closure of the package-relative imports)
is written flat into each folder, its relative imports rewritten to `from .module import ...`, and a small entry
module per folder imports all of them: `pipeline_lumos_remote.py` at the root (named by `model_index.json`'s
`_class_name`) and `lumos_<component>.py` in each component folder. transformers' `pipeline()` loads the model from
the root with `AutoModelForMaskedLM`: the transformer's weight files are hard-linked (else copied) there (the Hub stores
identical files once), and the tasks registered with transformers' `PIPELINE_REGISTRY` by this package are written
into the root `config.json` (`custom_pipelines`) with their modules. This module imports nothing from the package.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from transformers.pipelines import PIPELINE_REGISTRY

PIPELINE_ENTRY = "pipeline_lumos_remote"
_RELATIVE_IMPORT = re.compile(r"^(\s*from\s+)(\.+)([\w.]*)(\s+import\s)", flags=re.MULTILINE)


def write_remote_code(pipeline: Any, folder: str | os.PathLike) -> None:
    """Write the code of `pipeline` and of its components into `folder`, a folder `pipeline.save_pretrained` wrote
    (with `model_index.json`, one sub-folder per component and the transformer's `config.json` at the root)."""
    root = Path(folder)
    model_index_path = root / "model_index.json"
    model_index = json.loads(model_index_path.read_text())
    components = {name: type(module) for name, module in pipeline.components.items() if module is not None}
    for name, cls in {None: type(pipeline), **components}.items():
        entry = PIPELINE_ENTRY if name is None else f"lumos_{name}"
        modules = _write_flat_modules(cls.__module__, root if name is None else root / name)
        dependencies = "".join(f"from .{flat} import {first}  # noqa: F401\n" for flat, first in modules[:-1])
        ((root if name is None else root / name) / f"{entry}.py").write_text(
            f'"""Remote-code entry of {name or "the pipeline"} (written by lumos_hf.remote_code).\n\n'
            "diffusers copies only the modules an entry imports relatively: it lists them all.\n"
            f'"""\n\n{dependencies}from .{modules[-1][0]} import {cls.__name__}  # noqa: F401\n'
        )
        model_index["_class_name" if name is None else name] = [entry, cls.__name__]
    model_index_path.write_text(json.dumps(model_index, indent=2, sort_keys=True) + "\n")

    package = type(pipeline).__module__.partition(".")[0]
    # transformers names its own tasks' classes by strings (imported lazily); registered tasks hold the class.
    tasks = {
        task: entry["impl"]
        for task, entry in PIPELINE_REGISTRY.supported_tasks.items()
        if isinstance(entry["impl"], type) and entry["impl"].__module__.partition(".")[0] == package
    }
    for module in sorted({cls.__module__ for cls in tasks.values()}):
        _write_flat_modules(module, root)
    _link_weights(root / "transformer", root)
    transformer = pipeline.components["transformer"]
    config_path = root / "config.json"
    config = json.loads(config_path.read_text())
    config["auto_map"] = {
        "AutoConfig": _flat_name(type(transformer.config)),
        "AutoModel": _flat_name(type(transformer.model)),
        "AutoModelForMaskedLM": _flat_name(type(transformer)),
    }
    config["custom_pipelines"] = {
        task: {"impl": _flat_name(cls), "pt": ["AutoModelForMaskedLM"], "type": "multimodal"}
        for task, cls in tasks.items()
    }
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _flat_name(cls: type) -> str:
    """`module.Class` of a class whose module is written flat into the folder."""
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def _link_weights(source: Path, destination: Path) -> None:
    """Hard-link (else copy) the safetensors files of `source` into `destination`."""
    for weights in source.glob("*.safetensors*"):
        (destination / weights.name).unlink(missing_ok=True)
        try:
            os.link(weights, destination / weights.name)
        except OSError:
            shutil.copy2(weights, destination / weights.name)


def _write_flat_modules(module_name: str, folder: Path) -> list[tuple[str, str]]:
    """Write `module_name` and the package modules it imports relatively (transitively) flat into `folder`.

    Returns:
        `(flat module name, one name it defines)` per module written, dependencies first, `module_name` last.
    """
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dependency in _relative_dependencies(name):
            visit(dependency)
        ordered.append(name)

    visit(module_name)
    flat = {name: name.rsplit(".", 1)[-1] for name in ordered}
    if len(set(flat.values())) != len(flat):
        raise ValueError(f"modules with the same name cannot be flattened: {sorted(flat)}")
    written = []
    for name in ordered:
        path = Path(importlib.util.find_spec(name).origin)
        source = _RELATIVE_IMPORT.sub(
            lambda m, name=name, path=path: f"{m[1]}.{flat[_resolve(name, path, m[2], m[3])]}{m[4]}",
            path.read_text(),
        )
        (folder / f"{flat[name]}.py").write_text(source)
        tree = ast.parse(source)
        first = next(n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)))
        written.append((flat[name], first))
    return written


def _relative_dependencies(module_name: str) -> list[str]:
    """Full names of the modules that `module_name` imports relatively (anywhere in the file)."""
    path = Path(importlib.util.find_spec(module_name).origin)
    return [_resolve(module_name, path, m[2], m[3]) for m in _RELATIVE_IMPORT.finditer(path.read_text())]


def _resolve(module_name: str, path: Path, dots: str, relative: str) -> str:
    """The full module name of `from {dots}{relative} import ...` written in `module_name` (file `path`)."""
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    for _ in range(len(dots) - 1):
        package = package.rpartition(".")[0]
    full = f"{package}.{relative}" if relative else package
    if Path(importlib.util.find_spec(full).origin).name == "__init__.py":
        raise ValueError(f"{module_name} imports the package {full}: import from its modules for the remote code")
    return full
