"""Cosmos discrete video tokenizer (DV4x8x8) as a diffusers model, and conversion of the official weights."""

from .fsq import FSQuantizer
from .modeling_cosmos_dv import CosmosDiscreteVideoTokenizer, CosmosDiscreteVideoTokenizerOutput

__all__ = ["CosmosDiscreteVideoTokenizer", "CosmosDiscreteVideoTokenizerOutput", "FSQuantizer"]
