"""
The paper's ablations in miniature, scored by the shapes prompt-following benchmark (`docs/ablations.md`):

    python benchmarks/ablations.py --work_dir runs/ablations --jobs 2            # everything (hours on 2 CPU cores)
    python benchmarks/ablations.py --work_dir runs/ablations --only train --jobs 2
    python benchmarks/ablations.py --work_dir runs/ablations --only report       # tables and plots from the results

Units of work, each resumable (a finished unit leaves its result file, which later runs reuse; training resumes from
its last Trainer checkpoint):

- `data`: `--num_clips` training clips (stream 1) encoded by the shipped demo video tokenizer, every 5th also as a
  one-frame image sample (as the demo model's recipe), and `--val_clips` validation clips of an unseen stream.
- `train:VARIANT:SEED`: the demo model's architecture and recipe (`examples/shapes/demo_spec.py`, AdamW 1e-3,
  cosine, batch 16) for `--max_steps` steps from scratch; variants differ only in `VARIANTS` below, and every variant
  of one seed sees the same samples in the same order.
- `eval:VARIANT:SEED`: validation loss per latent frame under tube and under random masks (the same ratios for
  both), and the shapes benchmark (seen and held-out combinations) at the demo's size, steps and guidance, with the
  official history mask and scheduler (`VARIANT_GENERATION`).
- `infer:SETTING`: the shapes benchmark of one pipeline (`--inference_model`, default the shipped demo model) under
  each inference setting of `SETTINGS` (history mask, guidance, steps per frame, Gumbel temperature schedule; the
  rest as `BASE_SETTING`, with the official scheduler's sampling temperature 1).
- `report`: `WORK_DIR/results.json`, Markdown tables (printed and in `WORK_DIR/ablations.md`) and PNG plots in
  `--plots_dir` (default `WORK_DIR/plots`).

`--jobs N` runs N units at a time, each in its own process with one thread (so N <= the number of cores); training
units start first, then inference settings, then evaluations (each after its training).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples" / "shapes"), str(ROOT / "examples"), str(ROOT / "benchmarks")]

from demo_spec import GENERATION_DEFAULTS, MODEL_CONFIG, build_config  # noqa: E402
from shapes_bench import ATTRIBUTES, caption_of, generate, score  # noqa: E402

from lumos_hf import ARDFScheduler, LumosForVideoGeneration, LumosPipeline, demo  # noqa: E402
from lumos_hf.data import shapes  # noqa: E402
from lumos_hf.training.masking import apply_ardf_mask, frame_content_positions, sample_mask_ratios  # noqa: E402

TRAIN_STREAM, VAL_STREAM = 1, 40_000
METRICS = (*ATTRIBUTES, "consistency")


@dataclass(frozen=True)
class Variant:
    """A training variant: config overrides of the demo model and the AR-DF masking mode."""

    description: str
    config: dict[str, Any] = field(default_factory=dict)
    masking_mode: str = "tube"


def vanilla_3d_rope(head_dim: int) -> dict[str, Any]:
    """A 3D RoPE without MM-RoPE's distributed frequencies and position scaling (LUMOS_SPEC 3): the d/2 frequencies
    in three contiguous blocks (t the fastest quarter, then h, then w, in MM-RoPE's 4 : 6 : 6 proportion, as
    Qwen2-VL's M-RoPE sections) and unscaled latent positions (frame, row, column) + p0."""
    half = head_dim // 2
    num_t = half // 4
    num_h = (half - num_t) // 2
    return {"mm_rope_channel_pattern": "t" * num_t + "h" * num_h + "w" * (half - num_t - num_h),
            "position_scale": [1, 1, 1]}  # fmt: skip


HEAD_DIM = MODEL_CONFIG["hidden_size"] // MODEL_CONFIG["num_attention_heads"]
VARIANTS = {
    "mm_rope": Variant("MM-RoPE, tube masks (the default, as the shipped model)"),
    "rope_1d": Variant("plain 1D RoPE (`mm_rope=False`), tube masks", {"mm_rope": False}),
    "rope_3d": Variant(
        "vanilla 3D RoPE (contiguous t/h/w blocks, unscaled positions), tube masks", vanilla_3d_rope(HEAD_DIM)
    ),  # fmt: skip
    "random_mask": Variant("MM-RoPE, independent random masks (`masking_mode='random'`)", masking_mode="random"),
}

BASE_SETTING = {"history_mask_ratio": 0.7, "history_mask": "periodic", "guidance_scale": 3.0,
                "num_inference_steps": 8, "gumbel_temperature_schedule": "linear"}  # fmt: skip
# The variants are scored at the demo's size, steps and guidance with the official history mask (0.7, periodic) and
# the official scheduler (temperature 1), as their committed results were, whatever the shipped demo model defaults to.
VARIANT_GENERATION = {k: v for k, v in GENERATION_DEFAULTS.items() if not k.startswith("history_mask")}
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    **{f"history_{mode}_{ratio}": {"history_mask_ratio": ratio, "history_mask": mode}
       for mode in ("periodic", "random") for ratio in (0.0, 0.3, 0.5, 0.9) if (mode, ratio) != ("random", 0.0)},
    "history_random_0.7": {"history_mask": "random"},
    **{f"guidance_{scale:g}": {"guidance_scale": scale} for scale in (1.0, 7.0, 15.0)},
    **{f"steps_{steps}": {"num_inference_steps": steps} for steps in (4, 16, 32)},
    "temperature_official": {"gumbel_temperature_schedule": "official"},
}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------- units


def unit_data(args: argparse.Namespace) -> None:
    """The training dataset (`data/train`) and the validation sequences (`data/val.json`)."""
    import datasets
    from prepare_data import tokenize_clips

    from lumos_hf import CosmosDiscreteVideoTokenizer, LumosProcessor

    data_dir = args.work_dir / "data"
    settings = {"num_clips": args.num_clips, "val_clips": args.val_clips}
    if (data_dir / "val.json").exists():
        saved = read_json(data_dir / "settings.json") if (data_dir / "settings.json").exists() else None
        if saved != settings:
            raise SystemExit(f"{data_dir} was built with {saved or 'unrecorded options'}, not {settings}; use another "
                             "--work_dir (or the options it was built with)")  # fmt: skip
        return
    tokenizer = CosmosDiscreteVideoTokenizer.from_pretrained(demo.model_path() / "video_tokenizer").eval()
    processor = LumosProcessor.from_pretrained(demo.model_path() / "processor")
    rows = tokenize_clips(tokenizer, processor, TRAIN_STREAM, args.num_clips)
    datasets.Dataset.from_dict(rows).save_to_disk(str(data_dir / "train"))
    val = tokenize_clips(tokenizer, processor, VAL_STREAM, args.val_clips, image_every=None)
    write_json(data_dir / "settings.json", settings)
    write_json(data_dir / "val.json", val)


def unit_train(args: argparse.Namespace, variant: str, seed: int) -> dict[str, Any]:
    """Train one variant from scratch with the demo recipe; returns the Trainer's summary."""
    from train_lumos import main as train_lumos
    from transformers.trainer_utils import get_last_checkpoint

    run_dir = args.work_dir / "train" / f"{variant}-s{seed}"
    config_dir = run_dir / "model_config"
    build_config(**VARIANTS[variant].config).save_pretrained(config_dir)
    output_dir = run_dir / "model"
    checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    start = time.perf_counter()
    trainer = train_lumos([
        f"--config_name={config_dir}",
        f"--dataset={args.work_dir / 'data' / 'train'}",
        f"--output_dir={output_dir}",
        f"--max_steps={args.max_steps}",
        f"--masking_mode={VARIANTS[variant].masking_mode}",
        f"--seed={seed}",
        "--stage=joint", "--per_device_train_batch_size=16", "--learning_rate=1e-3", "--lr_scheduler_type=cosine",
        f"--warmup_steps={max(args.max_steps // 12, 1)}", "--weight_decay=0.1", "--max_grad_norm=1.0",
        "--logging_steps=10", f"--save_steps={args.save_steps}", "--save_total_limit=1",
        "--dataloader_num_workers=0", "--report_to=none", "--disable_tqdm=true",
        *([f"--resume_from_checkpoint={checkpoint}"] if checkpoint else []),
    ])  # fmt: skip
    losses = [(entry["step"], entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    return {
        "variant": variant,
        "seed": seed,
        "steps": trainer.state.global_step,
        "train_losses": losses,
        "seconds_this_run": time.perf_counter() - start,
        "resumed_from": str(checkpoint) if checkpoint else None,
    }


def unit_eval(args: argparse.Namespace, variant: str, seed: int) -> dict[str, Any]:
    """Per-frame validation loss (tube and random masks) and the shapes benchmark of one trained variant."""
    train_result = result_path(args.work_dir, f"train:{variant}:{seed}")
    trained = read_json(train_result).get("settings") if train_result.exists() else None
    if trained != unit_settings(args, f"train:{variant}:{seed}"):
        raise SystemExit(f"the model of {variant} seed {seed} was trained with {trained or 'unknown options'}, not "
                         "the requested ones; train it first (--only train, with --rerun_stale)")  # fmt: skip
    model_dir = args.work_dir / "train" / f"{variant}-s{seed}" / "model"
    transformer = LumosForVideoGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    transformer.config.use_cache = True  # training turned the KV cache off
    val = json.loads((args.work_dir / "data" / "val.json").read_text())["input_ids"]
    losses = {mode: frame_losses(transformer, val, mode) for mode in ("tube", "random")}
    shipped = LumosPipeline.from_pretrained(demo.model_path())
    components = {**shipped.components, "transformer": transformer, "scheduler": ARDFScheduler()}
    pipe = LumosPipeline(**components, generation_config=VARIANT_GENERATION)
    return {"variant": variant, "seed": seed, "val_loss": losses, **benchmark(args, pipe, {})}


def unit_infer(args: argparse.Namespace, setting: str) -> dict[str, Any]:
    """The shapes benchmark of `--inference_model` under one inference setting."""
    pipe = LumosPipeline.from_pretrained(args.inference_model or demo.model_path())
    options = {**BASE_SETTING, **SETTINGS[setting]}
    schedule = options.pop("gumbel_temperature_schedule")  # a scheduler option, not a pipeline argument
    pipe.scheduler = ARDFScheduler(gumbel_temperature_schedule=schedule)  # otherwise official, as in the results
    return {"setting": setting, "options": {**options, "gumbel_temperature_schedule": schedule},
            **benchmark(args, pipe, options)}  # fmt: skip


# --------------------------------------------------------------------------------------------------------- metrics


@torch.no_grad()
def frame_losses(model: LumosForVideoGeneration, sequences: list[list[int]], masking_mode: str) -> dict[str, Any]:
    """Mean cross-entropy of the masked video tokens by latent frame index, and over all frames, for `sequences`
    masked by `masking_mode` with two ratios each from the AR-DF schedule (a fixed generator, so every model and
    both modes see the same ratios)."""
    layout = model.config.token_layout
    generator = torch.Generator().manual_seed(0)
    sums, counts = torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    for ids in sequences:
        input_ids = torch.tensor(ids)
        positions = frame_content_positions(input_ids, layout)  # [F, N]
        frame_of = torch.full_like(input_ids, -1)
        frame_of[positions] = torch.arange(positions.shape[0])[:, None].expand_as(positions)
        for ratio in sample_mask_ratios(2, generator).tolist():
            masked, labels = apply_ardf_mask(input_ids, masking_mode, ratio, generator, token_layout=layout)
            scored = labels >= layout.video_token_offset
            logits = model(input_ids=masked[None], video_logits_only=True).logits[0, scored]
            nll = torch.nn.functional.cross_entropy(
                logits, labels[scored] - layout.video_token_offset, reduction="none"
            )
            frames = frame_of[scored]
            size = max(len(sums), positions.shape[0])
            sums = _pad(sums, size) + torch.bincount(frames, weights=nll.double(), minlength=size)
            counts = _pad(counts, size) + torch.bincount(frames, minlength=size).double()
    per_frame = (sums / counts).tolist()
    overall = float(sums.sum() / counts.sum())
    return {"per_frame": per_frame, "overall": overall}


def _pad(values: torch.Tensor, size: int) -> torch.Tensor:
    return torch.nn.functional.pad(values, (0, size - len(values)))


def benchmark(args: argparse.Namespace, pipe: LumosPipeline, options: dict[str, Any]) -> dict[str, Any]:
    """Shapes benchmark: `--bench_seen` seen combinations (1 seed) and `--bench_held_out` held-out ones
    (`--bench_seeds` seeds each); accuracies in %, the spread over generation seeds (std of the held-out accuracies of each seed), s / video."""
    pipe.set_progress_bar_config(disable=True)
    train = shapes.combinations("train")
    seen = [train[i * len(train) // args.bench_seen] for i in range(args.bench_seen)]
    held_out = [c for c in shapes.combinations("held_out")[: args.bench_held_out] for _ in range(args.bench_seeds)]
    report: dict[str, Any] = {}
    for name, combinations, seeds in (
        ("seen", seen, list(range(len(seen)))),
        ("held_out", held_out, [i % args.bench_seeds for i in range(len(held_out))]),
    ):
        start = time.perf_counter()
        videos = generate(pipe, [caption_of(c) for c in combinations], seeds, args.batch_size, **options)
        report[name] = {
            **score(videos, combinations),
            "seconds_per_video": (time.perf_counter() - start) / len(videos),
        }
        if name == "held_out" and args.bench_seeds > 1:
            per_seed = [score(videos[s :: args.bench_seeds], combinations[s :: args.bench_seeds])
                        for s in range(args.bench_seeds)]  # fmt: skip
            report[name]["seed_std"] = {m: float(np.std([r[m] for r in per_seed])) for m in METRICS}
    return report


# ------------------------------------------------------------------------------------------------------ scheduling


def result_path(work_dir: Path, unit: str) -> Path:
    return work_dir / "results" / (unit.replace(":", "-") + ".json")


BENCH_OPTIONS = ("bench_seen", "bench_held_out", "bench_seeds")


def variant_settings(name: str) -> dict[str, Any]:
    return {key: value for key, value in asdict(VARIANTS[name]).items() if key != "description"}


def unit_settings(args: argparse.Namespace, unit: str) -> dict[str, Any]:
    """What a unit's result depends on (the options and the definitions in this file), as JSON values: a result
    measured under other settings is stale."""
    kind, name, *seed = unit.split(":")
    if kind == "infer":
        settings = {**{k: getattr(args, k) for k in BENCH_OPTIONS}, "inference_model": args.inference_model,
                    "options": {**BASE_SETTING, **SETTINGS[name]}}  # fmt: skip
    else:
        settings = {"max_steps": args.max_steps, "num_clips": args.num_clips, "variant": variant_settings(name)}
        if kind == "eval":
            settings |= {"val_clips": args.val_clips, **{k: getattr(args, k) for k in BENCH_OPTIONS},
                         "generation": VARIANT_GENERATION}  # fmt: skip
    return json.loads(json.dumps(settings))


def run_unit(args: argparse.Namespace, unit: str) -> None:
    """Run one unit in this process and write its result file (atomically), with the options it ran under."""
    kind, *rest = unit.split(":")
    functions: dict[str, Callable[..., dict[str, Any]]] = {"train": unit_train, "eval": unit_eval, "infer": unit_infer}
    if kind not in functions:
        raise SystemExit(f"unknown unit {unit!r}")
    parameters = [rest[0], int(rest[1])] if kind in ("train", "eval") else rest
    result = functions[kind](args, *parameters)
    write_json(result_path(args.work_dir, unit), {**result, "settings": unit_settings(args, unit)})


def pending_units(args: argparse.Namespace, units: list[str]) -> list[str]:
    """The units, in order, without a result or (with `--rerun_stale`) with a result measured under other settings;
    stale results without `--rerun_stale` stop the run before any unit runs. A stale training unit restarts from
    scratch: its old checkpoints are removed."""
    stale = {}
    for unit in units:
        path = result_path(args.work_dir, unit)
        if path.exists() and (saved := read_json(path).get("settings")) != unit_settings(args, unit):
            stale[unit] = saved or "none recorded"
    if stale and not args.rerun_stale:
        requested = {unit: unit_settings(args, unit) for unit in stale}
        raise SystemExit("results measured under other settings (pass --rerun_stale to measure them again, or use "
                         f"another --work_dir): {json.dumps(stale)}; requested: {json.dumps(requested)}")  # fmt: skip
    for unit in (u for u in stale if u.startswith("train:")):
        _, variant, seed = unit.split(":")
        shutil.rmtree(args.work_dir / "train" / f"{variant}-s{seed}" / "model", ignore_errors=True)
    return [unit for unit in units if unit in stale or not result_path(args.work_dir, unit).exists()]


def run_all(args: argparse.Namespace) -> None:
    """Every unit of `--only` not yet done, `--jobs` at a time, each in a subprocess with one thread."""
    units = [f"train:{v}:{s}" for s in args.seeds for v in args.variants] if "train" in args.only else []
    units += [f"infer:{name}" for name in args.settings] if "infer" in args.only else []
    evals = [f"eval:{v}:{s}" for s in args.seeds for v in args.variants] if "eval" in args.only else []
    todo = pending_units(args, units + evals)
    if not todo:
        return
    print(f"{len(todo)} units to run: {', '.join(todo)}", flush=True)
    common = [f"--{name}={getattr(args, name)}" for name in SHARED_OPTIONS if getattr(args, name) is not None]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log_dir = args.work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    def launch(unit: str, after: Future | None) -> None:
        if after is not None:
            after.result()
        with open(log_dir / (unit.replace(":", "-") + ".log"), "a") as log:
            start = time.perf_counter()
            command = [sys.executable, __file__, f"--work_dir={args.work_dir}", f"--unit={unit}", *common]
            status = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        if status:
            raise RuntimeError(f"{unit} failed (exit {status}); see {log.name}")
        print(f"{unit} done in {time.perf_counter() - start:.0f} s", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {unit: pool.submit(launch, unit, None) for unit in todo if not unit.startswith("eval:")}
        for unit in (u for u in todo if u.startswith("eval:")):
            futures[unit] = pool.submit(launch, unit, futures.get(unit.replace("eval:", "train:", 1)))
        failures = [f"{unit}: {future.exception()}" for unit, future in futures.items() if future.exception()]
    if failures:
        raise SystemExit("units failed:\n" + "\n".join(failures))


SHARED_OPTIONS = ("max_steps", "save_steps", "num_clips", "val_clips", "bench_seen", "bench_held_out", "bench_seeds",
                  "batch_size", "inference_model")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------- report


def report(args: argparse.Namespace) -> dict[str, Any]:
    """Collect every result file into `results.json`, write the tables to `ablations.md` and the plots."""
    results: dict[str, Any] = {"train": {}, "eval": {}, "infer": {}}
    for path in sorted((args.work_dir / "results").glob("*.json")):
        kind, name = path.stem.split("-", 1)
        results[kind][name] = read_json(path)
    for kind, own in (("eval", "variant"), ("infer", "options")):  # rows of one table must share their options
        shared = {json.dumps({k: v for k, v in row.get("settings", {}).items() if k != own}, sort_keys=True)
                  for row in results[kind].values()}  # fmt: skip
        if len(shared) > 1:
            raise SystemExit(f"the {kind} results in {args.work_dir / 'results'} were measured under different "
                             f"options and would be compared in one table: {sorted(shared)}")  # fmt: skip
    write_json(args.work_dir / "results.json", results)
    lines = variant_table(results) + [""] + variant_summary_table(results) + [""] + setting_table(results)
    (args.work_dir / "ablations.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(results, args.plots_dir or args.work_dir / "plots")
    return results


def variant_table(results: dict[str, Any]) -> list[str]:
    lines = ["| variant | seed | val loss (tube) | val loss (random) | set | " + " | ".join(METRICS) + " |",
             "|---|---|---|---|---|" + "---|" * len(METRICS)]  # fmt: skip
    for row in results["eval"].values():
        loss = row["val_loss"]
        for group in ("seen", "held_out"):
            values = " | ".join(f"{row[group][m]:.1f}" for m in METRICS)
            lines.append(f"| {row['variant']} | {row['seed']} | {loss['tube']['overall']:.3f} | "
                         f"{loss['random']['overall']:.3f} | {group} | {values} |")  # fmt: skip
    return lines


def by_variant(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The evaluation results grouped by variant (one per training seed), in `VARIANTS` order."""
    order = {name: index for index, name in enumerate(VARIANTS)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(results["eval"].values(), key=lambda row: (order.get(row["variant"], len(order)), row["seed"])):
        groups.setdefault(row["variant"], []).append(row)
    return groups


def variant_summary_table(results: dict[str, Any]) -> list[str]:
    """Mean (min-max) over training seeds of each variant's validation losses and held-out accuracies."""

    def cell(values: list[float], digits: int) -> str:
        spread = f" ({min(values):.{digits}f}-{max(values):.{digits}f})" if len(values) > 1 else ""
        return f"{np.mean(values):.{digits}f}{spread}"

    lines = ["| variant | seeds | val loss (tube) | val loss (random) | " + " | ".join(f"held-out {m}" for m in METRICS)
             + " |", "|---|---|---|---|" + "---|" * len(METRICS)]  # fmt: skip
    for variant, rows in by_variant(results).items():
        losses = [cell([row["val_loss"][mode]["overall"] for row in rows], 3) for mode in ("tube", "random")]
        accuracies = [cell([row["held_out"][m] for row in rows], 1) for m in METRICS]
        lines.append(f"| {variant} | {len(rows)} | " + " | ".join(losses + accuracies) + " |")
    return lines


def setting_table(results: dict[str, Any]) -> list[str]:
    lines = ["| setting | set | " + " | ".join(METRICS) + " | s / video |", "|---|---|" + "---|" * (len(METRICS) + 1)]
    for name in (s for s in SETTINGS if s in results["infer"]):
        row = results["infer"][name]
        for group in ("seen", "held_out"):
            spread = row[group].get("seed_std", {})
            values = " | ".join(
                f"{row[group][m]:.1f}" + (f" ± {spread[m]:.1f}" if m in spread else "") for m in METRICS
            )
            lines.append(f"| {name} | {group} | {values} | {row[group]['seconds_per_video']:.2f} |")
    return lines


def plot(results: dict[str, Any], plots_dir: Path) -> None:
    """`frame_loss.png` (validation loss by latent frame, per variant and mask, mean over training seeds) and
    `inference.png` (held-out accuracy against each inference knob)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    if results["eval"]:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for axis, mode in zip(axes, ("tube", "random")):
            for variant, rows in by_variant(results).items():
                per_frame = np.mean([row["val_loss"][mode]["per_frame"] for row in rows], axis=0)
                label = f"{variant} ({len(rows)} seed{'s' if len(rows) > 1 else ''})"
                axis.plot(range(len(per_frame)), per_frame, marker="o", label=label)
            axis.set(title=f"validation loss, {mode} masks", xlabel="latent frame", ylabel="cross-entropy")
            axis.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(plots_dir / "frame_loss.png", dpi=110)
        plt.close(figure)
    knobs = {"history mask ratio (periodic)": ("history_mask_ratio", "periodic"),
             "history mask ratio (random)": ("history_mask_ratio", "random"),
             "guidance scale": ("guidance_scale", None), "steps per frame": ("num_inference_steps", None)}  # fmt: skip
    if results["infer"]:
        figure, axes = plt.subplots(1, len(knobs), figsize=(4 * len(knobs), 3.4), sharey=True)
        for axis, (title, (key, mode)) in zip(axes, knobs.items()):
            rows = sorted(((row["options"][key], row) for row in results["infer"].values()
                           if varies_only(row["options"], key, mode)), key=lambda pair: pair[0])  # fmt: skip
            for metric in METRICS:
                axis.plot([x for x, _ in rows], [row["held_out"][metric] for _, row in rows], marker="o", label=metric)
            axis.set(title=title, xlabel=key, ylim=(0, 102))
            axis.grid(alpha=0.3)
        axes[0].set_ylabel("held-out accuracy (%)")
        axes[0].legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(plots_dir / "inference.png", dpi=110)
        plt.close(figure)


def varies_only(options: dict[str, Any], key: str, history_mask: str | None) -> bool:
    """Whether `options` equal `BASE_SETTING` (with `history_mask`, if given) except for `key` (a zero history ratio
    masks nothing, so it belongs to both history modes)."""
    fixed = {**BASE_SETTING, **({"history_mask": history_mask} if history_mask else {})}
    return all(options[k] == v for k, v in fixed.items()
               if k != key and not (k == "history_mask" and options["history_mask_ratio"] == 0))  # fmt: skip


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, value: Any) -> None:
    """Write `value` as JSON to `path` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(value, indent=1) + "\n")
    staging.replace(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, required=True)
    parser.add_argument(
        "--only", default="train,infer,eval,report", help="comma-separated: train, infer, eval, report"
    )
    parser.add_argument("--jobs", type=int, default=1, help="units run at a time (one thread each)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {list(VARIANTS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated subset of SETTINGS")
    parser.add_argument("--max_steps", type=int, default=600, help="training steps of every variant")
    parser.add_argument("--save_steps", type=int, default=50)
    parser.add_argument("--num_clips", type=int, default=6000)
    parser.add_argument("--val_clips", type=int, default=64)
    parser.add_argument("--bench_seen", type=int, default=54, help="seen combinations (1 seed each)")
    parser.add_argument("--bench_held_out", type=int, default=18, help="held-out combinations (of 18)")
    parser.add_argument("--bench_seeds", type=int, default=3, help="generation seeds per held-out combination")
    parser.add_argument("--batch_size", type=int, default=18, help="videos per pipeline call")
    parser.add_argument("--inference_model", default=None, help="pipeline of the inference settings (default: demo)")
    parser.add_argument("--plots_dir", type=Path, default=None)
    parser.add_argument(
        "--rerun_stale", action="store_true", help="measure again the results obtained under other options"
    )
    parser.add_argument("--unit", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = args.only.split(",")
    args.variants, args.settings = args.variants.split(","), args.settings.split(",")
    args.seeds = [int(seed) for seed in args.seeds.split(",")]
    for name, allowed in (("only", ("train", "infer", "eval", "report")), ("variants", VARIANTS),
                          ("settings", SETTINGS)):  # fmt: skip
        unknown = set(getattr(args, name)) - set(allowed)
        if unknown:
            parser.error(f"--{name}: unknown {sorted(unknown)}; choose from {list(allowed)}")
    for name in (
        "jobs",
        "max_steps",
        "save_steps",
        "num_clips",
        "val_clips",
        "bench_seen",
        "bench_seeds",
        "batch_size",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.unit is not None:
        torch.set_num_threads(1)
        run_unit(args, args.unit)
        return
    if {"train", "eval"} & set(args.only):
        unit_data(args)
    run_all(args)
    if "report" in args.only:
        report(args)


if __name__ == "__main__":
    main()
