"""
Convert NVIDIA's official Cosmos discrete video tokenizer (e.g. `Cosmos-Tokenizer-DV4x8x8`) to a
`CosmosDiscreteVideoTokenizer` saved with `save_pretrained`.

    python conversion/convert_cosmos_tokenizer.py --encoder encoder.jit --decoder decoder.jit --output OUT_DIR

Same as `lumos-hf convert-tokenizer`. `.jit` files are TorchScript archives read with `torch.jit.load`: convert only
trusted files (NVIDIA's releases). State dicts with the official key names are accepted as `.safetensors`.
"""

from __future__ import annotations

import argparse

from lumos_hf.commands.convert_tokenizer import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
