"""report.html opened in headless Chromium: tables and every figure present and visible."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def rendered(suite, tmp_path_factory):
    if CHROMIUM is None:
        if __import__("os").environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    outputs, result = suite
    assert result.report is not None and result.report.exists()
    shot = tmp_path_factory.mktemp("shot") / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(result.report.as_uri())
        page.wait_for_load_state("load")
        tables = page.eval_on_selector_all("table", "ts => ts.map(t => t.innerText)")
        images = page.eval_on_selector_all(
            "img",
            """imgs => imgs.map(i => { const r = i.getBoundingClientRect(); const s = getComputedStyle(i);
                return {w: i.naturalWidth, h: i.naturalHeight, shownW: r.width, shownH: r.height,
                        visible: s.visibility !== 'hidden' && s.display !== 'none', src: i.src.slice(0, 22)}; })""",
        )
        text = page.inner_text("body")
        code_cells = page.eval_on_selector_all(".jp-CodeCell .jp-InputArea, .jp-CodeCell .highlight",
                                               "els => els.filter(e => e.offsetParent).length")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return {"tables": tables, "images": images, "text": text, "shot": shot, "code_cells": code_cells,
            "outputs": outputs}


def test_report_shows_the_tables(rendered) -> None:
    tables = "\n".join(rendered["tables"])
    for name in ("PyTorch", "TensorFlow", "JAX", "ONNX", "OpenVINO"):
        assert name in tables
    for backend in ("numpy", "pytorch", "tensorflow", "jax", "onnxruntime", "openvino"):
        assert backend in tables
    assert "Relative Latency (vs. PyTorch)" in tables


def test_every_figure_is_embedded_and_visible(rendered) -> None:
    images = rendered["images"]
    assert len(images) >= 4
    for image in images:
        assert image["src"].startswith("data:image/png"), "figures must be embedded, not linked"
        assert image["w"] > 100 and image["h"] > 100, image
        assert image["shownW"] > 100 and image["shownH"] > 50 and image["visible"], image


def test_code_is_hidden_and_page_is_not_blank(rendered) -> None:
    from PIL import Image

    assert rendered["code_cells"] == 0
    assert "check_parameters(" not in rendered["text"]
    with Image.open(rendered["shot"]) as shot:
        assert shot.height > 1000
        colours = shot.convert("RGB").getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 50
