"""Build the self-contained HTML report from executed notebooks (code hidden, images embedded)."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import nbformat

#: The start of an HTML tag in Markdown (``<img``, ``</b``, ``<!--``, ``<?``): the exporter would pass it on as HTML.
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
#: Link syntax in Markdown (``[x](url)``, ``[x]: url``): a ``javascript:`` address would become a live link.
_LINK = re.compile(r"\]\s*(?=[(:\[])")


def inert_markdown(text: str) -> str:
    """A Markdown output with no tag and no link left to render: the exporter passes raw HTML through.

    Notebooks escape record values themselves (:func:`benchlib.report.display.markdown`); this is the
    report's own guard for any Markdown output that did not. Already escaped text is unchanged.
    """
    return _LINK.sub(lambda m: m.group(0).replace("]", "&#93;"), _TAG.sub("&lt;", text))


#: What the title of a quick run's report adds.
QUICK_TITLE = "quick run"
#: The first thing a quick run's report says (and each notebook the quick suite executed): what it is and
#: how to get the real numbers.
QUICK_NOTICE = (
    "> **Quick run (`make reproduce QUICK=1`): short measurements, not the benchmark's results.** Every notebook "
    "ran every cell, but on small work: fewer batch sizes, variants, frameworks and models than the full run, "
    "and timed loops of a fraction of a second at a fixed length, without the precision target the full run "
    "measures to (interleaved rounds until the median's 95% interval is narrow). The numbers show that everything "
    "works and roughly where each framework stands; they are not for quoting or ranking close results. "
    "For the full run: `make reproduce` (or `python -m benchlib.notebook.suite`)."
)


def combine_notebooks(paths: list[Path], title: str, notice: str | None = None) -> nbformat.NotebookNode:
    """One notebook holding each notebook's cells in turn, minus parameter cells; ``notice`` (Markdown)
    right under the title."""
    combined = nbformat.v4.new_notebook()
    combined.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}
    combined.cells.append(nbformat.v4.new_markdown_cell(f"# {title}"))
    if notice:
        combined.cells.append(nbformat.v4.new_markdown_cell(notice))
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            tags = set(cell.get("metadata", {}).get("tags", []))
            if tags & {"parameters", "injected-parameters", "remove-from-report"}:
                continue
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":
                # framework log lines and progress bars go to stderr; the report shows results only
                cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream"
                                                                 and o.get("name") == "stderr")]
                for output in cell.outputs:
                    data = output.get("data", {})
                    if "text/markdown" in data:  # may hold record values; its HTML would be live in the report
                        data["text/markdown"] = inert_markdown(str(data["text/markdown"]))
            combined.cells.append(cell)
    return combined


def write_report(notebooks: list[Path], out: Path, title: str = "benchlib report", quick: bool = False) -> Path:
    """Render ``notebooks`` (already executed) into one HTML file with no code shown.

    Images are inlined as base64 by the exporter, so the file is self-contained. ``quick``: the notebooks
    ran with the quick settings; the title says so and :data:`QUICK_NOTICE` comes first.
    """
    from nbconvert import HTMLExporter

    missing = [str(p) for p in notebooks if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"notebooks to report on do not exist: {', '.join(missing)}")
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    if quick:
        title = f"{title} ({QUICK_TITLE})"
    body, _ = exporter.from_notebook_node(combine_notebooks(notebooks, title, QUICK_NOTICE if quick else None))
    body = body.replace("<title>Notebook</title>", f"<title>{html.escape(title)}</title>", 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out
