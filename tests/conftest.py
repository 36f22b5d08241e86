from __future__ import annotations

import logging
from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """Path inside `../shared` (beside the project root); fails clearly when it is missing."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the tests read the official fixtures and data from `../shared` beside the project "
            "root (see README, 'Tests')."
        )
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_path()


# Libraries whose deprecation notices must not be caused by our calls. transformers and diffusers often log them
# (`logger.warning_once`) instead of raising a `FutureWarning`, which `filterwarnings` in pyproject.toml cannot see.
DEPRECATION_LOGGERS = ("transformers", "diffusers", "peft", "accelerate", "datasets", "huggingface_hub")


class _DeprecationRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "deprecat" in message.lower():
            self.messages.append(f"{record.name}: {message}")


@pytest.fixture(autouse=True)
def fail_on_logged_deprecations():
    """Fail a test when a library logs a deprecation notice during it."""
    recorder = _DeprecationRecorder()
    loggers = [logging.getLogger(name) for name in DEPRECATION_LOGGERS]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)
    if recorder.messages:
        pytest.fail("deprecated usage logged by a library:\n" + "\n".join(recorder.messages))
