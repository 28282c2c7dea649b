"""A results folder as one Markdown page under ``docs/results/``: the machine, the settings, the tables, a few charts.

``benchlib results-page [RESULTS_FOLDER]`` turns the ``outputs/`` folder of a ``make reproduce`` run (its
``results/`` records, ``figures/`` charts and ``notebooks/`` executed notebooks), or any folder of results
files, into ``docs/results/<machine>-<date>.md``: the machine's fingerprint, the framework versions and
settings, whether the suite ran quick or full, the comparison, models, precision and scenario tables with
their intervals (the same functions as the notebooks and the HTML report), the machine speed levels the
interleaved rounds found, and two to four charts copied beside the page. The tables' sections are in
:mod:`benchlib.report.results_sections`. ``docs/results/README.md`` lists every page.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib.report import results_sections as sections

#: The first line of every page (and of the index) this module writes; a file without it is never replaced.
MARKER = "<!-- written by benchlib results-page: regenerate it rather than editing it -->"
#: Charts a page shows when the folder has them, in order of preference (a ``make reproduce`` run has all).
PREFERRED_FIGURES = ("comparison-p50-p99", "models-p50-batch1", "sweep_throughput", "precision-speedup-agreement",
                     "scenarios_load_curve_fnn", "comparison-latency-ecdf", "sweep_roofline", "comparison-throughput")
MIN_FIGURES, MAX_FIGURES = 2, 4
#: Words of a CPU model that name neither its vendor nor its family.
_NOISE = re.compile(r"\((?:R|TM|C)\)|\b(?:CPU|Processor|\d+-Core|with|Radeon\b.*)|@.*$", re.IGNORECASE)


class ResultsPageError(ValueError):
    """A results folder that cannot make a page; the message names the folder and what is allowed."""


@dataclass
class ResultsFolder:
    """Where a run's records, charts and executed notebooks are (absent parts are ``None``)."""

    root: Path
    results: Path
    figures: Path | None = None
    notebooks: Path | None = None
    files: list[Path] = field(default_factory=list)


@dataclass
class ResultsPage:
    """A written page: its path, the charts beside it and the index that lists it."""

    path: Path
    figures: list[Path]
    index: Path
    records: int
    mode: str


def locate(folder: str | Path) -> ResultsFolder:
    """The parts of ``folder``: an ``outputs/`` folder (``results/``, ``figures/``, ``notebooks/``) or a folder of
    results files. Raises :class:`ResultsPageError` when it is not a folder or holds no ``*.jsonl`` file."""
    root = Path(folder)
    if not root.is_dir():
        raise ResultsPageError(f"RESULTS_FOLDER={str(root)!r} is not a folder; allowed: the outputs/ folder of a "
                               "`make reproduce` run, or a folder of benchlib results files (*.jsonl)")
    results = root / "results" if (root / "results").is_dir() else root
    part = {name: root / name if (root / name).is_dir() else None for name in ("figures", "notebooks")}
    # a suite's earlier runs are moved to outputs/archive/: never part of this run's page
    files = sorted(p for p in results.rglob("*.jsonl") if "archive" not in p.relative_to(results).parts)
    return ResultsFolder(root, results, part["figures"], part["notebooks"], files)


def read_folder(folder: ResultsFolder) -> tuple[list[dict[str, Any]], list[str]]:
    """Every record of the folder's results files and the lines that could not be read.

    Raises :class:`ResultsPageError` naming the folder when there is no record at all.
    """
    from benchlib.results.store import read_records

    records, problems = read_records(folder.files) if folder.files else ([], [])
    if not records:
        found = f"{len(folder.files)} *.jsonl file(s) without a readable record" if folder.files else \
            "no *.jsonl results file"
        raise ResultsPageError(
            f"RESULTS_FOLDER={str(folder.root)!r} holds no benchlib record ({found} under {folder.results}); "
            "allowed: the outputs/ folder of a `make reproduce` run, or a folder of results files written by "
            "`benchlib run`, `sweep`, `scenarios` or the notebooks")
    return records, problems


def suite_mode(folder: ResultsFolder) -> tuple[str, str]:
    """``("quick" | "full" | "commands", how it is known)``.

    The suite marks a quick run in two places: the ``quick`` parameter papermill wrote into each executed
    notebook (``metadata.papermill.parameters``), and the fixed results files of the studies that have a
    quick form (``sweep-quick.jsonl``, ``scenarios-quick.jsonl``; ``sweep.jsonl`` for a full run).
    """
    if folder.notebooks is not None:
        for path in sorted(folder.notebooks.glob("*.ipynb")):
            try:
                parameters = json.loads(path.read_text(encoding="utf-8"))["metadata"]["papermill"]["parameters"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if isinstance(parameters, dict) and isinstance(parameters.get("quick"), bool):
                mode = "quick" if parameters["quick"] else "full"
                return mode, f"the executed notebook {path.name} ran with quick={parameters['quick']}"
    names = {path.name for path in folder.files}
    for study in ("sweep", "scenarios"):
        if f"{study}-quick.jsonl" in names:
            return "quick", f"the results hold {study}-quick.jsonl, the quick {study}'s file"
        if f"{study}.jsonl" in names:
            return "full", f"the results hold {study}.jsonl, the full {study}'s file"
    return "commands", "no executed notebook and no sweep or scenario results: records of single commands"


def machine_slug(env: dict[str, Any] | None) -> str:
    """A short name for the machine: the CPU model's vendor and family plus its usable cores (``amd-epyc-2c``)."""
    env = env if isinstance(env, dict) else {}
    model = _NOISE.sub(" ", str(env.get("cpu_model") or ""))
    words = [w for w in re.split(r"[^a-z0-9]+", model.lower()) if re.search(r"[a-z]", w)][:2]
    name = "-".join(words) or "unknown-cpu"
    cores = env.get("usable_cores") or env.get("logical_cores")
    if isinstance(cores, int | float) and not isinstance(cores, bool) and cores > 0:
        name += f"-{cores:g}c"
    return name


def _chosen_machine(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The records of the machine most of them came from, and how many records of other machines were left out."""
    from benchlib.results.records import machine_of

    counts: dict[str | None, int] = {}
    for record in records:
        counts[machine_of(record)] = counts.get(machine_of(record), 0) + 1
    chosen = max(counts, key=lambda m: (m is not None, counts[m]))
    kept = [r for r in records if machine_of(r) == chosen]
    return kept, len(records) - len(kept)


def page_name(records: list[dict[str, Any]]) -> tuple[str, str]:
    """``(machine, date)`` of a page: :func:`machine_slug` of the newest record's fingerprint and that record's
    date (``YYYY-MM-DD``; ``undated`` when it has none). The page is ``<machine>-<date>.md``."""
    newest = max(records, key=lambda r: str(r.get("created") or ""))
    date = str(newest.get("created") or "")[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        date = "undated"
    return machine_slug(newest.get("env")), date


def _writable(path: Path) -> None:
    """Refuse to replace a file this module did not write."""
    if path.exists():
        head = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0] if path.is_file() else ""
        if head.strip() != MARKER:
            raise ResultsPageError(f"{path} exists and was not written by benchlib results-page (its first line is "
                                   "not the page marker); allowed: a new path, or a page written by results-page; "
                                   "move that file or choose another --docs folder")


def _figures(folder: ResultsFolder, frame: Any, records: list[dict[str, Any]], target: Path) -> list[Path]:
    """Two to four charts in ``target``: the folder's own (preferred ones first), else drawn from the records."""
    found: list[Path] = []
    if folder.figures is not None:
        pngs = {p.stem: p for p in sorted(folder.figures.glob("*.png"))}
        found = [pngs[name] for name in PREFERRED_FIGURES if name in pngs]
        found += [p for name, p in pngs.items() if p not in found]
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.png"):  # a page written again shows this run's charts only
        old.unlink()
    written = []
    for source in found[:MAX_FIGURES]:
        written.append(Path(shutil.copyfile(source, target / source.name)))
    if len(written) < MIN_FIGURES:
        from benchlib.report.figures import CHART_CREATOR, SAVED_DPI, latency_distribution, p50_with_p99

        for name, figure in (("p50-p99", lambda: p50_with_p99(frame)),
                             ("latency-ecdf", lambda: latency_distribution(records))):
            path = target / f"{name}.png"
            if len(written) < MIN_FIGURES and path not in written:
                figure().savefig(path, dpi=SAVED_DPI, bbox_inches="tight", metadata={"Creator": CHART_CREATOR})
                written.append(path)
    return written


def portable_paths(records: list[dict[str, Any]], root: Path) -> list[dict[str, Any]]:
    """``records`` with model files inside the results folder named from the folder (``outputs/models/x.onnx``):
    a page in the repository must not carry the path of the machine the run happened on."""
    base = root.resolve()
    out = []
    for record in records:
        model = record.get("model")
        if isinstance(model, str) and Path(model).is_absolute():
            try:
                model = str(Path(base.name) / Path(model).resolve().relative_to(base))
            except ValueError:
                model = Path(model).name
            record = {**record, "model": model}
        out.append(record)
    return out


def build_page(results_folder: str | Path, docs: str | Path) -> ResultsPage:
    """Write the page of ``results_folder`` into ``docs`` (and its charts into ``docs/<stem>/``), and the index.

    Raises :class:`ResultsPageError` for a folder without records or a page path benchlib did not write.
    """
    from benchlib.system.files import atomic_write_text

    folder = locate(results_folder)
    every, problems = read_folder(folder)
    records, others = _chosen_machine(every)
    records = portable_paths(records, folder.root)
    slug, date = page_name(records)
    stem = f"{slug}-{date}"
    docs = Path(docs)
    page = docs / f"{stem}.md"
    _writable(page)
    _writable(docs / "README.md")
    mode, how = suite_mode(folder)
    frame = sections.engine_frame(records)
    figures = _figures(folder, frame, records, docs / stem)
    env = max(records, key=lambda r: str(r.get("created") or "")).get("env") or {}
    lines = [MARKER, "", f"# Results: {sections.cpu_name(env)}, {slug} ({date})", "",
             sections.summary(Path(folder.root.resolve().name), len(records), others, problems, mode, how), ""]
    lines += sections.machine(records)
    lines += sections.frameworks(records)
    lines += sections.settings(records, mode)
    lines += sections.comparison(frame)
    lines += sections.models(frame)
    lines += sections.precision(records)
    lines += sections.scenarios(records)
    lines += sections.noise_audit(records)
    lines += ["## Charts", ""]
    lines += [f"![{path.stem}]({stem}/{path.name})\n" for path in figures]
    docs.mkdir(parents=True, exist_ok=True)
    atomic_write_text(page, "\n".join(lines).rstrip() + "\n")
    index = write_index(docs)
    return ResultsPage(page, figures, index, len(records), mode)


def write_index(docs: str | Path) -> Path:
    """``docs/README.md``: one line per results page in ``docs`` (newest date first), each with its title."""
    from benchlib.system.files import atomic_write_text

    docs = Path(docs)
    index = docs / "README.md"
    _writable(index)
    pages = []
    for path in docs.glob("*.md"):
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), path.stem)
        pages.append((path.stem[-10:], path.name, title))
    lines = [MARKER, "", "# Results pages", "",
             "One page per results folder, written by `benchlib results-page RESULTS_FOLDER` from the `outputs/` "
             "folder of a `make reproduce` run: the machine, the settings, the tables with their intervals and a "
             "few charts. Each page's name is the machine (CPU vendor and family, usable cores) and the date of "
             "its newest record.", ""]
    lines += [f"- [{name}]({name}): {title}" for _, name, title in sorted(pages, reverse=True)] or \
        ["No page yet: run `make reproduce`, then `benchlib results-page outputs/`."]
    docs.mkdir(parents=True, exist_ok=True)
    atomic_write_text(index, "\n".join(lines) + "\n")
    return index
