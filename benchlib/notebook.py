"""What the framework and comparison notebooks call: each cell is one of these functions and a display.

Everything here is also reachable from the CLI (``verify``, ``env``, ``run``, ``report``); the notebooks
only choose parameters and show the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchlib.backends.registry import BACKEND_NAMES, backend_variants, create_backend, missing_requirement
from benchlib.engine.case import RunCase
from benchlib.models.zoo import get_model


@dataclass(frozen=True)
class Availability:
    """Whether a framework can run here, and the sentence a notebook shows first."""

    backend: str
    available: bool
    message: str


def announce(backend: str) -> Availability:
    """Say whether ``backend`` is installed, naming the requirement when it is not."""
    requirement = missing_requirement(backend)
    if requirement is None:
        from importlib.metadata import PackageNotFoundError, version

        module = {"pytorch": "torch", "tensorflow": "tensorflow-cpu", "jax": "jax"}.get(backend, backend)
        try:
            found = version(module)
        except PackageNotFoundError:
            found = "installed"
        return Availability(backend, True, f"{backend} is available ({module} {found}).")
    return Availability(
        backend, False,
        f"{backend} is NOT available: install it with `pip install {requirement}`. The cells below record "
        "it as skipped and measure nothing; the comparison lists it as not available.",
    )


def resolve_threads(threads: int | str | None) -> int | None:
    """The thread count a notebook's ``threads`` parameter means (docs/threads.md): ``"cores"`` is one
    per usable core, ``None``/``"default"`` the framework's own default, an integer itself."""
    from benchlib.engine.grid import resolve_threads as resolve

    return resolve(threads)


def environment_table() -> pd.DataFrame:
    """The environment fingerprint as a two-column table."""
    from benchlib.env import collect_env

    env = collect_env()
    rows = []
    for key in ("cpu_model", "isa_flags", "physical_cores", "logical_cores", "usable_cores", "cpu_quota_cores",
                "memory_total_mb", "os", "kernel", "python", "frameworks", "thread_env", "load_avg", "warnings"):
        if key not in env:
            continue
        value = env[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        rows.append({"what": key, "value": value})
    return pd.DataFrame(rows)


def verification_table(backend: str, threads: int | None = None) -> pd.DataFrame:
    """Build the spec in ``backend`` and compare with the float64 reference at batch 1, 7 and 1000."""
    from benchlib.verify import verify_backend

    result = verify_backend(backend, get_model("fnn"), threads=threads)
    return pd.DataFrame([result.to_dict()])


def knobs_table(backend: str, threads: int | None = None) -> pd.DataFrame:
    """The default variant's thread settings as the framework reports them, and every variant offered."""
    if missing_requirement(backend) is not None:
        return pd.DataFrame([{"setting": "status", "value": "not installed"}])
    instance = create_backend(backend, get_model("fnn"), threads=threads)
    instance.build()
    rows = [{"setting": key, "value": value} for key, value in instance.thread_settings().items()]
    rows.append({"setting": "variants", "value": ", ".join(backend_variants(backend))})
    return pd.DataFrame(rows)


def framework_cases(backend: str, variants: list[str], batch_sizes: list[int], threads: int | str | None,
                    min_time_s: float) -> list[RunCase]:
    """One case per (variant, batch size) from the one case grid; empty ``variants`` means the default."""
    from benchlib.engine.grid import case_grid

    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend={backend!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}")
    if missing_requirement(backend) is None:
        offered = backend_variants(backend)
        for variant in variants:
            if variant not in offered:
                raise ValueError(f"variants={variants!r}: {variant!r} is unknown for {backend}; "
                                 f"allowed: {', '.join(offered)}")
    # An uninstalled backend runs its default variant once per batch size: each becomes a skipped record.
    chosen = list(variants) if variants and missing_requirement(backend) is None else None
    return case_grid([backend], batch_sizes, threads=[threads], variants=chosen, min_time_s=min_time_s)


def measure(backend: str, variants: list[str], batch_sizes: list[int], threads: int | None, min_time_s: float,
            results_dir: str | Path) -> list[dict[str, Any]]:
    """Run each case in its own process and append the records to ``results_dir/<backend>.jsonl``."""
    from benchlib.engine.launcher import run_cases

    path = Path(results_dir) / f"{backend}.jsonl"
    return run_cases(framework_cases(backend, variants, batch_sizes, threads, min_time_s), results_path=path,
                     resume_hint="Run the cell again to resume: finished cases are kept.")


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The tidy frame of just-made records (same columns as :func:`benchlib.results.load`)."""
    from benchlib.results.store import flatten

    return pd.DataFrame([flatten(record) for record in records])


def results_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The comparison table of these records."""
    from benchlib.report.tables import comparison_table

    return comparison_table(records_frame(records))


def load_results(results_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]], list[str]]:
    """Every record under ``results_dir``: the tidy frame, the raw records and the load problems."""
    from benchlib.results.store import flatten, read_records

    folder = Path(results_dir)
    if not folder.exists() or not any(folder.glob("*.jsonl")):
        return pd.DataFrame(), [], [f"no results in {folder}"]
    records, problems = read_records(folder)
    return pd.DataFrame([flatten(r) for r in records]), records, problems


def engine_results(frame: pd.DataFrame, records: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Only the fair-measurement records (protocol ``engine``), for the comparison."""
    if frame.empty:
        return frame, records
    mask = frame["protocol"].eq("engine") if "protocol" in frame else pd.Series(True, index=frame.index)
    return frame[mask].reset_index(drop=True), [r for r in records if r.get("protocol", "engine") == "engine"]


def availability_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per known backend: installed here?, runs ok / failed / skipped in the results."""
    rows = []
    for backend in BACKEND_NAMES:
        requirement = missing_requirement(backend)
        part = frame[frame["backend"].eq(backend)] if not frame.empty else frame
        counts = part["status"].value_counts().to_dict() if not part.empty else {}
        if part.empty:
            state = "not available" if requirement else "no results"
        elif counts.get("ok"):
            state = "measured"
        else:
            state = "not available" if counts.get("skipped") else "failed"
        rows.append({"backend": backend, "installed": requirement is None, "state": state,
                     "ok": counts.get("ok", 0), "failed": counts.get("failed", 0),
                     "skipped": counts.get("skipped", 0),
                     "install": f"pip install {requirement}" if requirement else ""})
    return pd.DataFrame(rows)


def default_variant_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Each backend's default-variant rows only, newest record per (backend, batch size, threads)."""
    if frame.empty:
        return frame
    defaults = {name: backend_variants(name)[0] for name in BACKEND_NAMES if missing_requirement(name) is None}
    variant = frame["variant"] if "variant" in frame else pd.Series(None, index=frame.index)
    is_default = [v is None or (isinstance(v, float) and pd.isna(v)) or defaults.get(b) == v
                  for b, v in zip(frame["backend"], variant, strict=True)]
    chosen = frame[is_default]
    if "created" in chosen:
        chosen = chosen.sort_values("created", kind="stable")
    return chosen.drop_duplicates(["backend", "batch_size", "threads"], keep="last").reset_index(drop=True)


def fair_article_tables(frame: pd.DataFrame, batch_size: int = 1000) -> dict[str, pd.DataFrame]:
    """The article's three tables, measured fairly (default variant, engine runs) at ``batch_size``."""
    from benchlib.report.article_tables import article_tables, corrected_frame

    rows = default_variant_rows(frame)
    if not rows.empty:
        rows = rows[rows["status"].eq("ok")]
    return article_tables(corrected_frame(rows, batch_size=batch_size))


def save_table(table: pd.DataFrame, tables_dir: str | Path, name: str) -> list[Path]:
    """Write ``table`` as ``name.md`` and ``name.csv`` under ``tables_dir``."""
    from benchlib.report.tables import to_markdown

    folder = Path(tables_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.md", folder / f"{name}.csv"]
    paths[0].write_text(to_markdown(table) + "\n", encoding="utf-8")
    table.to_csv(paths[1], index=False)
    return paths


def insights_for(records: list[dict[str, Any]]) -> list[str]:
    """Computed sentences about just-made records."""
    from benchlib.report.insights import insights

    return insights(records_frame(records))


def default_variant_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw records of each backend's default variant (for distribution charts)."""
    defaults = {name: backend_variants(name)[0] for name in BACKEND_NAMES if missing_requirement(name) is None}
    return [r for r in records if r.get("variant") in (None, defaults.get(r.get("backend")))]
