"""The upstream suites mark tests with their own markers (transformers: flash attention, compile, ...; diffusers:
lora, memory, quantization, ...): register them, as their own conftest files do."""

from __future__ import annotations

import pytest

UPSTREAM_MARKERS = (
    # transformers
    "accelerate_tests",
    "flash_attn_test",
    "flash_attn_3_test",
    "flash_attn_4_test",
    "torch_compile_test",
    "torch_export_test",
    # diffusers
    "attention",
    "autoround",
    "big_accelerator",
    "bitsandbytes",
    "cache",
    "compile",
    "context_parallel",
    "cpu_offload",
    "gguf",
    "group_offload",
    "ip_adapter",
    "lora",
    "memory",
    "modelopt",
    "nightly",
    "quantization",
    "quanto",
    "sdnq",
    "single_file",
    "tensor_parallel",
    "torchao",
    "training",
)


def pytest_configure(config: pytest.Config) -> None:
    for marker in UPSTREAM_MARKERS:
        config.addinivalue_line("markers", f"{marker}: a marker of the upstream suites")
