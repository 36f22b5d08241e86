"""`lumos-hf generate`: text-to-image, text-to-video, image-to-video and video continuation from the command line."""

from __future__ import annotations

import argparse

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
DTYPES = ("float32", "bfloat16", "float16")
BUCKET_TARGET_SIZE = 352  # the official 256p bucket family (448x256 for 16:9)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate an image or a video with a LumosPipeline folder",
        description="Generate an image (--frames 1, .png/.jpg output) or a video (.mp4/.gif) from a prompt, "
        "optionally from a first image (--image) or the first frames of a video (--video).",
    )
    parser.add_argument("prompt", help="the caption")
    parser.add_argument("--model", required=True, help="LumosPipeline folder (save_pretrained) or Hub id")
    parser.add_argument("--output", required=True, help="output file: .mp4 / .gif for videos, .png / .jpg for images")
    parser.add_argument("--negative-prompt", default=None, help="replaces the empty unconditional branch")
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--image", default=None, help="image-to-video: the first frame (resized and centre-cropped)")
    given.add_argument("--video", default=None, help="continuation: a video whose first 1 + 4k frames are kept")
    parser.add_argument("--height", type=int, default=None, help="multiple of 32 (default 256, or the --image bucket)")
    parser.add_argument("--width", type=int, default=None, help="multiple of 32 (default 448, or the --image bucket)")
    parser.add_argument("--frames", type=int, default=25, help="1 + 4k pixel frames; 1 makes an image (default 25)")
    parser.add_argument("--fps", type=int, default=12, help="frames per second (default 12)")
    parser.add_argument("--steps", type=int, default=50, help="AR-DF steps per latent frame (default 50)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default 15 video, 16 image)")
    parser.add_argument("--history-mask-ratio", type=float, default=0.7, help="rho in [0, 1) (default 0.7)")
    parser.add_argument("--history-mask", choices=("periodic", "random"), default="periodic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="default: bfloat16 on CUDA, else float32")
    parser.add_argument("--device", default=None, help="default: cuda when available")
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow a folder's own code (Hub-style remote-code layout)"
    )
    parser.set_defaults(func=run)


def load_frames(args: argparse.Namespace):
    """The --image / --video frames as uint8 `[F, H, W, 3]` cropped to --height x --width (or the nearest bucket)."""
    from lumos_hf.video_io import bucket_crop, read_video

    if args.image:
        from PIL import Image

        frames = [Image.open(args.image).convert("RGB")]
    else:
        frames = read_video(args.video, fps=args.fps)
        frames = frames[: 1 + 4 * ((len(frames) - 1) // 4)]
    size = (args.width, args.height) if args.width and args.height else None
    if size is None and (args.width or args.height):
        raise ValueError("--height and --width must be given together with --image / --video (or neither)")
    return bucket_crop(frames, target_size=BUCKET_TARGET_SIZE, size=size)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch
    from diffusers.utils import export_to_gif, export_to_video

    from lumos_hf.pipeline_lumos import LumosPipeline

    output = Path(args.output)
    is_image_file = output.suffix.lower() in IMAGE_SUFFIXES
    if is_image_file and args.frames != 1:
        raise ValueError(f"--output {output} is an image file: use --frames 1, or a .mp4 / .gif output for videos")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.startswith("cuda") else "float32"))
    pipe = LumosPipeline.from_pretrained(args.model, dtype=dtype, trust_remote_code=args.trust_remote_code)
    if not device.startswith("cuda"):
        pipe.video_tokenizer.to(torch.float32)  # torch's CPU 3D pooling has no bf16 / fp16 kernels
    pipe.to(device)
    frames = load_frames(args) if args.image or args.video else None
    result = pipe(
        args.prompt,
        negative_prompt=args.negative_prompt,
        image=frames[0] if args.image else None,
        video=frames if args.video else None,
        height=args.height,
        width=args.width,
        num_frames=args.frames,
        fps=args.fps,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        history_mask_ratio=args.history_mask_ratio,
        history_mask=args.history_mask,
        generator=torch.Generator().manual_seed(args.seed),
        output_type="pil",
    ).frames[0]
    output.parent.mkdir(parents=True, exist_ok=True)
    if is_image_file:
        result[0].save(output)
    elif output.suffix.lower() == ".gif":
        export_to_gif(result, str(output), fps=args.fps)
    else:
        export_to_video(result, str(output), fps=args.fps)
    print(f"wrote {len(result)} frame(s) of {result[0].size[0]}x{result[0].size[1]} to {output}")
    return 0
