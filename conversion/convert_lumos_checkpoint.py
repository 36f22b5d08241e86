"""Convert an official Lumos-1 checkpoint folder into a `LumosForVideoGeneration` folder.

    python conversion/convert_lumos_checkpoint.py --input OFFICIAL_DIR --output OUT_DIR [--dtype bfloat16]

Same as `lumos-hf convert-model`.
"""

from lumos_hf.cli import main

if __name__ == "__main__":
    import sys

    raise SystemExit(main(["convert-model", *sys.argv[1:]]))
