"""The model × framework matrix: relative cells, winners, confidence wording, ranking-holds sentences."""

from __future__ import annotations

import pandas as pd
import pytest

from benchlib.report import models_matrix as matrix
from tests.conftest import round_data


def _row(model: str, backend: str, batch: int, p50: float, ci: tuple[float, float] | None = None, **extra) -> dict:
    """A flat row measured in the rounds of one run, its interval over rounds about ``ci``."""
    low, high = ci or (p50 * 0.99, p50 * 1.01)
    rounds = round_data(p50, max(p50 - low, high - p50) / p50, seed=f"{model}-{backend}-{batch}")
    return {"model": model, "backend": backend, "variant": None, "batch_size": batch, "threads": None,
            "protocol": "engine", "status": "ok", "outputs_valid": True, "created": "2026-01-01T00:00:00",
            "latency_ms.p50": p50, "latency_ci95_ms.p50.lo": low, "latency_ci95_ms.p50.hi": high,
            "throughput_sps": batch / p50 * 1e3, "framework_mb": 100.0, "gflops": 1.0,
            **{f"rounds.{k}": v for k, v in rounds.items() if k != "interval"},
            "rounds.interval.halfwidth": rounds["interval"]["halfwidth"], **extra}


@pytest.fixture
def frame() -> pd.DataFrame:
    rows = [
        _row("fnn", "onnxruntime", 1, 0.01), _row("fnn", "pytorch", 1, 0.03), _row("fnn", "tensorflow", 1, 0.3),
        _row("fnn", "onnxruntime", 4096, 2.0), _row("fnn", "pytorch", 4096, 4.0), _row("fnn", "tensorflow", 4096, 8.0),
        # resnet8: pytorch wins at batch 1 by less than the noise; onnxruntime clearly at 256
        _row("resnet8", "onnxruntime", 1, 0.50, (0.45, 0.56)), _row("resnet8", "pytorch", 1, 0.48, (0.40, 0.55)),
        _row("resnet8", "tensorflow", 1, 2.0),
        _row("resnet8", "onnxruntime", 256, 50.0), _row("resnet8", "pytorch", 256, 75.0),
        _row("resnet8", "tensorflow", 256, 100.0),
        _row("resnet8", "numpy", 256, 1.0, status="failed"),  # never ranked
    ]
    return pd.DataFrame(rows)


def test_cells_are_relative_to_the_fastest_per_model(frame: pd.DataFrame) -> None:
    m = matrix.ranking_matrices(frame)
    p50 = m["p50_batch1_vs_fastest"]
    assert list(p50.index) == ["fnn", "resnet8"] and list(p50.columns) == ["pytorch", "tensorflow", "onnxruntime"]
    assert p50.loc["fnn", "onnxruntime"] == 1.0 and p50.loc["fnn", "tensorflow"] == pytest.approx(30)
    assert p50.loc["resnet8"].min() == 1.0
    thr = m["throughput_largest_vs_fastest"]
    assert thr.loc["fnn", "onnxruntime"] == 1.0 and thr.loc["fnn", "tensorflow"] == pytest.approx(4)
    assert thr.loc["resnet8", "pytorch"] == pytest.approx(1.5)
    assert matrix.largest_batches(frame) == {"fnn": 4096, "resnet8": 256}


def test_insights_name_the_winner_and_say_when_it_is_not_clear(frame: pd.DataFrame) -> None:
    text = "\n".join(matrix.ranking_insights(frame))
    assert ("fnn, batch 1 latency: onnxruntime is fastest, 3.00x ahead of pytorch (the 95% interval of the time "
            "ratio over 11 paired rounds") in text
    # pytorch's median is lower, but the one rule cannot separate it from onnxruntime: no winner named
    assert "resnet8, batch 1 latency: pytorch has the lowest median" in text and "indistinguishable" in text
    assert "resnet8, throughput at batch 256: onnxruntime is fastest, 1.50x ahead of pytorch" in text
    # a reversal inside the noise keeps fnn's order
    assert ("fnn's order, fastest first (onnxruntime, pytorch, tensorflow), holds for resnet8 "
            "(pytorch, onnxruntime, tensorflow)") in text


def test_the_fnn_order_breaks_only_where_the_rule_reverses_a_pair(frame: pd.DataFrame) -> None:
    bert = [_row("bert_tiny", "pytorch", 1, 0.1), _row("bert_tiny", "onnxruntime", 1, 0.3)]
    clear = pd.concat([frame, pd.DataFrame(bert)])
    text = "\n".join(matrix.ranking_insights(clear))
    assert ("fnn's order, fastest first (onnxruntime, pytorch, tensorflow), does not hold (pytorch is faster than "
            "onnxruntime there) for bert_tiny (pytorch, onnxruntime)") in text


def test_a_winner_measured_without_rounds_is_not_named() -> None:
    rows = [_row("fnn", "onnxruntime", 1, 0.01), _row("fnn", "pytorch", 1, 0.03)]
    for key in [k for k in rows[0] if k.startswith("rounds.")]:
        del rows[0][key]  # a fixed-time record: one round
    text = "\n".join(matrix.ranking_insights(pd.DataFrame(rows)))
    assert "onnxruntime has the lowest median, 3.00x ahead of pytorch (cannot tell which is faster: onnxruntime " \
           "was measured without interleaved rounds" in text and "is fastest" not in text


def test_heatmap_and_cases() -> None:
    figure = matrix.ranking_heatmap(pd.DataFrame({"a": [1.0, 2.5]}, index=["fnn", "resnet8"]), "t")
    assert figure.axes
    cases = matrix.ranking_cases(["fnn", "bert_tiny"], ["numpy"], quick=True, min_time_s=0.1)
    assert [(c.model, c.batch_size) for c in cases] == [("fnn", 1), ("fnn", 1000), ("bert_tiny", 1), ("bert_tiny", 32)]
    with pytest.raises(ValueError, match="models=\\['vgg'\\] is invalid; allowed: names from fnn, resnet8"):
        matrix.ranking_cases(["vgg"], ["numpy"])


def test_relative_tables_read_like_their_heatmaps() -> None:
    import numpy as np

    models = pd.Index(["fnn", "resnet8"], name="model")
    table = pd.DataFrame({"numpy": [1.0, 2.604], "jax": [np.nan, 1.0]}, index=models)
    shown = matrix.ratio_display(table, "p50 at batch 1, × the fastest").data
    assert shown.to_dict("records") == [{"model": "fnn", "numpy": "1.00×", "jax": "not run"},
                                        {"model": "resnet8", "numpy": "2.60×", "jax": "1.00×"}]


def test_fastest_means_faster_than_every_framework_not_the_runner_up_alone() -> None:
    rows = [_row("fnn", "onnxruntime", 1, 0.01), _row("fnn", "pytorch", 1, 0.03), _row("fnn", "tensorflow", 1, 0.3)]
    for key in [k for k in rows[2] if k.startswith("rounds.")]:
        del rows[2][key]  # the slowest has no rounds: the rule cannot tell it from the winner
    text = "\n".join(matrix.ranking_insights(pd.DataFrame(rows)))
    assert "fnn, batch 1 latency: onnxruntime has the lowest median, 3.00x ahead of pytorch" in text
    assert "is fastest" not in text


def test_charts_name_a_users_model_short_and_keep_the_plot_readable(tmp_path) -> None:
    import warnings

    from benchlib.report.figures import model_label, save_figure

    long = "/very/long/folder/" + "x" * 120 + "/my_net.onnx"
    assert model_label(long) == "my_net.onnx"
    assert model_label("torch:mypackage.models.vision:make_net") == "torch:make_net"
    assert model_label("fnn") == "fnn"
    rows = [_row(long, "onnxruntime", 1, 0.01), _row(long, "pytorch", 1, 0.02), _row("fnn", "onnxruntime", 1, 0.01)]
    fig = matrix.ranking_heatmap(matrix.ranking_matrices(pd.DataFrame(rows))["p50_batch1_vs_fastest"], "title")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "my_net.onnx" in labels and not any("/very/long" in t for t in labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when a layout collapses the plot: fail on it
        save_figure(fig, tmp_path, "heatmap")
