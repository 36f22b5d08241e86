"""`examples/quickstart.ipynb`: stored without outputs, and executed end to end (nbclient) on every run so that it
cannot rot: the demo model through `pipeline(...)` (T2V, T2I, I2V), a negative prompt, a LoRA trained, loaded and
compared."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_outputs_are_stripped_in_git(notebook):
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    nbformat.validate(notebook)


@pytest.mark.slow
def test_notebook_runs(notebook, tmp_path):
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [
        output for output in outputs if "image/png" in output.get("data", {}) or "image/gif" in output.get("data", {})
    ]
    assert len(images) >= 8  # strips and the animated preview of every section
    text = "".join(output.get("text", "") for output in outputs)
    assert "17 frames at 8 fps" in text and "active adapters: ['left']" in text
    assert (tmp_path / "preview.gif").stat().st_size > 0
