"""The roofline's yardstick: every framework's GEMM, the best as the peak, and the theoretical peak's sources."""

from __future__ import annotations

import json

import pytest

from benchlib.roofline import peaks as roofline
from benchlib.roofline.peaks import PeakMeasurement, TheoreticalPeak, measure_peak


def _cpu(vendor: str, family: int, model: int, flags: str = "fma avx2", name: str = "CPU", mhz: str = "2445.4"):
    return {"vendor_id": vendor, "cpu family": str(family), "model": str(model), "flags": flags,
            "model name": name, "cpu MHz": mhz}


@pytest.mark.parametrize(("info", "flops", "words"), [
    (_cpu("AuthenticAMD", 25, 1), 32, "Zen 3"),
    (_cpu("AuthenticAMD", 25, 0x11, "fma avx2 avx512f"), 32, "Zen 4"),
    (_cpu("AuthenticAMD", 26, 2, "fma avx2 avx512f"), 64, "Zen 5"),
    (_cpu("GenuineIntel", 6, 85, "fma avx2 avx512f"), 64, "assumed 2 FMA units × 512 bit"),
    (_cpu("GenuineIntel", 6, 60), 32, "since Haswell"),
    (_cpu("GenuineIntel", 6, 30, "sse4_2"), None, "unknown"),
])
def test_fma_units_and_width_name_their_source(info, flops, words) -> None:
    got, source = roofline._fma(info)
    assert got == flops
    assert words in source and "/proc/cpuinfo" in source


def test_frequency_falls_back_from_cpufreq_to_the_model_name_to_cpu_mhz(monkeypatch) -> None:
    monkeypatch.setattr(roofline.Path, "read_text", lambda self: (_ for _ in ()).throw(OSError("no cpufreq")))
    ghz, source = roofline._frequency(_cpu("GenuineIntel", 6, 85, name="Intel Xeon Gold 6148 CPU @ 2.40GHz"))
    assert ghz == 2.4 and "model name" in source
    ghz, source = roofline._frequency(_cpu("AuthenticAMD", 25, 1, name="AMD EPYC", mhz="2445.406"))
    assert ghz == pytest.approx(2.445406) and "cpu MHz" in source
    assert roofline._frequency({})[0] is None


def test_peak_is_the_best_library_and_every_rate_is_kept() -> None:
    theory = TheoreticalPeak(32, "table", 2.5, "cpu MHz")
    peak = PeakMeasurement(2, 2048, 5, {"numpy": 247.0, "jax": 465.0, "pytorch": 211.0}, {"openvino": "timed out"},
                           {"jax": {"version": "0.4", "precision": "f32", "dispatch": {"x": 1}}}, theory)
    assert peak.peak_gflops == 465.0 and peak.peak_library == "jax"
    assert peak.theoretical_gflops == pytest.approx(2 * 32 * 2.5)
    table = peak.table()
    assert [row["library"] for row in table] == ["jax", "numpy", "pytorch", "openvino"]
    assert table[1]["share_of_peak"] == pytest.approx(247 / 465)
    assert table[-1]["gflops"] is None and table[-1]["error"] == "timed out"
    data = json.loads(json.dumps(peak.to_dict()))
    assert data["peak_share_of_theoretical"] == pytest.approx(465 / 160)
    assert data["theoretical"]["ghz_source"] == "cpu MHz"


def test_measure_peak_runs_each_library_in_its_own_process_and_records_failures() -> None:
    result = measure_peak(threads=1, size=64, repeats=1, libraries=["numpy", "no-such-library"])
    assert set(result.gflops_by_library) == {"numpy"} and result.gflops_by_library["numpy"] > 0
    assert "is unknown" in result.errors["no-such-library"]  # the child's own refusal, from its stderr
    blas = result.details["numpy"]["dispatch"]["blas"]
    assert isinstance(blas, list)  # what threadpoolctl saw (may be empty for a BLAS it does not know)
    assert result.details["numpy"]["version"]


def test_roofline_table_and_sentences_from_a_stored_file() -> None:
    from benchlib.studies.sweep import roofline_sentences, roofline_table

    theory = TheoreticalPeak(32, "Zen 3 table", 2.445, "cpu MHz")
    stored = {"peaks": {
        "1": PeakMeasurement(1, 2048, 5, {"numpy": 70.0, "pytorch": 40.0}, {}, {}, theory).to_dict(),
        "2": PeakMeasurement(2, 2048, 5, {"numpy": 120.0, "jax": 140.0}, {}, {}, theory).to_dict(),
    }}
    rows = roofline_table(stored)
    assert [(r["threads"], r["library"], r["sets_peak"]) for r in rows] == [
        (1, "numpy", True), (1, "pytorch", False), (2, "jax", True), (2, "numpy", False)]
    sentences = roofline_sentences(stored)
    assert sentences[0].startswith("With 1 thread(s) the float32 GEMM peak is 70 GFLOP/s, set by numpy, 89% of")
    assert "pytorch, reaches 40 (57% of the peak)" in sentences[0]
    assert "Zen 3 table" in sentences[1] and "cpu MHz" in sentences[1]
    assert sentences[2].startswith("With 2 thread(s)") and len(sentences) == 3


def test_a_roofline_measured_the_old_way_is_measured_again(tmp_path, monkeypatch) -> None:
    from benchlib.studies.sweep import YARDSTICK, measure_roofline
    from benchlib.system.env import collect_env

    path = tmp_path / "roofline-sweep.json"
    path.write_text(json.dumps({"env_key": collect_env()["key"], "peaks": {"1": {"peak_gflops": 1.0}}}))
    calls = []

    def fake(threads: int) -> PeakMeasurement:
        calls.append(threads)
        return PeakMeasurement(threads, 64, 1, {"numpy": 5.0}, {})

    stored = measure_roofline([1], path, measure=fake)
    assert calls == [1] and stored["yardstick"] == YARDSTICK and stored["peaks"]["1"]["peak_gflops"] == 5.0
    measure_roofline([1], path, measure=fake)
    assert calls == [1]  # same environment, same yardstick: stored peak reused


def test_a_peak_from_another_file_is_copied_only_from_the_same_environment(tmp_path) -> None:
    from benchlib.studies.sweep import YARDSTICK, measure_roofline
    from benchlib.system.env import collect_env

    sweep = tmp_path / "roofline-sweep.json"
    sweep.write_text(json.dumps({"env_key": collect_env()["key"], "yardstick": YARDSTICK,
                                 "peaks": {"2": {"peak_gflops": 7.0}}}))
    elsewhere = tmp_path / "roofline-elsewhere.json"
    elsewhere.write_text(json.dumps({"env_key": "another machine", "yardstick": YARDSTICK,
                                     "peaks": {"1": {"peak_gflops": 99.0}}}))
    calls = []

    def fake(threads: int) -> PeakMeasurement:
        calls.append(threads)
        return PeakMeasurement(threads, 64, 1, {"numpy": 5.0}, {})

    stored = measure_roofline([1, 2], tmp_path / "models" / "roofline-models.json", measure=fake,
                              reuse=[elsewhere, sweep, tmp_path / "missing.json"])
    assert calls == [1]  # 2 threads copied from the sweep; 1 thread not taken from another machine
    assert stored["peaks"]["2"] == {"peak_gflops": 7.0, "reused_from": str(sweep)}
    assert stored["peaks"]["1"]["peak_gflops"] == 5.0


def test_a_library_that_ignores_its_thread_limit_is_not_counted(monkeypatch) -> None:
    from benchlib.system.child import ChildResult

    def fake_child(target, payload, timeout_s=None, env=None, what="result"):  # noqa: ANN001, ANN202
        used = {"numpy": 1.02, "jax": 1.97}[payload["library"]]
        gflops = {"numpy": 88.0, "jax": 168.0}[payload["library"]]
        return ChildResult(True, value={"gflops": gflops, "cores_used": used, "cores_window_s": 0.3,
                                        "version": "x", "seconds": 0.1})

    monkeypatch.setattr("benchlib.system.child.run_in_child", fake_child)
    result = measure_peak(threads=1, size=64, repeats=1, libraries=["numpy", "jax"])
    assert result.gflops_by_library == {"numpy": 88.0} and result.peak_library == "numpy"
    assert "kept 1.97 cores busy" in result.errors["jax"] and result.details["jax"]["gflops"] == 168.0


def test_cores_used_from_a_short_window_never_excludes_a_library() -> None:
    from benchlib.roofline.gemm import CORES_WINDOW_S
    from benchlib.roofline.peaks import thread_limit_ignored

    assert thread_limit_ignored(1, 1.97, CORES_WINDOW_S) and "over 0.25 s" in thread_limit_ignored(1, 1.97, 0.25)
    assert thread_limit_ignored(1, 1.97, 43e-6) is None  # one small call's window: says nothing about threads
    assert thread_limit_ignored(1, 1.97, None) is None and thread_limit_ignored(None, 1.97, 1.0) is None
    assert thread_limit_ignored(2, 2.2, 1.0) is None


def test_cores_used_is_taken_over_at_least_the_stated_window(monkeypatch) -> None:
    """A fake clock: the timed calls take 1 µs each, yet the cores ratio is read over >= CORES_WINDOW_S."""
    from benchlib.roofline import gemm

    now = {"wall": 0.0, "cpu": 0.0}
    monkeypatch.setattr(gemm.time, "perf_counter", lambda: now["wall"])
    monkeypatch.setattr(gemm.time, "perf_counter_ns", lambda: int(now["wall"] * 1e9))
    monkeypatch.setattr(gemm.time, "process_time", lambda: now["cpu"])

    def call() -> None:  # one thread busy for 1 µs of wall time
        now["wall"] += 1e-6
        now["cpu"] += 1e-6

    assert gemm.best_seconds(call, repeats=1) == pytest.approx(1e-6)
    assert gemm.CORES_USED["window_s"] >= gemm.CORES_WINDOW_S
    assert gemm.CORES_USED["cores"] == pytest.approx(1.0)
