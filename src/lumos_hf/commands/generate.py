"""`lumos-hf generate`: text-to-image, text-to-video, image-to-video and video continuation from the command line."""

from __future__ import annotations

import argparse

from ..sequence_format import DEFAULT_BUCKET_TARGET_SIZE

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
DTYPES = ("float32", "bfloat16", "float16")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate an image or a video (with the shipped shapes demo model unless --model is given)",
        description="Generate an image (--frames 1, .png/.jpg output) or a video (.mp4/.gif) from a prompt, "
        "optionally from a first image (--image) or the first frames of a video (--video). Without --model, the "
        "shapes demo model shipped in the package is used (prompts such as 'a red circle moves left on a black "
        "background'). Size, frames, fps, steps and guidance default to the model's own generation settings.",
    )
    parser.add_argument("prompt", help="the caption")
    parser.add_argument(
        "--model", default=None, help="LumosPipeline folder (save_pretrained) or Hub id (default: the demo model)"
    )
    parser.add_argument("--output", required=True, help="output file: .mp4 / .gif for videos, .png / .jpg for images")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument("--negative-prompt", default=None, help="replaces the empty unconditional branch")
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--image", default=None, help="image-to-video: the first frame (resized and centre-cropped)")
    given.add_argument("--video", default=None, help="continuation: a video whose first 1 + 4k frames are kept")
    parser.add_argument(
        "--height", type=int, default=None, help="multiple of 32 (default: the model's, or the --image bucket)"
    )
    parser.add_argument(
        "--width", type=int, default=None, help="multiple of 32 (default: the model's, or the --image bucket)"
    )
    parser.add_argument(
        "--frames", type=int, default=None, help="1 + 4k pixel frames; 1 makes an image (default: the model's)"
    )
    parser.add_argument("--fps", type=int, default=None, help="frames per second (default: the model's)")
    parser.add_argument("--steps", type=int, default=None, help="AR-DF steps per latent frame (default: the model's)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
    parser.add_argument(
        "--history-mask-ratio", type=float, default=None, help="rho in [0, 1) (default: the model's, else 0.7)"
    )
    parser.add_argument(
        "--history-mask", choices=("periodic", "random"), default=None, help="(default: the model's, else periodic)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="default: bfloat16 on CUDA, else float32")
    parser.add_argument("--device", default=None, help="default: cuda when available")
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow a folder's own code (Hub-style remote-code layout)"
    )
    parser.set_defaults(func=run)


def load_frames(args: argparse.Namespace, fps: int):
    """The --image / --video frames as uint8 `[F, H, W, 3]` cropped to --height x --width (or the nearest bucket)."""
    from ..data.video_io import read_video
    from ..video_processing_lumos import bucket_crop

    if args.image:
        from PIL import Image

        frames = [Image.open(args.image).convert("RGB")]
    else:
        frames = read_video(args.video, fps=fps)
        frames = frames[: 1 + 4 * ((len(frames) - 1) // 4)]
    size = (args.width, args.height) if args.width and args.height else None
    if size is None and (args.width or args.height):
        raise ValueError("--height and --width must be given together with --image / --video (or neither)")
    return bucket_crop(frames, target_size=DEFAULT_BUCKET_TARGET_SIZE, size=size)


def stream_with_progress(pipe, prompt: str, latent_frames: int, **kwargs) -> list:
    """The PIL frames of `pipe.stream(prompt, **kwargs)`, with a progress bar per latent frame (sampled and decoded)
    and the time to the first decoded frame."""
    import time

    from tqdm.auto import tqdm

    from ..sequence_format import num_latent_frames

    pipe.set_progress_bar_config(disable=True)  # the bar below counts latent frames instead of steps
    frames: list = []
    start = time.perf_counter()
    with tqdm(total=latent_frames, unit="latent frame", desc="generating") as bar:
        for chunk in pipe.stream(prompt, **kwargs):
            if not frames:
                bar.write(f"first frame decoded after {time.perf_counter() - start:.1f} s")
            frames.extend(chunk.frames[0])
            bar.update(num_latent_frames(len(frames)) - bar.n)
    return frames


def run(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path

    import torch
    from diffusers.utils import export_to_gif, export_to_video

    from ..demo import model_path
    from ..pipeline_lumos import LumosPipeline
    from ..sequence_format import num_latent_frames

    output = Path(args.output)
    is_image_file = output.suffix.lower() in IMAGE_SUFFIXES
    if not is_image_file and output.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"--output must end in .mp4, .gif or one of {IMAGE_SUFFIXES}, got {output.name!r}")
    if is_image_file and args.frames not in (None, 1):
        raise ValueError(f"--output {output} is an image file: use --frames 1, or a .mp4 / .gif output for videos")
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"--output {output} exists; pass --overwrite to replace it")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.startswith("cuda") else "float32"))
    model = args.model if args.model is not None else model_path()
    pipe = LumosPipeline.from_pretrained(model, dtype=dtype, trust_remote_code=args.trust_remote_code)
    if not device.startswith("cuda") and pipe.video_tokenizer.dtype != torch.float32:
        pipe.video_tokenizer.to(torch.float32)  # torch's CPU 3D pooling has no bf16 / fp16 kernels
    pipe.to(device)
    defaults = pipe.generation_defaults
    num_frames = 1 if is_image_file else args.frames
    fps = args.fps if args.fps is not None else defaults["fps"]
    frames = load_frames(args, fps) if args.image or args.video else None
    kwargs = {
        "negative_prompt": args.negative_prompt,
        "image": frames[0] if args.image else None,
        "video": frames if args.video else None,
        "height": args.height,
        "width": args.width,
        "num_frames": num_frames,
        "fps": fps,
        "num_inference_steps": args.steps,
        "guidance_scale": args.guidance,
        "history_mask_ratio": args.history_mask_ratio,
        "history_mask": args.history_mask,
        "generator": torch.Generator().manual_seed(args.seed),
        "output_type": "pil",
    }
    latent_frames = num_latent_frames(num_frames or defaults["num_frames"])
    result = stream_with_progress(pipe, args.prompt, latent_frames, **kwargs)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then renamed: an interrupted run never leaves a truncated file.
    handle, staging = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=output.suffix, dir=output.parent)
    os.close(handle)
    try:
        if is_image_file:
            result[0].save(staging)
        elif output.suffix.lower() == ".gif":
            export_to_gif(result, staging, fps=fps)
        else:
            export_to_video(result, staging, fps=fps)
        os.replace(staging, output)
    finally:
        Path(staging).unlink(missing_ok=True)
    print(f"wrote {len(result)} frame(s) of {result[0].size[0]}x{result[0].size[1]} to {output}")
    return 0
