"""The article protocol is the article's; its tables are in the article's shape; the corrected
measurement is isolated; ``benchlib article`` runs end to end."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from benchlib.backends.registry import missing_requirement
from benchlib.report import article_tables as at
from benchlib.studies import article as ap
from benchlib.studies.article import models as article_models
from benchlib.studies.article import runner as article_runner
from tests.conftest import ROOT, child_env

ALL_INSTALLED = all(missing_requirement(f) is None for f in ap.ARTICLE_ORDER)
needs_all = pytest.mark.skipif(not ALL_INSTALLED, reason="needs all five frameworks installed")


def _models(*frameworks: str, protocol: ap.ArticleProtocol | None = None, tmp: Path | None = None):
    protocol = protocol or ap.ArticleProtocol(num_runs=1)
    models = ap.ArticleModels()
    for framework in frameworks:
        ap.import_framework(framework, models)
    for framework in frameworks:
        ap.build_model(framework, models, protocol, tmp)
    return models, protocol


class _Counting:
    """Delegates to ``target`` and counts calls of the named methods."""

    def __init__(self, target, *methods: str) -> None:
        self._target = target
        self.calls = dict.fromkeys(methods, 0)

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if name in self.calls:
            def counted(*args, **kwargs):
                self.calls[name] += 1
                return attr(*args, **kwargs)
            return counted
        return attr


# -- published figures and settings ---------------------------------------------------------------

def test_published_figures_load_with_citation():
    published = ap.load_published()
    assert list(published["framework"]) == ["PyTorch", "TensorFlow", "JAX", "ONNX", "OpenVINO"]
    assert list(published["backend"]) == list(ap.ARTICLE_ORDER)
    assert published["latency_ms"].tolist() == [1.26, 6.61, 3.15, 14.75, 144.84]
    assert published["cpu_percent"].tolist() == [99.79, 112.26, 130.03, 99.58, 99.32]
    assert published["memory_mb"].tolist() == [959.69, 969.72, 1033.63, 1033.82, 1040.80]
    head = ap.published_csv_path().read_text().splitlines()[0]
    assert "Analytics Vidhya" in head and "Blogathon" in head and "Deep Learning GPU Benchmarks" in head


def test_defaults_are_the_articles_settings():
    p = ap.ArticleProtocol()
    assert p.num_runs == 1000 and p.batch_size == 1000
    assert p.frameworks == ("pytorch", "tensorflow", "jax", "onnxruntime", "openvino")
    assert p.one_process and p.psutil_in_loop and not p.jit and not p.shared_weights
    assert p.per_sample == ("onnxruntime", "openvino") and p.openvino_new_request
    assert p.timer == "time.time" and p.warmup_runs == 0 and p.onnx_opset == 11
    x = ap.make_input(p)
    assert x.shape == (1000, 200) and x.dtype == np.float32 and 0 <= x.min() and x.max() < 1
    np.testing.assert_array_equal(x, ap.make_input(p))  # seeded


@pytest.mark.parametrize("bad", [0, -1, 10**6 + 1, 2.5, True])
def test_protocol_refuses_bad_num_runs(bad):
    with pytest.raises(ValueError, match="num_runs"):
        ap.ArticleProtocol(num_runs=bad)


@pytest.mark.parametrize("bad", ["0", "-3", "1.5", "abc", "10000000"])
def test_cli_refuses_bad_num_runs(bad, capsys):
    from benchlib.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["article", "--num-runs", bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--num-runs" in err and "allowed: an integer from 1 to" in err


# -- the article's loop ---------------------------------------------------------------------------

def test_loop_reads_psutil_after_every_call(monkeypatch):
    readings = {"cpu": 0, "rss": 0, "calls": 0}
    real = psutil.Process

    class SpyProcess:
        def __init__(self, pid):
            self._p = real(pid)

        def cpu_percent(self):
            readings["cpu"] += 1
            return self._p.cpu_percent()

        def memory_info(self):
            readings["rss"] += 1
            return self._p.memory_info()

    def predict(x):
        readings["calls"] += 1
        # psutil must have been read after every earlier call, i.e. inside the loop
        assert readings["cpu"] == readings["calls"] - 1

    monkeypatch.setattr(psutil, "Process", SpyProcess)
    loop = ap.benchmark_model(predict, np.zeros((2, 200), np.float32), num_runs=7)
    assert readings == {"cpu": 7, "rss": 7, "calls": 7}
    assert len(loop.cpu_readings) == 7 and loop.cpu_readings[0] == 0.0  # psutil's first reading
    assert loop.latency_ms == pytest.approx(loop.total_s / 7 * 1000)


@needs_all
def test_jax_model_is_ones_created_per_call_and_not_jitted():
    models, protocol = _models("jax")
    jnp = models.jnp
    spy = _Counting(jnp, "ones")
    models.jnp = spy  # the model closes over the module it was built with
    ap.build_model("jax", models, protocol)
    predict = ap.make_predict("jax", models, protocol)
    assert not hasattr(models.jax_model, "lower")  # jax.jit wrappers have .lower
    x = ap.make_input(replace(protocol, batch_size=4))
    out = np.asarray(predict(x))
    assert spy.calls["ones"] == 6
    predict(x)
    assert spy.calls["ones"] == 12  # created again on every call
    expected = x.astype(np.float64)
    for width in ap.WIDTHS[1:]:
        expected = expected @ np.ones((expected.shape[1], width))
    np.testing.assert_allclose(out, 1.0 / (1.0 + np.exp(-expected)), rtol=1e-6)
    jitted, _ = _models("jax", protocol=replace(protocol, jit=True))
    assert hasattr(jitted.jax_model, "lower")


@needs_all
def test_onnx_runtime_and_openvino_are_called_once_per_row(tmp_path):
    models, protocol = _models("pytorch", "onnxruntime", "openvino", tmp=tmp_path)
    assert models.onnx_path is not None and models.onnx_path.name.startswith("article-fnn-opset11")
    import onnx

    model = onnx.load(str(models.onnx_path))
    assert model.opset_import[0].version == 11
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch_size"
    x = ap.make_input(protocol)
    session = _Counting(models.onnx_session, "run")
    models.onnx_session = session
    ap.make_predict("onnxruntime", models, protocol)(x)
    assert session.calls["run"] == x.shape[0] == 1000
    compiled = _Counting(models.ov_compiled, "infer_new_request")
    models.ov_compiled = compiled
    ap.make_predict("openvino", models, protocol)(x)
    assert compiled.calls["infer_new_request"] == 1000
    # ONNX (and OpenVINO) come from the PyTorch module: same weights, same outputs
    torch_out = models.torch_model(models.torch.tensor(x[:1])).detach().numpy()
    onnx_out = models.onnx_session.run(None, {"input": x[:1]})[0]
    np.testing.assert_allclose(onnx_out, torch_out, atol=1e-5)


@needs_all
def test_all_five_run_in_one_process_in_the_articles_order():
    """In a fresh interpreter, as the article ran: this test process may have imported the frameworks already
    (other tests ran in it first), and then their imports would add nothing to its memory."""
    done = subprocess.run([sys.executable, "-c", "from tests.test_article import check_all_five_in_one_process as "
                           "check; check()"], capture_output=True, text=True, timeout=900, cwd=ROOT, env=child_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def check_all_five_in_one_process() -> None:
    """The article protocol's five frameworks, in this process (run by the test above in a fresh one)."""
    run = ap.run_article_protocol(ap.ArticleProtocol(num_runs=2), progress=False)
    assert [r.framework for r in run.results] == list(ap.ARTICLE_ORDER)
    assert all(r.status == "ok" for r in run.results), [(r.framework, r.error) for r in run.results]
    assert {r.pid for r in run.results} == {os.getpid()} and run.pid == os.getpid()
    assert all(r.cpu_readings == 2 and r.num_runs == 2 for r in run.results)
    by = run.by_framework()
    assert by["openvino"].calls_per_run == 1000 and by["pytorch"].calls_per_run == 1
    # memory is the whole process: every framework is loaded before the first one is timed
    assert run.rss_after_imports_mb > run.rss_baseline_mb
    assert all(r.memory_mb >= run.rss_after_imports_mb * 0.9 for r in run.results)
    records = run.records()
    assert all(rec["protocol"] == "article" and rec["pid"] == os.getpid() for rec in records)


def test_missing_framework_is_skipped_and_a_failure_does_not_stop_the_rest(monkeypatch):
    real_missing = missing_requirement
    monkeypatch.setattr(article_runner, "missing_requirement",
                        lambda name: "tensorflow-cpu" if name == "tensorflow" else real_missing(name))

    def broken(models, protocol):
        raise RuntimeError("deliberately broken")

    monkeypatch.setattr(article_models, "build_jax_model", broken)
    protocol = ap.ArticleProtocol(num_runs=1, frameworks=("tensorflow", "jax", "onnxruntime"))
    run = ap.run_article_protocol(protocol, progress=False)
    by = run.by_framework()
    assert by["tensorflow"].status == "skipped" and "tensorflow-cpu" in by["tensorflow"].error
    assert by["jax"].status == "failed" and "deliberately broken" in by["jax"].error
    if real_missing("onnxruntime") is None and real_missing("pytorch") is None:
        assert by["onnxruntime"].status == "ok"
    frame = at.article_frame(run)
    assert len(frame) == 3 and set(at.status_table(frame)["Framework"]) == {"TensorFlow", "JAX"}


# -- tables ---------------------------------------------------------------------------------------

def _hand_built() -> pd.DataFrame:
    return pd.DataFrame({
        "backend": list(ap.ARTICLE_ORDER),
        "framework": [ap.DISPLAY_NAMES[b] for b in ap.ARTICLE_ORDER],
        "status": ["ok"] * 5, "error": [None] * 5,
        "latency_ms": [2.0, 4.0, 6.0, 8.0, 100.0],
        "cpu_percent": [100.0, 150.0, 120.0, 80.0, 50.0],
        "memory_mb": [500.0, 1000.0, 250.0, 600.0, 700.0],
    })


def test_tables_have_the_articles_columns_and_baselines():
    frame = _hand_built()
    lat, cpu, mem = at.latency_table(frame), at.cpu_table(frame), at.memory_table(frame)
    assert list(lat.columns) == ["Framework", "Latency (ms)", "Relative Latency (vs. PyTorch)"]
    assert list(cpu.columns) == ["Framework", "CPU Usage (%)", "Relative CPU Usage"]
    assert list(mem.columns) == ["Framework", "Memory (MB)", "Relative Memory Usage (vs. PyTorch)"]
    assert lat["Relative Latency (vs. PyTorch)"].tolist() == [1.0, 2.0, 3.0, 4.0, 50.0]
    assert cpu["Relative CPU Usage"].tolist() == [2.0, 3.0, 2.4, 1.6, 1.0]  # vs OpenVINO
    assert mem["Relative Memory Usage (vs. PyTorch)"].tolist() == [1.0, 2.0, 0.5, 1.2, 1.4]
    markdown = at.render_markdown(cpu)
    assert "| OpenVINO | 50.00 | 1.00× (baseline) |" in markdown


def test_published_comparison_ratio_and_ranking():
    published = ap.load_published()
    same = at.published_comparison(published, published, "latency_ms")
    assert same["Ratio (this machine / article)"].tolist() == [1.0] * 5 and same.attrs["ranking_agrees"]
    frame = _hand_built()
    table = at.published_comparison(frame, published, "latency_ms")
    assert table["Ratio (this machine / article)"].iloc[0] == pytest.approx(2.0 / 1.26)
    assert not table.attrs["ranking_agrees"]  # JAX is slower than TensorFlow in the article
    article_tables = at.article_tables(published)
    assert article_tables["latency_ms"]["Relative Latency (vs. PyTorch)"].iloc[4] == pytest.approx(144.84 / 1.26)
    assert article_tables["cpu_percent"]["Relative CPU Usage"].iloc[2] == pytest.approx(130.03 / 99.32)


def test_missing_baseline_leaves_relative_empty():
    frame = _hand_built()
    frame.loc[frame["backend"] == "openvino", "cpu_percent"] = math.nan
    assert at.cpu_table(frame)["Relative CPU Usage"].isna().all()


# -- the corrected measurement --------------------------------------------------------------------

@needs_all
def test_corrected_runs_are_isolated_processes():
    from benchlib.engine import run_cases

    cases = ap.corrected_cases(("onnxruntime", "openvino"), min_time_s=0.2, per_row=False)
    records = run_cases(cases, progress=False)
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    assert all(r["protocol"] == "corrected" and r["batch_size"] == 1000 for r in records)
    assert all(r["outputs_valid"] for r in records)
    pids = [r.get("pid") for r in records]
    if all(p is not None for p in pids):
        assert len(set(pids)) == 2 and os.getpid() not in pids
    assert len({r["run_id"] for r in records}) == 2
    frame = at.corrected_frame(records)
    assert list(frame["framework"]) == ["ONNX", "OpenVINO"]
    assert (frame["latency_ms"] > 0).all() and (frame["memory_mb"] > 0).all()


@needs_all
def test_cli_end_to_end(tmp_path, capsys):
    from benchlib.cli import main

    status = main(["article", "--num-runs", "2", "--out", str(tmp_path), "--min-time-s", "0.2", "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "Relative Latency (vs. PyTorch)" in printed and "ranking agrees" in printed
    for name in ("article-latency.csv", "article-cpu.csv", "article-memory.csv",
                 "article-corrected-latency.csv", "article-latency-article-vs-corrected.csv", "article.md"):
        assert (tmp_path / "tables" / name).exists(), name
    for name in ("article-chart.png", "article-chart.svg", "article-vs-corrected.png", "article-vs-corrected.svg"):
        assert (tmp_path / "figures" / name).stat().st_size > 0, name
    from benchlib.results import load

    article = load(tmp_path / "results" / "article-protocol.jsonl")
    corrected = load(tmp_path / "results" / "article-corrected.jsonl")
    assert set(article["backend"]) == set(ap.ARTICLE_ORDER) and (article["protocol"] == "article").all()
    assert article["pid"].nunique() == 1
    assert (corrected["protocol"] == "corrected").all() and (corrected["status"] == "ok").all()
    latency = pd.read_csv(tmp_path / "tables" / "article-latency.csv")
    assert list(latency.columns) == ["Framework", "Latency (ms)", "Relative Latency (vs. PyTorch)"]


# -- records, the corrected cases and process isolation -------------------------------------------

def _hand_built_run(num_runs: int = 3) -> ap.ArticleRun:
    protocol = ap.ArticleProtocol(num_runs=num_runs, frameworks=("pytorch", "tensorflow"))
    ok = ap.FrameworkResult(framework="pytorch", display="PyTorch", pid=os.getpid(), num_runs=num_runs,
                            batch_size=1000, latency_ms=2.5, cpu_percent=50.0, memory_mb=900.0, version="2.0")
    skipped = ap.FrameworkResult(framework="tensorflow", display="TensorFlow", status="skipped",
                                 error="not installed; needs: pip install tensorflow-cpu")
    return ap.ArticleRun(protocol=protocol, results=[ok, skipped], pid=os.getpid(), rss_baseline_mb=70.0)


def test_article_records_have_every_required_key_and_the_environment():
    from benchlib.results.schema import SCHEMA_VERSION, invalid_reason, missing_keys
    from benchlib.system.env import collect_env, fingerprint_key

    env = collect_env()
    records = _hand_built_run().records(env=env, run_id="r1", created="2026-01-01T00:00:00Z")
    assert [r["backend"] for r in records] == ["pytorch", "tensorflow"]
    for record in records:
        assert missing_keys(record) == [] and invalid_reason(record) is None
        assert record["schema_version"] == SCHEMA_VERSION
        assert record["model"] == ap.ARTICLE_MODEL and record["protocol"] == "article"
        assert record["variant"] == "article" and record["threads"] is None
        assert record["env"] == env and record["env_key"] == fingerprint_key(env) == env["key"]
        assert record["warnings"] == env["warnings"]  # a busy machine is flagged as on engine records
        assert record["run_id"] == "r1" and record["created"] == "2026-01-01T00:00:00Z"
        assert record["article_run"]["protocol"]["num_runs"] == 3
    ok, skipped = records
    assert ok["latency_ms"]["mean"] == 2.5 and ok["latency_ms"]["p50"] is None
    assert ok["per_call_us"] == 2500.0 and ok["framework_version"] == "2.0" and "version" not in ok
    assert skipped["status"] == "skipped" and "tensorflow-cpu" in skipped["error"]
    # the case key names what was measured: per framework, stable, and changed by the settings
    assert len(ok["case_key"]) == 16 and ok["case_key"] != skipped["case_key"]
    assert ok["case_key"] == _hand_built_run().records(env=env)[0]["case_key"]
    assert ok["case_key"] != _hand_built_run(num_runs=4).records(env=env)[0]["case_key"]
    # without an environment given, this machine's is collected
    assert _hand_built_run().results[0].to_record()["env_key"] == env["key"]


def test_old_shape_article_records_stay_readable(tmp_path):
    from benchlib.results import load, read_records
    from benchlib.results.schema import missing_keys, upgrade_record

    # two lines as benchlib wrote them with schema_version 1 (no case_key, model, env or env_key)
    old = tmp_path / "article-protocol.jsonl"
    old.write_text(
        '{"schema_version":1,"display":"PyTorch","status":"ok","error":null,"pid":4334,"num_runs":2,'
        '"batch_size":1000,"calls_per_run":1,"latency_ms":{"mean":7.7},"cpu_percent":0.0,"memory_mb":996.5,'
        '"wall_s":0.0154,"setup_s":1.88,"cpu_readings":2,"cpu_zero_fraction":1.0,"cpu_max_percent":0.0,'
        '"cpu_first_reading":0.0,"rss_min_mb":995.5,"rss_max_mb":997.5,"rss_before_mb":992.9,'
        '"version":"2.13.0+cpu","output_sample":[0.51,0.51,0.51],"notes":[],"backend":"pytorch",'
        '"protocol":"article","variant":"article","threads":null,"per_call_us":7700.0,'
        '"article_run":{"protocol":{"num_runs":2,"batch_size":1000},"pid":4334,"rss_baseline_mb":70.7},'
        '"run_id":"d6f463b1f51843c5a4d4194e0509fd15","created":"2026-11-25T01:29:14Z"}\n'
        '{"schema_version":1,"display":"TensorFlow","status":"skipped",'
        '"error":"not installed; needs: pip install tensorflow-cpu","pid":4334,"num_runs":2,"batch_size":1000,'
        '"calls_per_run":1,"latency_ms":{"mean":null},"cpu_percent":null,"memory_mb":null,"version":null,'
        '"notes":[],"backend":"tensorflow","protocol":"article","variant":"article","threads":null,'
        '"per_call_us":null,"run_id":"d6f463b1f51843c5a4d4194e0509fd15","created":"2026-11-25T01:29:14Z"}\n')
    records, problems = read_records(old)
    assert problems == [] and [r["backend"] for r in records] == ["pytorch", "tensorflow"]
    frame = at.article_frame(records)
    assert frame["latency_ms"].tolist()[0] == 7.7 and frame["status"].tolist() == ["ok", "skipped"]
    assert list(load(old)["latency_ms.mean"])[0] == 7.7
    upgraded = [upgrade_record(r) for r in records]
    assert all(missing_keys(r) == [] for r in upgraded)
    assert upgraded[0]["framework_version"] == "2.13.0+cpu" and "version" not in upgraded[0]
    assert upgraded[0]["env"] is None and upgraded[0]["case_key"] is None and upgraded[0]["schema_version"] == 1
    assert upgraded[0]["latency_ms"]["mean"] == 7.7 and upgraded[0]["latency_ms"]["p50"] is None
    # the reader itself gives the current shape and keeps the stored version
    assert records[0]["framework_version"] == "2.13.0+cpu" and records[0]["schema_version"] == 1
    assert missing_keys(records[0]) == []


def test_corrected_cases_come_from_the_case_grid():
    from benchlib.engine.grid import case_grid

    cases = ap.corrected_cases(("pytorch", "onnxruntime", "openvino"), min_time_s=0.5, seed=3)
    assert [(c.backend, c.batch_size) for c in cases] == [
        ("pytorch", 1000), ("onnxruntime", 1000), ("openvino", 1000), ("onnxruntime", 1), ("openvino", 1)]
    assert all(c.protocol == "corrected" and c.min_time_s == 0.5 and c.seed == 3 for c in cases)
    assert all(c.model == "fnn" and c.threads is None and c.variant is None for c in cases)
    assert cases[:3] == case_grid(("pytorch", "onnxruntime", "openvino"), [1000], protocol="corrected",
                                  min_time_s=0.5, seed=3)
    assert ap.corrected_cases(("pytorch", "openvino"), per_row=False) == case_grid(
        ("pytorch", "openvino"), [1000], protocol="corrected", min_time_s=1.0, seed=0)


def test_isolated_child_that_fails_or_times_out_is_one_failed_framework(monkeypatch):
    from benchlib.studies.article import isolation

    protocol = ap.ArticleProtocol(num_runs=1, frameworks=("pytorch", "jax"), one_process=False)
    seen = []
    run = isolation.run_isolated(protocol, timeout_s=0.01, on_result=seen.append)
    assert [r.framework for r in run.results] == ["pytorch", "jax"] and seen == run.results
    assert all(r.status == "failed" and "child process failed: timed out after 0.01 s" in r.error
               for r in run.results)
    # a child that exits without handing a run back (sys.exit with the payload: status 1)
    monkeypatch.setattr(isolation, "CHILD_TARGET", "sys:exit")
    run = ap.run_article_protocol(replace(protocol, frameworks=("jax",)), progress=False)
    (result,) = run.results
    assert result.status == "failed" and "no article run written; exit status 1" in result.error
    assert result.pid is not None and result.pid != os.getpid()


@pytest.mark.skipif(any(missing_requirement(f) for f in ("pytorch", "jax")), reason="needs torch and jax")
def test_isolated_frameworks_each_run_in_their_own_process():
    protocol = ap.ArticleProtocol(num_runs=2, frameworks=("pytorch", "jax"), one_process=False)
    run = ap.run_article_protocol(protocol, progress=False)
    assert [r.status for r in run.results] == ["ok", "ok"], [r.error for r in run.results]
    pids = {r.pid for r in run.results}
    assert len(pids) == 2 and os.getpid() not in pids and run.pid == os.getpid()
    assert all(r.num_runs == 2 and r.latency_ms > 0 for r in run.results)
    records = run.records()
    assert {rec["pid"] for rec in records} == pids and all(rec["env_key"] for rec in records)


def test_article_charts_follow_the_chart_rules_and_latency_on_a_log_axis_is_points(tmp_path, monkeypatch):
    """The article's two charts at the report's width: legible text, ≤ 3 columns, no bars on the log axis."""
    from matplotlib.patches import Rectangle

    from benchlib.report import article_figures as af
    from benchlib.report.chart_style import legibility_problems

    drawn = {}
    monkeypatch.setattr(af, "_save", lambda fig, stem: drawn.setdefault(stem.name, fig) and [])
    frame = pd.DataFrame({"framework": ["PyTorch", "TensorFlow", "JAX", "ONNX", "OpenVINO"],
                          "latency_ms": [0.6, 4.9, 1.8, 8.4, 93.1], "cpu_percent": [90.0, 120, 100, 98, 150],
                          "memory_mb": [980.0, 1000, 1010, 1050, 1076]})
    af.plot_article_chart(frame, tmp_path / "chart")
    af.plot_protocol_comparison(frame, frame.assign(latency_ms=frame["latency_ms"] / 10), tmp_path / "vs",
                                published=frame)
    assert set(drawn) == {"chart", "vs"}
    for name, fig in drawn.items():
        assert legibility_problems(fig) == [], name
    latency = drawn["vs"].axes[0]
    assert latency.get_yscale() == "log"
    assert not [p for p in latency.patches if isinstance(p, Rectangle)] and latency.collections


def test_a_saved_chart_is_shown_at_its_drawn_size(tmp_path):
    """A PNG saved at 150 dpi is shown at the 100-dpi width it was drawn for, so the report does not shrink it."""
    from matplotlib.figure import Figure

    from benchlib.notebook import figure_file
    from benchlib.report.figures import save_figure

    fig = Figure(figsize=(8, 3), dpi=100)
    fig.subplots().plot([1, 2], [3, 4])
    png = save_figure(fig, tmp_path, "chart")[0]
    from PIL import Image

    with Image.open(png) as image:
        saved_px = image.width
    assert saved_px > 1000  # 150 dpi, cropped to the tight bounding box
    assert figure_file(png).width == round(saved_px * 100 / 150)
