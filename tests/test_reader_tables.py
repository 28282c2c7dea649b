"""What a reader sees beside each median (its 95% half-width over rounds), the precision notebook's skipped
cases, the models heatmap and sweep tables of several models: on records with known numbers, no benchmark run."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from benchlib.report import models_matrix as matrix
from benchlib.report import sweep_tables
from benchlib.report.chart_style import legibility_problems
from benchlib.report.display import HALFWIDTH_DASH, HALFWIDTH_NOTE, LABELS, format_value, people_frame, people_table
from benchlib.report.precision import measured_rows, precision_table, skipped_table
from benchlib.report.tables import comparison_table, to_markdown
from benchlib.results.store import flatten
from tests.conftest import known_record, panel_boxes, round_data

#: Relative half-widths of the records below (fractions of the median), one per framework.
HALFWIDTHS = {"numpy": 0.0123, "pytorch": 0.004, "onnxruntime": 0.0006}


def stopped(backend: str, p50: float, halfwidth: float | None, **extra: object) -> dict:
    """A record whose interval over rounds has this relative half-width (None: measured without rounds, its
    timed loop's within-process interval alone)."""
    if halfwidth is None:
        stopping = {"halfwidth": 0.002, "target_ci": 0.01, "met": True}  # within one process: never shown
        return known_record(backend, p50, stopping=stopping, rounds=0, **extra)
    record = known_record(backend, p50, stopping={"halfwidth": halfwidth, "target_ci": 0.01, "met": True}, **extra)
    record["rounds"]["interval"]["halfwidth"] = halfwidth
    return record


def test_halfwidth_is_a_percent_beside_the_median_and_a_dash_is_explained() -> None:
    records = [stopped(b, 0.1 * (i + 1), w) for i, (b, w) in enumerate(HALFWIDTHS.items())]
    records.append(stopped("jax", 0.5, None))
    table = comparison_table(pd.DataFrame([flatten(r) for r in records]))
    columns = list(table.columns)
    assert columns.index("p50_halfwidth") == columns.index("p50_ms") + 1
    shown = people_frame(table)
    assert LABELS["p50_halfwidth"] == "±95% over rounds"  # says which interval it is
    by_framework = dict(zip(shown["framework"], shown[LABELS["p50_halfwidth"]], strict=True))
    for backend, width in HALFWIDTHS.items():
        assert by_framework[backend] == format_value(width, "halfwidth")
        text = by_framework[backend]
        assert text.startswith("±") and text.endswith("%")
        # a percent of the median, rounded to a tenth of a percent (two figures below that)
        assert abs(float(text.strip("±%")) - 100 * width) <= 0.05 * max(1.0, 100 * width)
    assert by_framework["jax"] == "–"  # no rounds: its within-process interval is never shown as its precision
    caption = people_table(table).caption
    assert HALFWIDTH_NOTE in caption and HALFWIDTH_DASH in caption
    # exports keep the fraction with every digit; the console shows the percent
    assert str(HALFWIDTHS["numpy"]) in to_markdown(table, precision="full")
    assert format_value(HALFWIDTHS["numpy"], "halfwidth") in to_markdown(table)


def test_a_table_with_every_interval_has_no_dash_note() -> None:
    records = [stopped(b, 0.1 * (i + 1), w) for i, (b, w) in enumerate(HALFWIDTHS.items())]
    caption = people_table(comparison_table(pd.DataFrame([flatten(r) for r in records]))).caption
    assert HALFWIDTH_NOTE in caption and HALFWIDTH_DASH not in caption


def test_dropped_constant_columns_are_named_in_the_caption() -> None:
    table = pd.DataFrame({"model": ["fnn", "fnn"], "backend": ["numpy", "jax"], "p50_ms": [0.1, 0.2]})
    styler = people_table(table, caption="Batch 1")
    assert "model" not in styler.data.columns
    assert styler.caption.startswith("Batch 1") and "Every row: model fnn." in styler.caption


def _precision_records() -> list[dict]:
    reason = "the backend has no such kernels"
    same = {"env_key": "here", "backend": "numpy", "variant": "default", "model": "fnn", "threads": 1}
    records = []
    for batch in (1, 64):
        records.append({**same, "batch_size": batch, "precision": "fp32", "status": "ok", "case_key": f"fp32-{batch}",
                        "latency_ms": {"p50": 0.1}, "stopping": {"halfwidth": 0.01}, "created": str(batch),
                        "rounds": round_data(0.1, 0.01, seed=batch)})
        for precision in ("bf16", "int8-dynamic", "int8-static"):
            records.append({
                **same, "batch_size": batch, "precision": precision, "status": "skipped", "created": "0",
                "case_key": f"{precision}-{batch}",
                "error": f"unsupported: precision='{precision}' is not available for backend 'numpy': {reason}"})
    return records


def test_skipped_precisions_get_their_own_table_with_each_reason_once() -> None:
    table = precision_table(_precision_records())
    measured = measured_rows(table)
    assert set(measured["status"]) == {"ok"} and "note" not in measured.columns
    assert measured["p50_halfwidth"].notna().all()
    skipped = skipped_table(table)
    assert len(skipped) == 1, "one framework, one reason: one row"
    row = skipped.iloc[0]
    assert row["backend"] == "numpy" and row["precision"] == "bf16, int8-dynamic, int8-static"
    assert not row["reason"].startswith("unsupported") and "precision=" not in row["reason"]


def test_models_heatmap_is_framed_annotated_and_legible() -> None:
    rng = np.random.default_rng(0)
    values = 1 + rng.random((4, 6)) * 8
    values[1, 5] = np.nan
    relative = pd.DataFrame(values, index=["fnn", "resnet8", "bert_tiny", "lstm_spam"],
                            columns=["numpy", "pytorch", "tensorflow", "jax", "onnxruntime", "openvino"])
    fig = matrix.ranking_heatmap(relative, "p50 at batch 1, relative to the fastest per model")
    assert legibility_problems(fig) == []
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert len(cells) == relative.size and "not run" in cells
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    assert len(panel_boxes(buffer.getvalue())) == 1  # the data area, not the colour bar beside it


def test_p50_matrix_cells_carry_their_halfwidth() -> None:
    p50 = pd.DataFrame({"numpy": [0.5, np.nan], "jax": [0.25, 0.75]}, index=["fnn", "resnet8"])
    widths = pd.DataFrame({"numpy": [0.02, np.nan], "jax": [np.nan, 0.003]}, index=["fnn", "resnet8"])
    cells = matrix.with_halfwidth(p50, widths)
    assert cells.at["fnn", "numpy"].endswith(format_value(0.02, "halfwidth"))
    assert "±" not in cells.at["fnn", "jax"]  # no interval recorded: the median alone
    assert cells.at["resnet8", "numpy"] == "–"


def test_sweep_tables_keep_models_apart() -> None:
    rows = []
    for model, scale in (("fnn", 1.0), ("resnet8", 50.0)):
        for backend in ("numpy", "onnxruntime"):
            rows.append({"model": model, "backend": backend, "variant": "default", "batch_size": 1, "threads": 2,
                         "status": "ok", "p50_ms": scale * (2 if backend == "numpy" else 1), "p50_halfwidth": 0.01,
                         "gflops": 1.0, "pct_of_peak": 1.0, "outputs_valid": True})
    frame = pd.DataFrame(rows)
    best = sweep_tables.best_variant_table(frame)
    assert len(best) == len(rows)
    for _, part in best.groupby("model"):
        assert part["vs_fastest"].min() == 1.0  # each model ranked against its own fastest
    assert sweep_tables.target_model(frame) == "fnn"


def test_console_line_shows_the_halfwidth_beside_the_median() -> None:
    from benchlib.notebook.console import halfwidth_text, progress_line

    with_interval = stopped("numpy", 0.25, HALFWIDTHS["numpy"], batch=1)
    assert progress_line(with_interval).endswith(f"ms per call {halfwidth_text(HALFWIDTHS['numpy'])}")
    assert progress_line(stopped("numpy", 0.25, None, batch=1)).endswith("ms per call")  # no rounds: no ±


def test_slower_than_fp32_names_the_batch_sizes_where_it_was_slower() -> None:
    import pandas as pd

    from benchlib.report.precision import insights

    rows = [("litert", "int8-dynamic", "fnn", 1, 1.43, "faster"),
            ("litert", "int8-dynamic", "fnn", 1000, 0.91, "slower"),
            ("onnxruntime", "int8-dynamic", "resnet8", 1, 0.18, "slower"),
            ("onnxruntime", "int8-dynamic", "resnet8", 64, 0.17, "slower"),
            ("onnxruntime", "int8-dynamic", "resnet8", 256, 0.98, "tie")]  # below 1 inside the noise: not slower
    table = pd.DataFrame([{"backend": b, "precision": p, "model": m, "batch_size": n, "speedup_vs_fp32": x,
                           "vs_fp32": v, "status": "ok", "decision_agreement": 0.99, "max_abs_err": 0.01}
                          for b, p, m, n, x, v in rows])
    sentence = next(s for s in insights(table) if s.startswith("Slower than fp32"))
    assert sentence == ("Slower than fp32 on this machine: litert int8-dynamic (fnn at batch 1000: 0.91×), "
                        "onnxruntime int8-dynamic (resnet8 at batch 1: 0.18×, 64: 0.17×).")


def test_a_log_batch_axis_is_labelled_at_the_batch_sizes_measured() -> None:
    import matplotlib.pyplot as plt

    from benchlib.report.chart_style import log_axis

    fig, ax = plt.subplots()
    sizes = [1, 8, 64, 256, 1000, 4096]
    ax.plot(sizes, [1, 2, 3, 4, 5, 6])
    log_axis(ax, "x", "batch size", ticks=[4096, 1, 8, 64, 256, 1000, 64])
    fig.canvas.draw()
    assert list(ax.get_xticks()) == sizes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "8", "64", "256", "1,000", "4,096"]
    assert ax.get_xlabel() == "batch size (log scale)"
    plt.close(fig)


def test_precision_speedups_get_the_one_rules_verdict() -> None:
    from benchlib.report.precision import insights

    fp32 = round_data(1.0, 0.05, group="g", seed="fp32")  # a machine that varies by 5% between rounds
    same = {"env_key": "here", "backend": "onnxruntime", "variant": "default", "model": "fnn", "threads": 1,
            "batch_size": 1, "status": "ok", "created": "1"}
    noise = np.random.default_rng(4).normal(0.0, 0.01, len(fp32["block_ms"]))

    def record(precision: str, factor: float | None, rounds: dict | None = None) -> dict:
        blocks = [v * (factor or 1) * np.exp(e) for v, e in zip(fp32["block_ms"], noise, strict=True)]
        rounds = rounds or (round_data(0, blocks=blocks) if factor else None)
        p50 = float(np.median(rounds["block_ms"])) if rounds else 0.6
        return {**same, "precision": precision, "case_key": precision, "latency_ms": {"p50": p50},
                **({"rounds": {**rounds, "group": "g"}} if rounds else {}),
                "accuracy": {"decision_agreement": 0.99, "max_abs_err": 0.01, "mean_abs_err": 0.001}}

    records = [record("fp32", None, fp32), record("int8-dynamic", 0.5), record("bf16", 1.0),
               record("int8-static", None)]
    table = precision_table(records).set_index("precision")
    # paired per round: int8 halves every block, bf16 is fp32 within 1% noise; int8-static has no rounds
    assert table.loc["int8-dynamic", "vs_fp32"] == "faster" and table.loc["bf16", "vs_fp32"] == "tie"
    assert table.loc["int8-static", "vs_fp32"] == "cannot tell" and pd.isna(table.loc["fp32", "vs_fp32"])
    assert pd.isna(table.loc["int8-static", "p50_halfwidth"])  # no interval over rounds to show
    text = "\n".join(insights(table.reset_index()))
    # bf16's speed-up is 1 within the noise: no slow-down by the rule, whichever side of 1 it fell
    assert "Slower than fp32" not in text
    assert "No verdict against fp32 (measured without rounds): onnxruntime int8-static" in text
