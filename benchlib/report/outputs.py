"""Every file a command will write, planned and checked before anything runs.

A command first plans its outputs here (``plan_run``, ``plan_sweep``, ``plan_results``, ``plan_article``,
``plan_report``; a notebook ``plan_notebook``): a command's ``--out`` is a folder, with ``results/``,
``tables/`` and ``figures/`` inside; each plan checks every path it will write and raises
:class:`OutputRefused` (naming the option, the path, the reason and what to do) when a path:

- is an input of the same command (``report r.jsonl --markdown r.jsonl``);
- collides with another output of the same command (``report --csv r.md --markdown r.md``);
- is a directory where a file is expected, or a file where a folder is expected;
- is a device, FIFO or socket (``/dev/null`` swallows results, ``/dev/full`` fails after the run);
- is an existing file benchlib did not write: a results file must be empty or start with a
  benchlib record; an export must be missing or an export benchlib wrote (by how it begins);
- lies under a regular file, or in a folder that cannot be written;
- would not fit: the free space must hold the expected records.

Checks that create something (the folders, a probe file) come last, so a refused command leaves
nothing behind. Inputs are checked too: only regular files and folders are read.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchlib.report.table_files import TABLE_MARKER, vouched
from benchlib.results.store import file_kind
from benchlib.system.files import prove_writable

#: A record with 10,000 stored samples and a resource timeline takes about 100 KB; with margin.
EXPECTED_RECORD_BYTES = 256 * 1024
#: Room for the tables, the CSV export and the figures written after the records.
SPARE_BYTES = 4 * 2**20
#: First line of the Markdown that ``report --markdown`` writes: how a later run knows the file is its own.
MARKDOWN_MARKER = "<!-- benchlib report -->"

_RESULTS_START = re.compile(rb'\s*\{\s*"schema_version"\s*:')
#: First line of an export benchlib wrote, by kind (older Markdown exports start with the table).
_EXPORT_START = {
    "csv": re.compile(rb"(\xef\xbb\xbf)?schema_version,"),
    "markdown": re.compile(rb"\s*(" + re.escape(MARKDOWN_MARKER.encode()) + rb"|\| model \|)"),
    "json": re.compile(rb"\s*\{"),
    # a table benchlib wrote (benchlib.report.table_files.write_table): its Markdown begins with benchlib's
    # marker, which vouches for the CSV beside it (see export_file); a notebook's results table written
    # before the marker existed is recognised by its columns
    "table CSV": re.compile(rb"(\xef\xbb\xbf)?(machine,)?model,backend,variant,"),
    "table Markdown": re.compile(rb"\s*(" + re.escape(TABLE_MARKER.encode())
                                 + rb"|\|\s*(machine\s*\|\s*)?model\s*\|\s*backend\s*\|)"),
    # a Markdown document benchlib wrote (report --markdown, the article's article.md)
    "Markdown document": re.compile(rb"\s*" + re.escape(MARKDOWN_MARKER.encode())),
    # a sweep's roofline file (benchlib.studies.sweep.measure_roofline) names benchlib (older: the env key)
    "roofline JSON": re.compile(rb'\s*\{\s*"(creator"\s*:\s*"benchlib"|env_key"\s*:)'),
    # charts name benchlib as their creator (report.figures.save_figure); a user's own chart does not
    "PNG chart": re.compile(rb"\x89PNG\r\n\x1a\n.{0,512}?Creator\x00benchlib", re.DOTALL),
    "SVG chart": re.compile(rb"\s*<\?xml.{0,3500}?<dc:creator>\s*<cc:Agent>\s*<dc:title>benchlib</dc:title>",
                            re.DOTALL),
}


class OutputRefused(ValueError):
    """An output (or input) path that the command must not use; the message says why and what to do."""


def _name(option: str, path: Path) -> str:
    return f"{option}={str(path)!r}"


def same_file(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file: the same resolved path, or (existing) the same inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _mode(path: Path) -> int | None:
    """The file type of ``path`` (symlinks followed), or ``None`` if nothing is there."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise OutputRefused(f"{path} is a symbolic link to a missing file ({os.readlink(path)}); "
                                "allowed: a regular path; remove the link or choose another path") from None
        return None
    except NotADirectoryError:
        return None  # under a regular file: the parent check names it
    except OSError as exc:
        raise OutputRefused(f"{path} cannot be checked ({exc.strerror or exc}); allowed: a path you can read") \
            from None


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _check_parent(option: str, path: Path) -> None:
    """The nearest existing folder above ``path`` is a folder (not a regular file)."""
    for parent in path.absolute().parents:
        mode = _mode(parent)
        if mode is None:
            continue
        if not stat.S_ISDIR(mode):
            raise OutputRefused(f"{_name(option, path)} is not writable (Not a directory); {parent} is "
                                f"{file_kind(mode)}; allowed: a path in a writable folder")
        return


def probe_folder(option: str, folder: Path, shown: Path) -> None:
    """Create ``folder`` if needed and prove it writable with a real file (root passes os.access everywhere)."""
    try:
        prove_writable(folder)
    except OSError as exc:
        raise OutputRefused(f"{_name(option, shown)} is not writable ({exc.strerror or exc}); "
                            "allowed: a path in a writable folder") from None


def _not_special(option: str, path: Path, mode: int, expected: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise OutputRefused(f"{_name(option, path)} is a directory; allowed: {expected} path (a file inside "
                            "that folder, for example)")
    raise OutputRefused(f"{_name(option, path)} is {file_kind(mode)}, not a regular file: what is written "
                        f"there is lost or fails after the run; allowed: {expected} path on disk")


def _not_an_input(option: str, path: Path, inputs: Sequence[Path]) -> None:
    for source in inputs:
        if same_file(path, source):
            raise OutputRefused(f"{_name(option, path)} is also an input of this command ({source}); "
                                "writing it would replace what is being read; allowed: another path")
        if source.is_dir() and path.suffix == ".jsonl" and same_file(path.parent, source):
            raise OutputRefused(f"{_name(option, path)} is a .jsonl file inside the input folder {source}, "
                                "so it would be read as results; allowed: another name or folder")


def results_file(option: str, path: Path) -> Path:
    """Check a file that records will be appended to: missing, empty, or benchlib's JSON lines."""
    mode = _mode(path)
    if mode is None:
        _check_parent(option, path)
        return path
    _not_special(option, path, mode, "a results file")
    head = _head(path)
    if head.strip() and not _RESULTS_START.match(head):
        raise OutputRefused(
            f"{_name(option, path)} is an existing file that benchlib did not write (it does not start "
            f"with a benchlib record); appending results would change it; allowed: a new file, an empty one "
            f"or a benchlib results file (JSON lines); move that file or choose another path")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        raise OutputRefused(f"{_name(option, path)} is not writable ({exc.strerror or exc}); "
                            "allowed: a path in a writable folder") from None
    return path


def export_file(option: str, path: Path, kind: str, inputs: Sequence[Path] = ()) -> Path:
    """Check a file that will be replaced by an export (``csv``, ``markdown``, ``json``)."""
    _not_an_input(option, path, inputs)
    mode = _mode(path)
    if mode is None:
        _check_parent(option, path)
        return path
    _not_special(option, path, mode, f"a {kind} file")
    head = _head(path)
    if head.strip() and not _EXPORT_START[kind].match(head) and not _vouched_table(path, kind):
        why = (f"neither does it begin as a benchlib {kind} export does, nor does a benchlib table Markdown "
               f"beside it ({path.stem}.md) vouch for it as it is now" if kind == "table CSV"
               else f"it does not begin as a benchlib {kind} export does")
        raise OutputRefused(
            f"{_name(option, path)} is an existing file that benchlib did not write ({why}), and writing the "
            f"export would replace it; allowed: a new path, or an export benchlib wrote before; move that file "
            f"or choose another path (a file an earlier version of benchlib wrote may lack the marks this one "
            f"checks: `make reproduce` moves outputs/results, tables and figures aside first)")
    return path


def _vouched_table(path: Path, kind: str) -> bool:
    """A table CSV whose Markdown twin begins with benchlib's marker and names this CSV's SHA-256."""
    return kind == "table CSV" and vouched(path)


def output_dir(option: str, path: Path, inputs: Sequence[Path] = ()) -> Path:
    """Check a folder that files will be written into: missing (created later) or a folder."""
    for source in inputs:
        if same_file(path, source):
            raise OutputRefused(f"{_name(option, path)} is also an input of this command; allowed: another folder")
    mode = _mode(path)
    if mode is None:
        _check_parent(option, path)
    elif not stat.S_ISDIR(mode):
        raise OutputRefused(f"{_name(option, path)} is {file_kind(mode)}, not a folder; allowed: a folder path "
                            "(created if missing)")
    return path


def distinct(outputs: dict[str, Path]) -> None:
    """No two outputs of one command are the same file."""
    items = list(outputs.items())
    for i, (option, path) in enumerate(items):
        for other, second in items[i + 1:]:
            if same_file(path, second):
                raise OutputRefused(f"{_name(option, path)} and {other} are the same file; each would overwrite "
                                    "the other; allowed: different paths")


def free_bytes(path: Path) -> int | None:
    """Free bytes on the filesystem that holds (or will hold) ``path``."""
    for folder in (path, *path.absolute().parents):
        if folder.is_dir():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def check_free_space(option: str, path: Path, records: int) -> None:
    """Refuse when the filesystem of ``path`` cannot hold ``records`` more records and the exports."""
    free, need = free_bytes(path), records * EXPECTED_RECORD_BYTES + SPARE_BYTES
    if free is not None and free < need:
        raise OutputRefused(f"{_name(option, path)}: only {free / 2**20:.1f} MB free on its disk; {records} run(s) "
                            f"need about {need / 2**20:.1f} MB; allowed: free some space, or a path on another disk")


def input_paths(option: str, paths: Iterable[Path]) -> list[Path]:
    """Inputs that exist and are regular files or folders (FIFOs, devices and sockets refused)."""
    checked = []
    for path in paths:
        mode = _mode(path)
        if mode is None:
            raise OutputRefused(f"{_name(option, path)} does not exist; allowed: a results file or folder")
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise OutputRefused(f"{_name(option, path)} is {file_kind(mode)}, not a regular file; reading it "
                                "could block or never end; allowed: a results file (JSON lines) or a folder")
        checked.append(path)
    return checked


# -- one plan per command ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RunOutputs:
    """Where ``run`` writes: the records and their CSV export beside them."""

    results: Path
    csv: Path


def csv_beside(results: Path) -> Path:
    """The CSV export of a results file: the same name with ``.csv``."""
    return results.with_suffix(".csv")


def plan_run(out: Path, runs: int) -> RunOutputs:
    """Check ``run --out`` (a folder) for ``runs`` records: its results file ``results/run.jsonl`` and the CSV
    export beside it; creates the folders last."""
    from benchlib.studies.plan import results_file as study_results

    output_dir("--out", out)
    output_dir("--out", out / "results")
    results = results_file("--out", study_results("run", folder=out / "results"))
    csv = csv_beside(results)
    export_file("the CSV export in --out", csv, "csv")
    check_free_space("--out", out, runs)
    probe_folder("--out", out / "results", out)
    return RunOutputs(results, csv)


def plan_sweep(out: Path, results: Path, runs: int, table_names: Sequence[str] = (),
               figure_names: Sequence[str] = ()) -> None:
    """Check ``sweep --out`` (a folder): the results file ``results`` in its ``results/``, the roofline beside it,
    its ``tables/`` and ``figures/``, and each table (``<name>.md``, ``<name>.csv``) and chart (``<name>.png``,
    ``<name>.svg``) it will replace there; creates the folders last."""
    from benchlib.studies.sweep import roofline_path

    output_dir("--out", out)
    for sub in ("results", "tables", "figures"):  # named by their own path under --out
        output_dir("--out", out / sub)
    results_file("--out", results)
    export_file("the roofline file in --out", roofline_path(results), "roofline JSON")
    replaced_exports("--out", [out / "tables" / name for name in table_names], "--out",
                     [out / "figures" / name for name in figure_names])
    check_free_space("--out", out, runs)
    for sub in ("results", "tables", "figures"):
        probe_folder("--out", out / sub, out)


def plan_results(out: Path, results: Path, runs: int) -> None:
    """Check the ``--out`` folder of a command that writes only records (``scenarios``, ``fleet``): its
    ``results/`` and the results file ``results`` there, for ``runs`` records; creates the folders last."""
    output_dir("--out", out)
    output_dir("--out", out / "results")
    results_file("--out", results)
    check_free_space("--out", out, runs)
    probe_folder("--out", out / "results", out)


def replaced_exports(table_option: str, tables: Sequence[Path], figure_option: str, figures: Sequence[Path],
                     documents: Sequence[Path] = ()) -> None:
    """Refuse, by the option that names its folder, any table, chart or Markdown document a command would
    replace that benchlib did not write (each table is a Markdown and a CSV file, each chart a PNG and an SVG)."""
    for table in tables:
        for suffix, kind in TABLE_FILES:
            export_file(table_option, table.with_name(table.name + suffix), kind)
    for document in documents:
        export_file(table_option, document, "Markdown document")
    for figure in figures:
        for suffix, kind in CHART_FILES:
            export_file(figure_option, figure.with_name(figure.name + suffix), kind)


#: The files of one table and of one chart, with the kind :data:`_EXPORT_START` recognises.
TABLE_FILES = ((".md", "table Markdown"), (".csv", "table CSV"))
CHART_FILES = ((".png", "PNG chart"), (".svg", "SVG chart"))


ARTICLE_RESULTS = ("article-protocol.jsonl", "article-corrected.jsonl")


def plan_article(out: Path, runs: int, table_names: Sequence[str] = (), figure_names: Sequence[str] = (),
                 document: str | None = None) -> None:
    """Check ``article --out``: the folder, its results files, its tables, figures and models folders, and
    each table, chart and Markdown document it will replace in them."""
    output_dir("--out", out)
    for sub in ("results", "tables", "figures", "models"):  # named by their own path under --out
        output_dir("--out", out / sub)
    for name in ARTICLE_RESULTS:
        results_file("--out", out / "results" / name)
    replaced_exports("--out", [out / "tables" / name for name in table_names], "--out",
                     [out / "figures" / name for name in figure_names],
                     [out / "tables" / document] if document else [])
    check_free_space("--out", out, runs)
    for sub in ("results", "tables", "figures", "models"):
        probe_folder("--out", out / sub, out)


def plan_report(inputs: Sequence[Path], markdown: Path | None, csv: Path | None) -> list[Path]:
    """Check the inputs of ``report`` and its ``--markdown`` and ``--csv`` exports; returns the inputs."""
    sources = input_paths("PATH", inputs)
    named = {}
    if markdown is not None:
        named["--markdown"] = export_file("--markdown", markdown, "markdown", sources)
    if csv is not None:
        named["--csv"] = export_file("--csv", csv, "csv", sources)
    distinct(named)
    for option, path in named.items():
        probe_folder(option, path.parent, path)
    return sources


def plan_notebook(results: Path | Sequence[Path] | None, tables: Sequence[Path], figures: Sequence[Path],
                  runs: int, files: Sequence[tuple[str, Path, str]] = ()) -> dict[str, Path]:
    """Check every file a notebook writes before it runs anything: what ``run`` checks, by parameter.

    ``results`` is the results file (or files, or none) under ``results_dir``; each of ``tables``
    (under ``tables_dir``) becomes ``<name>.md`` and ``<name>.csv``, each of ``figures`` (under
    ``figures_dir``) ``<name>.png`` and ``<name>.svg``; ``files`` are the notebook's other outputs as
    ``(parameter, path, kind)`` with a kind of :data:`_EXPORT_START` (a roofline, a Markdown
    document). All of them are replaced on a re-run, the results appended to. Any that exists and was
    not written by benchlib is refused (:class:`OutputRefused`), as are devices, folders where a file
    goes and two outputs that are one file; the folders are created last. Returns the planned paths
    by what the refusal would call them.
    """
    sources = [results] if isinstance(results, Path) else list(results or ())
    named = {f"the results file in results_dir ({path.name})": results_file("the results file in results_dir", path)
             for path in sources}
    exports = [("tables_dir", table.with_name(table.name + suffix), kind) for table in tables
               for suffix, kind in TABLE_FILES]
    exports += [("figures_dir", figure.with_name(figure.name + suffix), kind) for figure in figures
                for suffix, kind in CHART_FILES]
    for parameter, path, kind in [*exports, *files]:
        option = f"the {kind} in {parameter}"
        named[f"{option} ({path.name})"] = export_file(option, path, kind, sources)
    distinct(named)
    folders = list(dict.fromkeys([*(("results_dir", path.parent) for path in sources),
                                  *(("tables_dir", t.parent) for t in tables),
                                  *(("figures_dir", f.parent) for f in figures),
                                  *((parameter, path.parent) for parameter, path, _ in files)]))
    if folders:
        check_free_space(folders[0][0], folders[0][1], runs)
    for parameter, folder in folders:
        output_dir(parameter, folder)
    for parameter, folder in folders:
        probe_folder(parameter, folder, folder)
    return named
