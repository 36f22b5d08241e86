"""Print the installed versions of the libraries lumos_hf builds on (top of each CI pass)."""

from importlib.metadata import PackageNotFoundError, version

for name in ("torch", "transformers", "diffusers", "peft", "accelerate", "datasets", "huggingface-hub", "tokenizers"):
    try:
        print(f"  {name:16} {version(name)}")
    except PackageNotFoundError:
        print(f"  {name:16} (not installed)")
