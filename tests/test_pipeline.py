"""LumosPipeline on tiny random components: exactness against the naive reference sampler, batching, efficiency
structure (one batched forward per step, video logits only), shapes, determinism, callbacks, save/load, errors."""

from __future__ import annotations

import copy
import re

import numpy as np
import PIL.Image
import pytest
import torch
from naive_sampler import naive_sample
from utils import PROMPTS, SMALL, VOCAB, build_tiny_pipeline, generators, random_image, video_sequence

from lumos_hf import LumosCache
from lumos_hf.pipeline_lumos import EXAMPLE_DOC_STRING, LumosPipeline, LumosPipelineOutput
from lumos_hf.scheduling_ardf import ARDFScheduler, guided_logits, make_history_mask


@pytest.fixture(scope="module")
def pipe() -> LumosPipeline:
    return build_tiny_pipeline()


@pytest.fixture(scope="module")
def pipe64(pipe) -> LumosPipeline:
    """float64 transformer: cached and full forwards agree to ~1e-15, so sampled tokens agree exactly."""
    pipe64 = copy.deepcopy(pipe)
    pipe64.transformer.to(torch.float64)
    return pipe64


# ---------------------------------------------------------------------------------------------------------------------
# Exactness: KV-cached, batched, guided generation == the naive reference sampler


@pytest.mark.parametrize(
    ("prompts", "history_mask", "guidance_scale", "negative_prompt", "steps"),
    [
        (PROMPTS[:2], "periodic", 3.0, None, 2),  # two prompts of different lengths: left padding
        (PROMPTS[1:2], "random", 5.0, "blurry", 2),
        (PROMPTS[:1], "periodic", 1.0, None, 3),  # no unconditional branch
    ],
)
def test_cached_generation_equals_reference(pipe64, prompts, history_mask, guidance_scale, negative_prompt, steps):
    kwargs = {"num_frames": 9, "num_inference_steps": steps, "guidance_scale": guidance_scale}
    kwargs |= {"history_mask": history_mask, "history_mask_ratio": 0.5}
    gens = generators(len(prompts))
    frames = pipe64(prompts, negative_prompt=negative_prompt, generator=gens, **SMALL, **kwargs).frames
    assert frames.shape == (len(prompts), 3, 4, 8)
    for index, prompt in enumerate(prompts):
        expected = naive_sample(
            pipe64.transformer,
            pipe64.processor,
            ARDFScheduler(),
            prompt,
            32,
            64,
            negative_prompt=negative_prompt,
            fps=4,
            generator=generators(1, index)[0],
            all_position_logits=False,
            **kwargs,
        )
        assert torch.equal(frames[index], expected)


def test_cached_generation_equals_reference_beyond_1024_tokens(pipe64):
    """The KV cache holds the whole sequence, however long (no sliding window)."""
    prompt = "A bird" + " flying over the sea" * 260
    assert len(pipe64.processor.build_prompt_ids(prompt, 32, 64, 5, 4)) > 1100
    kwargs = {"num_frames": 5, "num_inference_steps": 2, "guidance_scale": 1.0}
    frames = pipe64(prompt, generator=generators(1), **SMALL, **kwargs).frames
    expected = naive_sample(
        pipe64.transformer,
        pipe64.processor,
        ARDFScheduler(),
        prompt,
        32,
        64,
        fps=4,
        generator=generators(1)[0],
        all_position_logits=False,
        **kwargs,
    )
    assert torch.equal(frames[0], expected)


@pytest.mark.parametrize("given", ["image", "video"])
def test_conditioned_generation_equals_reference(pipe64, given):
    condition = random_image() if given == "image" else random_image(frames=5)
    kwargs = {"num_frames": 9 if given == "image" else 13, "num_inference_steps": 2, "guidance_scale": 2.0}
    frames = pipe64(PROMPTS[0], generator=generators(1), **{given: condition}, **SMALL, **kwargs).frames
    latents = pipe64.encode_conditioning(condition, given, 32, 64, kwargs["num_frames"], 1)[0]
    assert frames.shape == (1, 3 if given == "image" else 4, 4, 8)
    assert torch.equal(frames[0, : latents.shape[0]], latents)
    expected = naive_sample(
        pipe64.transformer,
        pipe64.processor,
        ARDFScheduler(),
        PROMPTS[0],
        32,
        64,
        fps=4,
        conditioning_latents=latents,
        generator=generators(1)[0],
        all_position_logits=given == "video",  # the official all-position projection, once
        **kwargs,
    )
    assert torch.equal(frames[0], expected)


def test_batch_of_prompts_equals_prompts_one_by_one(pipe64):
    kwargs = {"num_frames": 5, "num_inference_steps": 3, "guidance_scale": 4.0, "history_mask": "random", **SMALL}
    batch = pipe64(PROMPTS, num_videos_per_prompt=2, generator=generators(6), **kwargs).frames
    assert batch.shape == (6, 2, 4, 8)
    for index in range(6):
        alone = pipe64(PROMPTS[index // 2], generator=generators(1, index), **kwargs).frames
        assert torch.equal(batch[index], alone[0])


@pytest.mark.parametrize("guidance_scale", [1.0, 3.0])
def test_one_batched_forward_per_step_projecting_masked_positions_only(pipe, guidance_scale):
    """The prompt is encoded once; each step is one forward over the frame only (both guidance branches batched),
    then guidance on the hidden states and one projection onto the video rows at the still-masked video positions;
    each finished frame but the last is committed once."""
    calls, kept = [], []
    model, frame_logits = pipe.transformer.model, pipe._frame_logits
    original = model.forward

    def spy(input_ids, **kwargs):
        calls.append((tuple(input_ids.shape), kwargs))
        return original(input_ids, **kwargs)

    def spy_logits(frame, attention_mask, cache, keep):
        logits = frame_logits(frame, attention_mask, cache, keep)
        kept.append((keep.numel(), tuple(logits.shape)))
        return logits

    model.forward, pipe._frame_logits = spy, spy_logits
    try:
        pipe(PROMPTS[:2], num_frames=9, num_inference_steps=4, guidance_scale=guidance_scale, **SMALL)
    finally:
        del model.forward, pipe._frame_logits
    rows = 4 if guidance_scale > 1 else 2
    frame_length = 4 * (8 + 1) + 4
    assert len(calls) == 1 + 3 * 4 + 2 and calls[0][0][0] == rows  # the prompt, once
    for shape, kwargs in calls[1:]:
        assert shape == (rows, frame_length) and kwargs["use_cache"]
    masked_before = [32, *pipe.scheduler.masked_counts(32)[:-1]]
    assert len(kept) == 12
    for step, (count, shape) in enumerate(kept):
        assert shape == (2, count, VOCAB)  # guided: one row per video
        assert masked_before[step % 4] <= count <= 32 and (step % 4 or count == 32)
    assert kept[3][0] < 32  # the last step of a frame projects only the few positions still masked


def test_frame_logits_equal_logit_space_guidance(pipe):
    """Guidance before the linear head gives the logits of logit-space guidance (within fp32 rounding)."""
    ids = torch.tensor([video_sequence(5, 1), video_sequence(5, 1, seed=3)])
    keep = torch.arange(ids.shape[1] - 20, ids.shape[1] - 4)
    pipe._guidance_scale = 7.0
    with torch.no_grad():
        expected = guided_logits(pipe.transformer(ids, video_logits_only=True, logits_to_keep=keep).logits, 7.0)
        cache = LumosCache(config=pipe.transformer.config)
        got = pipe._frame_logits(ids, torch.ones_like(ids), cache, keep)
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_history_mask_patterns():
    periodic = make_history_mask("periodic", 0.7, 2, 36)
    count = round(0.7 * 36)
    expected = torch.zeros(36, dtype=torch.bool)
    expected[[round(i * 36 / count) for i in range(count)]] = True
    assert torch.equal(periodic, expected.expand(2, -1)) and int(periodic[0].sum()) == count
    # The official code masks max(1, round(ratio * N)) tokens: one (the first) even at ratio 0.
    assert make_history_mask("periodic", 0.0, 1, 36).nonzero()[:, 1].tolist() == [0]
    draws = make_history_mask("random", 0.7, 2, 4000, generator=torch.Generator().manual_seed(0))
    assert abs(draws.float().mean().item() - 0.7) < 0.03 and not torch.equal(draws[0], draws[1])
    one = make_history_mask("random", 0.5, 2, 50, generator=generators(2))
    assert torch.equal(one[1], make_history_mask("random", 0.5, 1, 50, generator=generators(1, 1))[0])


# ---------------------------------------------------------------------------------------------------------------------
# Modes, shapes and output types


def test_text_to_image_and_video_shapes(pipe):
    image = pipe(PROMPTS[:2], height=32, width=64, num_frames=1, num_inference_steps=2).frames
    assert isinstance(image, np.ndarray) and image.shape == (2, 1, 32, 64, 3)
    assert image.min() >= 0 and image.max() <= 1
    video = pipe(PROMPTS[0], height=64, width=32, num_frames=9, num_inference_steps=2, num_videos_per_prompt=2)
    assert isinstance(video, LumosPipelineOutput) and video.frames.shape == (2, 9, 64, 32, 3)


def test_output_types(pipe):
    kwargs = {"height": 32, "width": 64, "num_frames": 5, "num_inference_steps": 2}
    tokens = pipe(PROMPTS[0], output_type="tokens", generator=generators(1), **kwargs).frames
    assert tokens.dtype == torch.long and tokens.shape == (1, 2, 4, 8) and tokens.min() >= 0 and tokens.max() < VOCAB
    pt = pipe(PROMPTS[0], output_type="pt", generator=generators(1), **kwargs).frames
    assert isinstance(pt, torch.Tensor) and pt.shape == (1, 5, 3, 32, 64)
    decoded = pipe.video_tokenizer.decode(tokens)
    torch.testing.assert_close(pt, ((decoded + 1) / 2).clamp(0, 1).permute(0, 2, 1, 3, 4))
    pil = pipe(PROMPTS[0], output_type="pil", generator=generators(1), **kwargs).frames
    assert len(pil) == 1 and len(pil[0]) == 5 and all(isinstance(f, PIL.Image.Image) for f in pil[0])
    assert pil[0][0].size == (64, 32)
    (frames,) = pipe(PROMPTS[0], output_type="np", return_dict=False, generator=generators(1), **kwargs)
    assert frames.shape == (1, 5, 32, 64, 3)


def test_image_to_video_first_frame_is_the_image(pipe):
    image = random_image()
    expected = pipe.video_tokenizer.encode(torch.from_numpy(image).permute(2, 0, 1)[None, :, None] / 127.5 - 1)
    for condition in (image, PIL.Image.fromarray(image), [image, image]):
        frames = pipe(PROMPTS[:2], image=condition, num_frames=9, num_inference_steps=2, **SMALL).frames
        assert frames.shape == (2, 3, 4, 8)
        assert torch.equal(frames[:, 0], expected[0, 0].expand(2, -1, -1))
    # The size defaults to the image's.
    assert pipe(PROMPTS[0], image=image, num_frames=5, num_inference_steps=1, output_type="np").frames.shape == (
        1,
        5,
        32,
        64,
        3,
    )


def test_video_continuation_keeps_the_given_frames(pipe):
    clip = random_image(frames=5)
    frames = [PIL.Image.fromarray(f) for f in clip]
    expected = pipe.video_tokenizer.encode(torch.from_numpy(clip).permute(3, 0, 1, 2)[None] / 127.5 - 1)[0]
    out = pipe(PROMPTS[0], video=frames, num_frames=17, num_inference_steps=2, **SMALL).frames
    assert out.shape == (1, 5, 4, 8) and torch.equal(out[0, :2], expected)
    as_tensor = torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 127.5 - 1
    out = pipe(PROMPTS[0], video=as_tensor, num_frames=9, num_inference_steps=2, **SMALL).frames
    assert torch.equal(out[0, :2], expected)


def test_determinism_with_generator(pipe):
    kwargs = {"num_frames": 5, "num_inference_steps": 3, **SMALL}
    first = pipe(PROMPTS[:2], generator=torch.Generator().manual_seed(7), **kwargs).frames
    again = pipe(PROMPTS[:2], generator=torch.Generator().manual_seed(7), **kwargs).frames
    other = pipe(PROMPTS[:2], generator=torch.Generator().manual_seed(8), **kwargs).frames
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_callback_on_step_end(pipe):
    seen = []

    def callback(pipeline, i, t, callback_kwargs):
        seen.append((i, t, callback_kwargs["latents"].shape, callback_kwargs["logits"].shape))
        assert pipeline is pipe and pipeline.num_timesteps == 6 and pipeline.current_timestep == t
        assert callback_kwargs["is_masked"].shape == (2, 4, 8)
        return {"latents": torch.full_like(callback_kwargs["latents"], 5)}

    frames = pipe(
        PROMPTS[:2],
        num_frames=5,
        num_inference_steps=3,
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents", "is_masked", "logits"],
        **SMALL,
    ).frames
    assert [(i, t) for i, t, _, _ in seen] == [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1), (5, 2)]
    assert all(s == (2, 2, 4, 8) and lg == (2, 4, 8, VOCAB) for _, _, s, lg in seen)
    assert (frames == 5).all()  # the callback's latents replaced the last step's


def test_save_and_load(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    loaded = LumosPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    kwargs = {"num_frames": 5, "num_inference_steps": 2, **SMALL}
    assert torch.equal(
        pipe(PROMPTS[0], generator=generators(1), **kwargs).frames,
        loaded(PROMPTS[0], generator=generators(1), **kwargs).frames,
    )


def test_generation_config_sets_the_defaults_and_is_saved(pipe, tmp_path):
    """The saved `generation_config` fills the arguments a call leaves out; explicit arguments win."""
    settings = {"height": 32, "width": 64, "num_frames": 5, "fps": 4, "num_inference_steps": 2, "guidance_scale": 2.0,
                "history_mask_ratio": 0.3, "history_mask": "random"}  # fmt: skip
    configured = LumosPipeline(**pipe.components, generation_config=settings)
    configured.set_progress_bar_config(disable=True)
    configured.save_pretrained(tmp_path)
    loaded = LumosPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.generation_defaults == settings
    steps = []
    video = loaded(
        PROMPTS[0],
        generator=generators(1),
        output_type="latent",
        callback_on_step_end=lambda p, i, t, k: steps.append(i) or {},
    ).frames
    assert video.shape == (1, 2, 4, 8) and len(steps) == 4  # 5 frames at 32x64: 2 latent frames x 2 steps
    explicit = pipe(PROMPTS[0], generator=generators(1), output_type="latent", **settings).frames
    assert torch.equal(video, explicit)
    assert loaded(PROMPTS[0], num_frames=1, output_type="latent").frames.shape == (1, 1, 4, 8)
    with pytest.raises(ValueError, match="unknown keys"):
        LumosPipeline(**pipe.components, generation_config={"frames": 5})


def test_example_docstring_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = [line.strip() for line in EXAMPLE_DOC_STRING.splitlines()]
    code = "\n".join(line[4:] for line in lines if line.startswith((">>> ", "... ")))
    namespace: dict = {}
    exec(compile(code, "EXAMPLE_DOC_STRING", "exec"), namespace)
    assert namespace["video"].shape == (9, 32, 64, 3) and (tmp_path / "lumos.mp4").stat().st_size > 0


# ---------------------------------------------------------------------------------------------------------------------
# Bad inputs


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"height": 48}, ValueError, "multiples of 32"),
        ({"height": 0}, ValueError, "height"),
        ({"width": 0}, ValueError, "width"),
        ({"width": 72}, ValueError, "multiples of 32"),
        ({"num_frames": 8}, ValueError, r"num_frames must be 1 \+ 4k"),
        ({"guidance_scale": 0.5}, ValueError, "guidance_scale must be a finite number >= 1"),
        ({"history_mask_ratio": 1.0}, ValueError, r"history_mask_ratio must be in \[0, 1\)"),
        ({"history_mask_ratio": -0.1}, ValueError, r"history_mask_ratio must be in \[0, 1\)"),
        ({"history_mask": "tube"}, ValueError, "history_mask must be one of"),
        ({"prompt": []}, ValueError, "non-empty list"),
        ({"prompt": 3}, TypeError, "prompt must be a str"),
        ({"num_inference_steps": 0}, ValueError, "num_inference_steps must be in"),
        ({"fps": 0}, ValueError, "fps must be in"),
        ({"num_videos_per_prompt": 0}, ValueError, "num_videos_per_prompt must be in"),
        ({"output_type": "latents"}, ValueError, "output_type must be one of"),
        ({"generator": generators(3)}, ValueError, "list of 1"),
        ({"generator": "0"}, TypeError, "generator must be a torch.Generator"),
        ({"generator": [torch.Generator(), 0]}, TypeError, r"holding \['Generator', 'int'\]"),
        ({"negative_prompt": ["a", "b"]}, ValueError, "negative_prompt must be one str"),
        ({"image": random_image(64, 64)}, ValueError, r"image\[0\] is 64x64 \(HxW\) but height x width is 32x64"),
        ({"image": random_image(), "num_frames": 1}, ValueError, "num_frames must be at least 5"),
        ({"prompt": ["a", "b"], "image": [random_image()] * 3}, ValueError, "or a list of 2"),
        ({"image": random_image(), "video": random_image(frames=5)}, ValueError, "at most one of image"),
        ({"image": random_image(), "latents": torch.zeros(1, 4, 8, dtype=torch.long)}, ValueError, "at most one of"),
        ({"latents": torch.zeros(1, 4, 4, dtype=torch.long)}, ValueError, r"latents must have shape \[T_c, 4, 8\]"),
        ({"latents": torch.zeros(3, 4, 8, dtype=torch.long)}, ValueError, r"1 <= T_c < 3"),
        ({"latents": torch.full((1, 4, 8), VOCAB)}, ValueError, "FSQ indices"),
        ({"prompt_ids": [[0, 5]]}, ValueError, "prompt or prompt_ids, not both"),
        ({"video": random_image(frames=5), "num_frames": 5}, ValueError, "num_frames must give more"),
        ({"video": random_image(frames=4)}, ValueError, "1 \\+ 4k frames"),
        ({"callback_on_step_end_tensor_inputs": ["sample"]}, ValueError, "callback_on_step_end_tensor_inputs"),
    ],
)
def test_bad_inputs(pipe, kwargs, error, message):
    call = {"prompt": "a cat", "height": 32, "width": 64, "num_frames": 9, "num_inference_steps": 1} | kwargs
    with pytest.raises(error, match=message):
        pipe(**call)


def test_bad_image_type(pipe):
    with pytest.raises(ValueError, match=re.escape("float `frames` arrays must hold pixels in [0, 1]")):
        pipe("a cat", image=random_image().astype(np.float32), height=32, width=64, num_frames=5)  # 0-255 floats
    with pytest.raises(TypeError, match=re.escape("uint8 (0-255), uint16 (0-65535) or float in [0, 1]")):
        pipe("a cat", image=random_image().astype(np.int64), height=32, width=64, num_frames=5)


def test_guidance_and_history_ratio_reject_nan_inf_and_non_numbers():
    pipe = build_tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    common = {"height": 32, "width": 32, "num_frames": 1, "num_inference_steps": 2, "output_type": "latent"}
    for value, error in [(float("nan"), ValueError), (float("inf"), ValueError), (0.5, ValueError), ("3", TypeError),
                         (torch.tensor([1.0, 2.0]), TypeError)]:  # fmt: skip
        with pytest.raises(error, match="guidance_scale"):
            pipe("a", guidance_scale=value, **common)
    for value in (float("nan"), 1.0, -0.1):
        with pytest.raises(ValueError, match=r"history_mask_ratio must be in \[0, 1\)"):
            pipe("a", history_mask_ratio=value, **common)
    runs = [
        pipe("a", guidance_scale=scale, history_mask_ratio=ratio, generator=torch.Generator().manual_seed(0), **common)
        for scale, ratio in ((3.0, 0.7), (np.float32(3), np.float64(0.7)), (torch.tensor(3.0), torch.tensor(0.7)))
    ]
    assert all(torch.equal(runs[0].frames, run.frames) for run in runs[1:])


def test_stream_yields_each_latent_frame_as_decoded(pipe):
    kwargs = {"height": 32, "width": 64, "num_frames": 9, "fps": 4, "num_inference_steps": 3}
    whole = pipe(PROMPTS[0], generator=generators(1), **kwargs).frames
    chunks = [chunk.frames for chunk in pipe.stream(PROMPTS[0], generator=generators(1), **kwargs)]
    assert [chunk.shape[1] for chunk in chunks] == [1, 4, 4]
    assert np.abs(np.concatenate(chunks, axis=1) - whole).max() < 1e-5
    image = random_image()
    given = [c.frames for c in pipe.stream(PROMPTS[0], image=image, generator=generators(1), **kwargs)]
    assert [chunk.shape[1] for chunk in given] == [1, 4, 4]  # the given frame first
    with pytest.raises(ValueError, match="stream decodes frames"):
        next(pipe.stream(PROMPTS[0], output_type="latent", **kwargs))


def test_stream_stops_after_an_interrupt(pipe):
    def interrupt_in_frame_two(pipeline, step, t, callback_kwargs):
        pipeline._interrupt = step == 4
        return callback_kwargs

    kwargs = {"height": 32, "width": 64, "num_frames": 9, "fps": 4, "num_inference_steps": 3}
    chunks = list(pipe.stream(PROMPTS[0], callback_on_step_end=interrupt_in_frame_two, **kwargs))
    assert [chunk.frames.shape[1] for chunk in chunks] == [1, 4]  # frame 0, then frame 1 with its latest draws


def test_callback_latents_must_stay_video_indices(pipe):
    def out_of_vocabulary(pipeline, step, t, callback_kwargs):
        callback_kwargs["latents"][:, 0, 0, 0] = VOCAB
        return callback_kwargs

    def wrong_shape(pipeline, step, t, callback_kwargs):
        return {"latents": callback_kwargs["latents"][:, :1]}

    kwargs = {"height": 32, "width": 64, "num_frames": 5, "num_inference_steps": 2, "output_type": "latent"}
    with pytest.raises(ValueError, match=r"outside the video vocabulary \[0, 63\]"):
        pipe(PROMPTS[0], callback_on_step_end=out_of_vocabulary, **kwargs)
    with pytest.raises(ValueError, match="must return latents as an integer tensor of shape"):
        pipe(PROMPTS[0], callback_on_step_end=wrong_shape, **kwargs)


def test_memory_pre_flight_refuses_what_cannot_fit(pipe, monkeypatch):
    import lumos_hf.pipeline_lumos as pipeline_module

    estimate = pipe.estimate_memory(1, 1504, 1504, 401)
    assert set(estimate) == {"kv_cache", "step", "sampling", "decode"} and sum(estimate.values()) > 2**30
    kwargs = {"height": 32, "width": 64, "num_frames": 5, "num_inference_steps": 1, "output_type": "latent"}
    monkeypatch.setattr(pipeline_module, "_available_memory", lambda device: 1024)  # a machine with 1 KiB free
    message = r"need about \d+\.\d MiB beyond the weights \(kv_cache .*\), more than .* pipe.memory_check = False"
    with pytest.raises(ValueError, match=message):
        pipe(PROMPTS[0], **kwargs)
    monkeypatch.setattr(pipe, "memory_check", False)  # the opt-out
    assert pipe(PROMPTS[0], **kwargs).frames.shape == (1, 2, 4, 8)
