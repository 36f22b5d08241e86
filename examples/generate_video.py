"""Generate a video, an image or an image-to-video clip with LumosPipeline.

    python examples/generate_video.py --model path/to/lumos-pipeline --prompt "A hawk turns its head" --output hawk.mp4
    python examples/generate_video.py --model path/to/lumos-pipeline --image first.png --prompt "..." --output i2v.mp4
    python examples/generate_video.py --num-frames 1 --output image.png   # tiny random components: a smoke test

Without --model, tiny random components are built (no download; runs on a CPU in seconds; the output is noise).
"""

from __future__ import annotations

import argparse

import torch
from diffusers.utils import export_to_video
from PIL import Image

from lumos_hf.configuration_lumos import LumosConfig
from lumos_hf.modeling_lumos import LumosForVideoGeneration
from lumos_hf.pipeline_lumos import LumosPipeline
from lumos_hf.processing_lumos import LumosProcessor
from lumos_hf.scheduling_ardf import ARDFScheduler
from lumos_hf.testing import build_tiny_chameleon_tokenizer
from lumos_hf.video_processing_lumos import bucket_crop
from lumos_hf.video_tokenizer import CosmosDiscreteVideoTokenizer


def tiny_pipeline() -> LumosPipeline:
    config = LumosConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
    return LumosPipeline(
        transformer=LumosForVideoGeneration(config),
        video_tokenizer=CosmosDiscreteVideoTokenizer(channels=16),
        processor=LumosProcessor(tokenizer=build_tiny_chameleon_tokenizer()),
        scheduler=ARDFScheduler(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="LumosPipeline folder or Hub id (default: tiny random)")
    parser.add_argument("--prompt", default="A small bird flying over the sea")
    parser.add_argument("--image", default=None, help="first frame for image-to-video")
    parser.add_argument("--output", default="lumos.mp4", help=".mp4 for videos, .png for --num-frames 1")
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--num-frames", type=int, default=25)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.model:
        pipe = LumosPipeline.from_pretrained(args.model, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    else:
        pipe = tiny_pipeline()
        args.height, args.width, args.steps = args.height or 32, args.width or 64, min(args.steps, 4)
    pipe.to(device)
    image = None
    if args.image:
        size = (args.width, args.height) if args.width and args.height else None
        image = bucket_crop(Image.open(args.image).convert("RGB"), target_size=352, size=size)[0]
    frames = pipe(
        args.prompt,
        image=image,
        height=args.height,
        width=args.width,
        num_frames=args.num_frames,
        fps=args.fps,
        num_inference_steps=args.steps,
        generator=torch.Generator().manual_seed(args.seed),
        output_type="pil",
    ).frames[0]
    if args.num_frames == 1:
        frames[0].save(args.output)
    else:
        export_to_video(frames, args.output, fps=args.fps)
    print(f"wrote {len(frames)} frame(s) of {frames[0].size[0]}x{frames[0].size[1]} to {args.output}")


if __name__ == "__main__":
    main()
