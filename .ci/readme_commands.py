"""Print one of the README's two set-up commands (`main` or `test`), so that CI runs exactly what the README says.

The section "## Set-up on a fresh machine" holds two ```bash blocks: the main job first, then the tests.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SECTION = "## Set-up on a fresh machine"


def setup_commands(readme: str) -> dict[str, str]:
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    if len(blocks) != 2:
        raise SystemExit(
            f"README: '{SECTION}' must hold exactly two bash blocks (main job, tests), found {len(blocks)}"
        )
    return {"main": blocks[0].strip(), "test": blocks[1].strip()}


if __name__ == "__main__":
    print(setup_commands((Path(__file__).resolve().parents[1] / "README.md").read_text())[sys.argv[1]])
