"""Convert the official Lumos-1 `text_tokenizer.json` into a LumosProcessor folder.

Usage: python conversion/convert_text_tokenizer.py path/to/text_tokenizer.json OUTPUT_DIR
(the same as `lumos-hf convert-text-tokenizer path/to/text_tokenizer.json OUTPUT_DIR`).
"""

from lumos_hf.commands.convert_text_tokenizer import main

if __name__ == "__main__":
    raise SystemExit(main())
