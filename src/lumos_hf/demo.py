"""The shapes demo model shipped inside the package: a small Lumos pipeline trained by `examples/shapes/`.

It generates 17-frame 64x64 videos at 8 fps of one coloured shape (circle, square, triangle) moving on a black or gray
background, from prompts such as "a red circle moves left on a black background":

```python
>>> from lumos_hf import LumosPipeline, demo
>>> pipe = LumosPipeline.from_pretrained(demo.model_path())
>>> video = pipe("a red circle moves left on a black background").frames[0]  # doctest: +SKIP
```
"""

from __future__ import annotations

from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent / "demo_model"


def model_path() -> Path:
    """Folder of the shipped demo `LumosPipeline` (load it with `LumosPipeline.from_pretrained`)."""
    if not (MODEL_DIR / "model_index.json").is_file():
        raise FileNotFoundError(
            f"the demo model is missing from {MODEL_DIR}: reinstall lumos_hf, or rebuild it with examples/shapes/"
        )
    return MODEL_DIR
