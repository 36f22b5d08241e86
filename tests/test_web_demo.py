"""`lumos-hf demo`: the Gradio app around the demo model, its request function, and the app driven in headless
Chromium (selenium): a prompt typed and submitted gives a playable video; a bad size gives a message on the page.
A screenshot is saved to `outputs/test_artifacts/web_demo.png`."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import imageio.v3 as iio
import pytest

from lumos_hf import LumosPipeline, demo
from lumos_hf.cli import build_parser
from lumos_hf.web_demo import generate_video

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def pipe():
    pipe = LumosPipeline.from_pretrained(demo.model_path())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_request_function(pipe):
    calls = []
    path, message = generate_video(
        pipe, "a red circle moves right on a black background", "", 0, 2, 3, 64, 64,
        progress=lambda fraction, desc: calls.append((fraction, desc)),
    )  # fmt: skip
    assert message == "" and iio.improps(path, plugin="pyav").shape[:3] == (17, 64, 64)
    assert calls[-1] == (1.0, "latent frame 5/5") and len(calls) == 5  # one progress step per latent frame
    assert generate_video(pipe, "  ", "", 0, 2, 3, 64, 64) == (None, "Enter a prompt.")
    path, message = generate_video(pipe, "a cat", "", 0, 2, 3, 50, 64)
    assert path is None and "multiples of 32" in message
    path, message = generate_video(pipe, "a cat", "", None, 2, 3, 64, 64)
    assert path is None and "whole numbers" in message


def test_command_defaults_to_localhost():
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 7860, None)


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="no chromium / chromedriver (.ci/run installs them)"
)
def test_in_a_browser(pipe):
    pytest.importorskip("gradio")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from lumos_hf.web_demo import build_demo

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_demo(pipe)
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 120)
        prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#prompt textarea"))
        prompt.clear()
        prompt.send_keys("a blue square moves down on a gray background")
        driver.find_element(By.CSS_SELECTOR, "#generate").click()
        duration = wait.until(
            lambda d: d.execute_script(
                "const v = document.querySelector('#video video'); return v && v.duration > 0 ? v.duration : null;"
            )
        )
        assert 1.5 < duration < 2.5  # 17 frames at 8 fps
        artifacts = ROOT / "outputs" / "test_artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(artifacts / "web_demo.png"))

        height = driver.find_element(By.CSS_SELECTOR, "#height input")
        height.clear()
        height.send_keys("50")
        driver.find_element(By.CSS_SELECTOR, "#generate").click()
        text = wait.until(lambda d: "multiples of 32" in (t := d.find_element(By.CSS_SELECTOR, "#message").text) and t)
        assert "Cannot generate" in text and "Traceback" not in driver.page_source
    finally:
        driver.quit()
        app.close()
