"""Print pip constraints that pin every dependency of pyproject.toml to its lower bound (`pkg>=X` -> `pkg==X`).

Every runtime dependency must declare a floor; CI installs with these constraints in its second pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
for requirement in project["dependencies"]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)", requirement)
    name, specifiers = match[1], match[3]
    floor = re.search(r">=\s*([^,\s]+)", specifiers)
    if floor is None:
        raise SystemExit(f"pyproject.toml: {requirement!r} has no lower bound (>=); every dependency needs one")
    print(f"{name}=={floor[1]}")
