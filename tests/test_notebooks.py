"""Every notebook runs under papermill with tiny parameters; what each produced is checked, and report.html is
opened in headless Chromium: tables and every figure present, visible and legible.

One module, because every test here reads the one executed tiny suite (the ``suite`` fixture): ``make test``
runs pytest-xdist with ``--dist loadfile``, which keeps a module on one worker, so the suite runs once.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import xml.etree.ElementTree as ElementTree

import nbformat
import pytest

from benchlib.backends import BACKEND_NAMES, available_backends
from benchlib.notebook.suite import FRAMEWORK_NOTEBOOKS, NOTEBOOKS_DIR
from benchlib.studies.article.settings import ARTICLE_ORDER
from tests.conftest import NOTEBOOK_FILES, outputs_text, panel_boxes


def _backend_parameter(name: str) -> str:
    """The ``backend`` literal in a framework notebook's parameters cell."""
    notebook = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    return re.search(r'^backend: str = "(\w+)"', cell.source, re.MULTILINE).group(1)


def test_every_backend_has_one_framework_notebook() -> None:
    backends = [_backend_parameter(name) for name in FRAMEWORK_NOTEBOOKS]
    assert sorted(backends) == sorted(BACKEND_NAMES)


def test_every_notebook_in_the_folder_is_executed(suite) -> None:
    outputs, result = suite
    assert result.failed == {}
    executed = {path.stem for path in result.executed}
    assert {path.stem for path in NOTEBOOK_FILES} <= executed, "a notebook exists that the suite does not run"
    for name in executed:
        notebook = nbformat.read(outputs / "notebooks" / f"{name}.ipynb", as_version=4)
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert errors == [], f"{name} has an error output"


def test_framework_notebooks_append_results(suite) -> None:
    outputs, _ = suite
    installed = set(available_backends())
    for backend in BACKEND_NAMES:
        lines = (outputs / "results" / f"{backend}.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert records and all(r["backend"] == backend for r in records)
        expected = "ok" if backend in installed else "skipped"
        assert {r["status"] for r in records} == {expected}


def test_figures_are_valid_non_empty_images(suite) -> None:
    from PIL import Image

    outputs, _ = suite
    pngs = sorted((outputs / "figures").glob("*.png"))
    names = {path.stem for path in pngs}
    assert {f"{b}-latency" for b in BACKEND_NAMES} <= names
    assert {"comparison-p50-p99", "comparison-latency-ecdf", "comparison-throughput", "comparison-cpu-memory"} <= names
    for png in pngs:
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            assert image.width > 100 and image.height > 100
            # a blank canvas has one colour; a chart has axes, text and data
            assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 10, png.name
        svg = png.with_suffix(".svg")
        assert svg.stat().st_size > 1000 and ElementTree.parse(svg).getroot().tag.endswith("svg")


def test_comparison_tables_list_every_framework(suite) -> None:
    import pandas as pd

    outputs, _ = suite
    availability = pd.read_csv(outputs / "tables" / "comparison-availability.csv")
    assert list(availability["backend"]) == list(BACKEND_NAMES)
    installed = set(available_backends())
    for _, row in availability.iterrows():
        assert row["state"] == ("measured" if row["backend"] in installed else "not available")
    latency = (outputs / "tables" / "comparison-fair-latency_ms.md").read_text()
    for name in ("PyTorch", "TensorFlow", "JAX", "ONNX", "OpenVINO"):
        assert re.search(rf"\| {name} +\|", latency), name
    for metric in ("latency_ms", "cpu_percent", "memory_mb"):  # one row per framework, one configuration
        fair = pd.read_csv(outputs / "tables" / f"comparison-fair-{metric}.csv")
        # the article's tables: its five frameworks (LiteRT and the NumPy baseline are not among them)
        assert fair["Framework"].is_unique and len(fair) == len(installed & set(ARTICLE_ORDER)), metric
    comparison = nbformat.read(outputs / "notebooks" / "comparison.ipynb", as_version=4)
    said = "".join(o.get("data", {}).get("text/markdown", "") for c in comparison.cells for o in c.get("outputs", []))
    assert "**Configuration:** batch size 1, each framework's default variant, the framework's default threads" in said


def test_notebooks_show_people_tables_without_framework_spam(suite) -> None:
    outputs, result = suite
    for path in result.executed:
        text = outputs_text(nbformat.read(path, as_version=4))
        for chatter in ("oneDNN custom operations", "without encryption", "absl::", "run/s]", "it/s]"):
            assert chatter not in text, f"{path.name} shows {chatter!r}"
        assert "row_heading" not in text, f"{path.name} shows a pandas index"
        assert not re.search(r"<td[^>]*>[^<]*\.\.\.</td>", text), f"{path.name} truncates a table cell"
    knobs = outputs_text(nbformat.read(outputs / "notebooks" / "04_onnxruntime.ipynb", as_version=4))
    if "onnxruntime" in set(available_backends()):
        assert "parallel" in knobs  # the variant the text above the table describes


def test_each_notebook_has_a_log_with_its_chatter(suite) -> None:
    outputs, result = suite
    assert set(result.logs) == {path.stem for path in NOTEBOOK_FILES}
    for name, log in result.logs.items():
        assert log == outputs / "logs" / f"{name}.log" and log.read_text().startswith(f"# {name}:")


# -- report.html in headless Chromium ------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: The page width a reader uses (a laptop's browser window: 1300 pixels).
REPORT_VIEWPORT = 1300
#: Every subplot's data area must be at least this tall on the page, in CSS pixels.
MIN_PANEL_HEIGHT_PX = 120
#: A page this wide leaves a table about the room JupyterLab's notebook area gives it in a 1400-pixel window
#: with the file browser open; no table may be wider than the page then.
NARROW_VIEWPORT = 1100
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
        page = browser.new_page(viewport={"width": REPORT_VIEWPORT, "height": 1000})
        page.goto(result.report.as_uri())
        page.wait_for_load_state("load")
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # measure folded tables
        tables = page.eval_on_selector_all("table", "ts => ts.map(t => t.innerText)")
        images = page.eval_on_selector_all(
            "img",
            """imgs => imgs.map(i => { const r = i.getBoundingClientRect(); const s = getComputedStyle(i);
                return {w: i.naturalWidth, h: i.naturalHeight, shownW: r.width, shownH: r.height,
                        visible: s.visibility !== 'hidden' && s.display !== 'none', src: i.src.slice(0, 22),
                        data: i.src.startsWith('data:image/png;base64,') ? i.src.slice(22) : ''}; })""",
        )
        text = page.inner_text("body")
        code_cells = page.eval_on_selector_all(".jp-CodeCell .jp-InputArea, .jp-CodeCell .highlight",
                                               "els => els.filter(e => e.offsetParent).length")
        page.screenshot(path=str(shot), full_page=True)
        page.set_viewport_size({"width": NARROW_VIEWPORT, "height": 1000})
        table_widths = page.eval_on_selector_all(
            "table", """ts => ts.map(t => ({right: t.getBoundingClientRect().right,
                                         page: document.documentElement.clientWidth,
                                         head: t.innerText.slice(0, 60)}))""")
        browser.close()
    return {"tables": tables, "images": images, "text": text, "shot": shot, "code_cells": code_cells,
            "outputs": outputs, "table_widths": table_widths}


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


def test_every_subplot_is_tall_enough_to_read(rendered) -> None:
    charts = [image for image in rendered["images"] if image["data"]]
    assert charts
    for number, image in enumerate(charts):
        boxes = panel_boxes(base64.b64decode(image["data"]))
        assert boxes, f"figure {number}: no subplot frame found"
        scale = image["shownH"] / image["h"]
        shortest = min(y1 - y0 for _, y0, _, y1 in boxes) * scale
        assert shortest >= MIN_PANEL_HEIGHT_PX, (
            f"figure {number}: a subplot is {shortest:.0f} px tall on the page (< {MIN_PANEL_HEIGHT_PX}); "
            f"{len(boxes)} subplots in a {image['shownW']:.0f}x{image['shownH']:.0f} px image")


def test_panel_finder_sees_a_strip_of_six_panels() -> None:
    # the failure this guards against: six panels in one row, shrunk to a strip
    from matplotlib.figure import Figure

    fig = Figure(figsize=(39, 4.2), dpi=100)
    for ax in fig.subplots(1, 6):
        ax.plot([1, 2, 3], [3, 1, 2], color="#ee4c2c")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    boxes = panel_boxes(buffer.getvalue())
    assert len(boxes) == 6
    shown = min(y1 - y0 for _, y0, _, y1 in boxes) * (1100 / 3900)
    assert shown < MIN_PANEL_HEIGHT_PX


def test_panel_finder_sees_a_frame_whose_corner_carries_a_tick() -> None:
    # a log axis whose limit is a tick: the tick lengthens the top line to the left of the spine
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    ax.plot([1, 10], [1, 100], "o")
    ax.set_yscale("log")
    ax.set_ylim(0.5, 100)
    ax.tick_params(axis="y", which="both", direction="out", length=5)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert len(panel_boxes(buffer.getvalue())) == 1


def test_tables_fit_the_notebook_width(rendered) -> None:
    assert rendered["table_widths"]
    for table in rendered["table_widths"]:
        assert table["right"] <= table["page"], (
            f"table {table['head']!r} ends at {table['right']:.0f} px on a {table['page']} px page")


def test_report_has_no_framework_log_spam(rendered) -> None:
    text = rendered["text"]
    for chatter in ("oneDNN custom operations", "without encryption", "absl::", "WARNING: All log messages",
                    "Traceback (most recent call last)", "it/s]", "run/s]"):
        assert chatter not in text
