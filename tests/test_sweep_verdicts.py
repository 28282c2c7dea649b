"""The sweep names a fastest only where the one rule for "faster" does: against every other case at the batch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchlib.report import sweep_tables
from benchlib.report.sweep_verdicts import ONE_MEASUREMENT, case_record, interval_text, ratio_text
from benchlib.results.store import append_record, flatten
from benchlib.studies.compare import FASTER, TIE, compare_records
from tests.conftest import known_record

PEAKS = {2: 100.0}


def sweep_of(records: list[dict]) -> pd.DataFrame:
    return sweep_tables.sweep_frame(pd.DataFrame([flatten(r) for r in records]), PEAKS)


def case(backend: str, p50: float, **options: object) -> dict:
    """A batch-1 record with two threads (the sweep's setting), in the rounds of one run unless ``rounds=0``."""
    return known_record(backend, p50, batch=1, threads=2, **options)


def batch1_sentence(frame: pd.DataFrame) -> str:
    return next(s for s in sweep_tables.summary_sentences(frame, PEAKS) if "batch 1" in s)


def comparison(frame: pd.DataFrame, top: str, other: str):
    """The one rule's comparison of the two backends' rows, as the sentence must quote it."""
    rows = frame.set_index("backend")
    return compare_records(case_record(rows.loc[top]), case_record(rows.loc[other]))


def test_a_clear_winner_is_named_with_its_ratio_and_interval(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    for record in (case("numpy", 0.010), case("onnxruntime", 0.020), case("jax", 0.030)):
        append_record(path, record)
    frame = sweep_tables.sweep_frame(path, PEAKS)  # from a results file: the rounds come through the frame
    assert frame["rounds.block_ms"].map(len).eq(11).all()
    sentence = batch1_sentence(frame)
    runner, slowest = comparison(frame, "numpy", "onnxruntime"), comparison(frame, "numpy", "jax")
    assert runner.verdict == FASTER and slowest.verdict == FASTER and runner.high < 1
    assert sentence.startswith("At batch 1 the fastest is numpy/default (p50 10.0 µs)")
    assert f"the next, onnxruntime/default, takes {1 / runner.ratio:.2f}× as long ({interval_text(runner)})" in sentence
    assert "95% interval" in interval_text(runner) and "11 paired rounds" in interval_text(runner)
    assert f"the slowest framework's best, jax/jit, takes {1 / slowest.ratio:.1f}× as long" in sentence


def test_a_tie_at_the_top_is_reported_as_a_tie() -> None:
    frame = sweep_of([case("numpy", 0.0100, ci=0.05), case("onnxruntime", 0.0101, ci=0.05), case("jax", 0.030)])
    tied = comparison(frame, "numpy", "onnxruntime")
    assert tied.verdict == TIE and tied.low < 1 < tied.high
    sentence = batch1_sentence(frame)
    assert "the fastest is" not in sentence and "no fastest is named" in sentence
    assert sentence.startswith("numpy/default and onnxruntime/default are tied at batch 1")
    assert f"onnxruntime/default {ratio_text(tied)}" in sentence and "95% interval" in ratio_text(tied)
    # the case the rule does put behind is still said to be slower, with its own interval
    assert "the slowest framework's best, jax/jit, takes" in sentence


def test_records_without_rounds_give_no_fastest() -> None:
    frame = sweep_of([case("numpy", 0.010, rounds=0), case("onnxruntime", 0.020, rounds=0)])
    sentence = batch1_sentence(frame)
    assert "the fastest is" not in sentence and "slower" not in sentence and "no fastest is named" in sentence
    assert f"against onnxruntime/default (2.00× its median) {ONE_MEASUREMENT}" in sentence


def test_the_top_must_beat_every_case_not_only_the_next() -> None:
    """The top is faster than the next by the rule, but a slower case without rounds cannot be told from it."""
    frame = sweep_of([case("numpy", 0.010), case("onnxruntime", 0.020), case("jax", 0.030, rounds=0)])
    assert comparison(frame, "numpy", "onnxruntime").verdict == FASTER
    sentence = batch1_sentence(frame)
    assert "the fastest is" not in sentence and "jax/jit (3.00× its median)" in sentence and ONE_MEASUREMENT in sentence


def test_a_single_case_is_not_called_the_fastest() -> None:
    sentence = batch1_sentence(sweep_of([case("numpy", 0.010)]))
    assert sentence == "At batch 1 only numpy/default was measured (p50 10.0 µs)."


def test_best_variant_table_ranks_and_judges_variants_by_the_rule() -> None:
    clear = sweep_tables.best_variant_table(sweep_of([
        case("numpy", 0.010), case("numpy", 0.015, variant="other"), case("onnxruntime", 0.020)]))
    rows = clear.set_index("backend")
    assert rows.loc["numpy", "rank"] == "1" and rows.loc["onnxruntime", "rank"] == "2"
    assert rows.loc["numpy", "variant_verdict"] == "faster than the other 1 variant(s)"
    assert rows.loc["onnxruntime", "variant_verdict"] == "only variant"
    close = sweep_tables.best_variant_table(sweep_of([
        case("numpy", 0.0100, ci=0.05), case("numpy", 0.0101, ci=0.05, variant="other"),
        case("onnxruntime", 0.020, rounds=0)]))
    rows = close.set_index("backend")
    assert rows.loc["numpy", "variant_verdict"] == "tied with other"
    assert rows.loc["numpy", "rank"] == "1=" and rows.loc["onnxruntime", "rank"] == "1="  # no rounds: it ties


def test_sweep_charts_name_a_users_model_by_its_file_and_stay_readable(tmp_path: Path) -> None:
    import warnings

    import pandas as pd

    from benchlib.report.figures import save_figure
    from benchlib.report.sweep_figures import throughput_figure

    long = str(tmp_path / ("x" * 120) / "my_net.onnx")
    rows = [{"model": model, "backend": backend, "variant": "default", "batch_size": batch, "threads": 2,
             "status": "ok", "outputs_valid": True, "p50_ms": 0.01 * batch, "throughput_sps": 1e5 / batch}
            for model in (long, "fnn") for backend in ("numpy", "onnxruntime") for batch in (1, 64)]
    fig = throughput_figure(pd.DataFrame(rows))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "my_net.onnx onnxruntime/default" in labels and not any("x" * 120 in t for t in labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when a layout collapses the plot: fail on it
        save_figure(fig, tmp_path, "throughput")
