"""Every example in the public docstrings runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import re

import pytest

MODULES = [
    "lumos_hf.configuration_lumos",
    "lumos_hf.modeling_lumos",
    "lumos_hf.processing_lumos",
    "lumos_hf.scheduling_ardf",
    "lumos_hf.training.collator",
    "lumos_hf.video_tokenizer.modeling_cosmos_dv",
    "lumos_hf.pipeline_lumos",
    "lumos_hf.hf_pipelines",
    "lumos_hf.lora_loader_lumos",
]


class MarkdownDocTestParser(doctest.DocTestParser):
    """Examples sit in Markdown code fences (as in transformers and diffusers): the fences are not output."""

    def parse(self, string, name="<string>"):
        return super().parse(re.sub(r"^[ \t]*```.*$", "", string, flags=re.MULTILINE), name)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(parser=MarkdownDocTestParser())
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [test for test in finder.find(module) if test.examples]
    assert tests, f"{name} has no docstring example"
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
