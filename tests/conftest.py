from __future__ import annotations

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
