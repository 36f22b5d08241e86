"""`lumos-hf convert-release` end to end on the official-format fixtures (TorchScript Cosmos files made from the
fixture state dicts), the model card, and `push_to_hub` of the pipeline and of each component with the Hub's upload
calls replaced by a recorder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch
from conftest import shared_path
from hub_recorder import HubRecorder, assert_no_pickles
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from utils import build_tiny_pipeline, save_official_jit

from lumos_hf import CosmosDiscreteVideoTokenizer, LumosForVideoGeneration
from lumos_hf.cli import main
from lumos_hf.conversion_lumos import convert_lumos_checkpoint
from lumos_hf.testing import build_tiny_chameleon_text_tokenizer

SMALL_DEFAULTS = ["--height", "64", "--width", "64", "--num-frames", "9", "--steps", "2"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> dict[str, Path]:
    """The official release layout: `1B/stage-2-joint-384p/`, `tokenizer/text_tokenizer.json`, `cosmos/*.jit`."""
    root = tmp_path_factory.mktemp("release")
    checkpoint = root / "1B" / "stage-2-joint-384p"
    checkpoint.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (checkpoint / name).symlink_to(shared_path("fixtures", "official_lumos_tiny", "official_checkpoint", name))
    (root / "tokenizer").mkdir()
    build_tiny_chameleon_text_tokenizer().save(str(root / "tokenizer" / "text_tokenizer.json"))
    cosmos = root / "cosmos"
    cosmos.mkdir()
    fixture = ("fixtures", "official_cosmos_dv_tiny")
    for half in ("encoder", "decoder"):
        save_official_jit(load_file(shared_path(*fixture, f"{half}_state.safetensors")), cosmos / f"{half}.jit")
    shutil.copy(shared_path(*fixture, "config.json"), cosmos / "config.json")
    return {"lumos": checkpoint, "text_tokenizer": root / "tokenizer" / "text_tokenizer.json", "cosmos": cosmos}


def _args(release: dict[str, Path], output: Path, *extra: str) -> list[str]:
    return [
        "convert-release",
        "--lumos", str(release["lumos"]),
        "--text-tokenizer", str(release["text_tokenizer"]),
        "--cosmos", str(release["cosmos"]),
        "--output", str(output),
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def converted(release, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("converted") / "lumos-1-tiny"
    extra = ("--license", "apache-2.0", "--base-model", "alibaba-damo-academy/Lumos-1", *SMALL_DEFAULTS)
    assert main(_args(release, output, *extra)) == 0
    return output


def test_folder_layout_weights_and_defaults(converted, release, tmp_path):
    index = json.loads((converted / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline_lumos_remote", "LumosPipeline"]
    for name in ("transformer", "video_tokenizer", "processor", "scheduler"):
        assert index[name][0] == f"lumos_{name}" and (converted / name / f"lumos_{name}.py").is_file()
    assert index["generation_config"] == {
        "height": 64, "width": 64, "num_frames": 9, "fps": 12, "num_inference_steps": 2, "guidance_scale": None,
        "history_mask_ratio": 0.7, "history_mask": "periodic",
    }  # fmt: skip
    files = {str(path.relative_to(converted)): path.read_bytes() for path in converted.rglob("*") if path.is_file()}
    assert_no_pickles(files)
    assert not any(part.startswith(".") for name in files for part in Path(name).parts), "staging files left"
    # The weights are the official ones, converted exactly as `convert-model` and `convert-tokenizer` do.
    convert_lumos_checkpoint(release["lumos"], tmp_path / "reference", remote_code=False)
    reference = load_file(tmp_path / "reference" / "model.safetensors")
    ours = LumosForVideoGeneration.from_pretrained(converted / "transformer").state_dict()
    assert all(torch.equal(ours[key], value) for key, value in reference.items()) and set(ours) >= set(reference)
    cases = load_file(shared_path("fixtures", "official_cosmos_dv_tiny", "cases.safetensors"))
    tokenizer = CosmosDiscreteVideoTokenizer.from_pretrained(converted / "video_tokenizer").eval()
    with torch.no_grad():
        assert torch.equal(tokenizer.encode(cases["input"][None])[0], cases["indices"])


def test_resolution_from_the_checkpoint_name(release):
    from lumos_hf.release import default_generation_config

    assert (
        default_generation_config(release["lumos"])["height"],
        default_generation_config(release["lumos"])["width"],
    ) == (384, 672)
    assert default_generation_config(release["lumos"].parent)["height"] == 256  # "1B": no bucket in the name
    for name, size in (("v2-stage2-joint-384p-sft", (384, 672)), ("stage-2-joint", (256, 448)), ("x480p", (256, 448))):
        defaults = default_generation_config(Path("/releases") / name)
        assert (defaults["height"], defaults["width"]) == size, name


def test_model_card(converted):
    card = ModelCard.load(converted / "README.md")
    assert card.data.pipeline_tag == "text-to-video" and card.data.library_name == "diffusers"
    assert card.data.license == "apache-2.0" and card.data.base_model == "alibaba-damo-academy/Lumos-1"
    assert {"lumos-1", "text-to-video", "image-to-video"} <= set(card.data.tags)
    assert f'DiffusionPipeline.from_pretrained("{converted}", trust_remote_code=True)' in card.text
    assert (
        "| `num_inference_steps` | 2 |" in card.text and "| `guidance_scale` | 15 (videos), 16 (images) |" in card.text
    )
    assert "[More Information Needed]" not in card.text


def test_card_snippets_run_where_lumos_hf_is_not_installed(converted, tmp_path):
    """The card's two Python snippets, verbatim, in a process where `import lumos_hf` fails."""
    snippets = re.findall(r"```python\n(.*?)```", ModelCard.load(converted / "README.md").text, flags=re.DOTALL)
    assert len(snippets) == 2
    script = (
        "import sys\nsys.modules['lumos_hf'] = None\n"
        + snippets[0]
        + "\n"
        + snippets[1]
        + textwrap.dedent(
            """
        assert len(frames) == 9 and frames[0].size == (64, 64), (len(frames), frames[0].size)
        assert not any(name.startswith("lumos_hf") for name in sys.modules if sys.modules[name] is not None)
        print("snippets ok")
        """
        )
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "snippets ok" in result.stdout, result.stderr[-3000:]
    assert iio.improps(tmp_path / "lumos.mp4", plugin="pyav").shape[:3] == (9, 64, 64)


def test_refuses_before_converting(release, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        main(_args(release, busy))
    assert (busy / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="must not be, lie inside or contain the input"):
        main(_args(release, release["cosmos"] / "out"))
    with pytest.raises(SystemExit, match="--height must be a positive multiple of 32"):
        main(_args(release, tmp_path / "out", "--height", "50"))
    with pytest.raises(SystemExit, match="--num-frames must be 1 \\+ 4k"):
        main(_args(release, tmp_path / "out", "--num-frames", "8"))
    empty = tmp_path / "no_cosmos"
    empty.mkdir()
    with pytest.raises(SystemExit, match="holds neither encoder.jit \\+ decoder.jit nor autoencoder.jit"):
        main([*_args(release, tmp_path / "out")[:6], str(empty), "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_push_to_hub_uploads_the_folder(release, tmp_path, monkeypatch):
    hub = HubRecorder().install(monkeypatch)
    assert main(_args(release, tmp_path / "out", "--push-to-hub", "me/lumos-1-tiny", *SMALL_DEFAULTS)) == 0
    files = hub.files("me/lumos-1-tiny")
    local = {str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert set(files) == local
    assert b'from_pretrained("me/lumos-1-tiny", trust_remote_code=True)' in files["README.md"]
    assert_no_pickles(files)


def test_pipeline_and_component_push_to_hub(monkeypatch):
    """`pipe.push_to_hub` (with its card and code) and each component's own `push_to_hub` (transformers' and
    diffusers' mixins) upload the right files, safetensors only."""
    hub = HubRecorder().install(monkeypatch)
    pipe = build_tiny_pipeline()
    pipe.push_to_hub("me/pipe", license="apache-2.0")
    files = hub.files("me/pipe")
    expected = {
        "model_index.json", "config.json", "README.md", "pipeline_lumos_remote.py", "model.safetensors",
        "transformer/config.json", "transformer/model.safetensors", "transformer/lumos_transformer.py",
        "video_tokenizer/config.json", "video_tokenizer/diffusion_pytorch_model.safetensors",
        "processor/processor_config.json", "processor/tokenizer.json", "scheduler/scheduler_config.json",
    }  # fmt: skip
    assert expected <= set(files), sorted(expected - set(files))
    assert b"pipeline_tag: text-to-video" in files["README.md"] and b"license: apache-2.0" in files["README.md"]
    assert_no_pickles(files)

    pipe.transformer.push_to_hub("me/transformer")
    pipe.video_tokenizer.push_to_hub("me/video_tokenizer")
    pipe.processor.push_to_hub("me/processor")
    pipe.scheduler.push_to_hub("me/scheduler")
    assert {"config.json", "model.safetensors"} <= set(hub.files("me/transformer"))
    assert {"config.json", "diffusion_pytorch_model.safetensors"} <= set(hub.files("me/video_tokenizer"))
    assert {"processor_config.json", "tokenizer.json"} <= set(hub.files("me/processor"))
    assert "scheduler_config.json" in hub.files("me/scheduler")
    for repo in ("me/transformer", "me/video_tokenizer", "me/processor", "me/scheduler"):
        assert_no_pickles(hub.files(repo))
    assert hub.repos == ["me/pipe", "me/transformer", "me/video_tokenizer", "me/processor", "me/scheduler"]
