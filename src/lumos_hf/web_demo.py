"""A Gradio web demo of a [`LumosPipeline`] (`lumos-hf demo`; the optional extra `lumos_hf[demo]`): prompt, negative
prompt, seed, steps, guidance, size and an optional first image (image-to-video); a progress bar per latent frame; the
video shown playable and downloadable; bad input answered with a message on the page, never a traceback.

```python
from lumos_hf import LumosPipeline, demo
from lumos_hf.web_demo import build_demo

build_demo(LumosPipeline.from_pretrained(demo.model_path())).launch()  # http://127.0.0.1:7860
```
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from .pipeline_lumos import LumosPipeline
from .sequence_format import num_latent_frames

EXAMPLE_PROMPT = "a red circle moves right on a black background"


def _gradio():
    try:
        import gradio
    except ImportError:
        raise ImportError("the web demo needs gradio: pip install 'lumos_hf[demo]'") from None
    return gradio


def generate_video(
    pipe: LumosPipeline,
    prompt: str,
    negative_prompt: str,
    seed: Any,
    steps: Any,
    guidance: Any,
    height: Any,
    width: Any,
    image: Any = None,
    progress: Any = None,
) -> tuple[str | None, str]:
    """One request of the demo: `(path of the mp4, "")`, or `(None, message)` for bad input. `progress(fraction,
    desc)` is called after each latent frame."""
    from diffusers.utils import export_to_video

    if not isinstance(prompt, str) or not prompt.strip():
        return None, "Enter a prompt."
    try:
        values = {
            name: int(value)
            for name, value in (("seed", seed), ("steps", steps), ("height", height), ("width", width))
        }
        guidance = float(guidance)
    except (TypeError, ValueError, OverflowError):
        return None, "Seed, steps, height and width must be whole numbers, guidance a number."
    defaults = pipe.generation_defaults
    num_frames = defaults["num_frames"]
    latent_frames = num_latent_frames(num_frames)
    kwargs = {
        "negative_prompt": negative_prompt.strip() or None if isinstance(negative_prompt, str) else None,
        "image": None,
        "height": values["height"],
        "width": values["width"],
        "num_frames": num_frames,
        "num_inference_steps": values["steps"],
        "guidance_scale": guidance,
        "generator": torch.Generator().manual_seed(values["seed"]),
        "output_type": "pil",
    }
    frames: list = []
    try:
        if image is not None:  # resized and centre-cropped to the requested size
            from .video_processing_lumos import bucket_crop

            kwargs["image"] = bucket_crop(image.convert("RGB"), size=(values["width"], values["height"]))[0]
        for chunk in pipe.stream(prompt, **kwargs):
            frames.extend(chunk.frames[0])
            if progress is not None:
                done = num_latent_frames(len(frames))
                progress(done / latent_frames, desc=f"latent frame {done}/{latent_frames}")
    except (TypeError, ValueError) as error:  # the pipeline's argument checks: say what is wrong
        return None, f"Cannot generate: {error}"
    path = Path(tempfile.mkdtemp(prefix="lumos_demo_")) / "lumos.mp4"
    export_to_video(frames, str(path), fps=defaults["fps"])
    return str(path), ""


def build_demo(pipe: LumosPipeline, title: str = "Lumos-1"):
    """The Gradio `Blocks` app around `pipe`, with the pipeline's generation defaults in its controls."""
    gr = _gradio()
    pipe.set_progress_bar_config(disable=True)
    defaults = pipe.generation_defaults
    guidance = defaults["guidance_scale"] if defaults["guidance_scale"] is not None else 15.0

    def run(prompt, negative_prompt, seed, steps, guidance, height, width, image, progress=gr.Progress()):  # noqa: B008 (gradio)
        return generate_video(pipe, prompt, negative_prompt, seed, steps, guidance, height, width, image, progress)

    with gr.Blocks(title=title) as app:
        gr.Markdown(f"# {title}\nAutoregressive text-to-video and image-to-video (AR-DF sampling, frame by frame).")
        with gr.Row():
            with gr.Column():
                prompt = gr.Textbox(label="Prompt", value=EXAMPLE_PROMPT, elem_id="prompt")
                negative = gr.Textbox(label="Negative prompt", elem_id="negative_prompt")
                with gr.Row():
                    seed = gr.Number(label="Seed", value=0, precision=0, elem_id="seed")
                    steps = gr.Number(
                        label="Steps per frame", value=defaults["num_inference_steps"], precision=0, elem_id="steps"
                    )
                    guidance_box = gr.Number(label="Guidance", value=guidance, elem_id="guidance")
                with gr.Row():
                    height = gr.Number(label="Height", value=defaults["height"], precision=0, elem_id="height")
                    width = gr.Number(label="Width", value=defaults["width"], precision=0, elem_id="width")
                image = gr.Image(label="First frame (optional: image-to-video)", type="pil", elem_id="image")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column():
                video = gr.Video(label="Video", elem_id="video", autoplay=True)
                message = gr.Markdown(elem_id="message")
        button.click(run, [prompt, negative, seed, steps, guidance_box, height, width, image], [video, message])
    return app
