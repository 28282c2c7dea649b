"""Bad and unusual inputs (issue 17): output paths, odd files, full disks, impossible records,
contradictory options, SIGTERM, API arguments. Real files, FIFOs, devices, mounts, processes and
signals; docs/reliability.md lists what each shows."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from benchlib.engine.case import RunCase
from benchlib.results import append_record, make_record, read_records
from benchlib.results.store import MAX_LINE_BYTES, ResultsWriteError
from tests.conftest import QUICK, ROOT, child_env, line_count, process_gone, run_cli, wait_for


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from benchlib.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err


def _record(batch: int = 1, **fields: object) -> dict:
    fields.setdefault("latency_ms", {"p50": 1.0 + batch, "p99": 2.0 + batch})
    return make_record(RunCase("numpy", batch_size=batch), outputs_valid=True,
                       env={"cpu_model": "test cpu", "logical_cores": 2, "memory_total_mb": 4096.0}, **fields)


def _results(path: Path, *batches: int) -> Path:
    for batch in batches:
        append_record(path, _record(batch))
    return path


def _run_results(out: Path) -> Path:
    """Where ``run --out OUT`` keeps its records: OUT/results/run.jsonl."""
    return out / "results" / "run.jsonl"


# -- outputs are checked before anything runs ----------------------------------------------------

def test_run_refuses_to_overwrite_a_users_csv_or_append_to_a_foreign_file(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    mydata = tmp_path / "mydata.csv"
    mydata.write_text("name,value\nalpha,1\n")
    figure = _run_results(tmp_path / "out")  # the user's own file where run's records go
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    code, err = _main(capsys, "run", "--backends", "numpy", "--out", str(tmp_path / "out"))
    assert code == 2 and f"--out='{figure}' is an existing file that benchlib did not write" in err
    assert "allowed: a new file, an empty one or a benchlib results file" in err
    # --out is a folder: a file there is refused, never written into
    code, err = _main(capsys, "run", "--backends", "numpy", "--out", str(mydata))
    assert code == 2 and f"--out='{mydata}' is a regular file, not a folder" in err
    assert mydata.read_text() == "name,value\nalpha,1\n" and figure.read_bytes().startswith(b"\x89PNG")


def test_run_refuses_an_export_that_would_replace_a_file_benchlib_did_not_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beside = tmp_path / "results" / "run.csv"
    beside.parent.mkdir()
    beside.write_text("my,own,table\n1,2,3\n")
    code, err = _main(capsys, "run", "--backends", "numpy", "--out", str(tmp_path))
    assert code == 2 and f"the CSV export in --out='{beside}' is an existing file that benchlib did not write" in err
    assert beside.read_text() == "my,own,table\n1,2,3\n" and not _run_results(tmp_path).exists()


@pytest.mark.parametrize("target", ["/dev/null", "/dev/full", "fifo", "link-to-null", "folder"])
def test_run_refuses_devices_fifos_links_to_them_and_folders(target: str, tmp_path: Path) -> None:
    out, path = tmp_path, _run_results(tmp_path)  # --out, and the results file run writes in it
    if target.startswith("/dev/"):
        out = path = Path(target)
    elif target == "fifo":
        path.parent.mkdir()
        os.mkfifo(path)
    elif target == "link-to-null":
        path.parent.mkdir()
        path.symlink_to("/dev/null")
    elif target == "folder":
        path.mkdir(parents=True)
    # a subprocess with a timeout: a check that opened the FIFO would block forever
    run = run_cli("run", "--backends", "numpy", "--out", str(out), *QUICK, timeout=300)
    assert run.returncode == 2, run.stderr
    expected = {"folder": "is a directory", "fifo": "is a FIFO (named pipe), not a regular file",
                "link-to-null": "is a character device, not a regular file"}.get(target,
                                                                              "is a character device, not a folder")
    assert f"--out='{path}' {expected}" in run.stderr
    assert "Traceback" not in run.stderr


def test_report_never_writes_over_its_input_or_a_foreign_file(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path / "r.jsonl", 1, 2)
    before = results.read_bytes()
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    cases = [
        (["--markdown", str(results)], f"--markdown='{results}' is also an input of this command"),
        (["--csv", str(results)], f"--csv='{results}' is also an input of this command"),
        (["--markdown", str(tmp_path / "t"), "--csv", str(tmp_path / "t")], "are the same file"),
        (["--markdown", str(notes)], f"--markdown='{notes}' is an existing file that benchlib did not write"),
        (["--markdown", str(tmp_path)], "is a directory"),
        (["--csv", "/dev/full"], "--csv='/dev/full' is a character device"),
        (["--csv", str(results.with_name("sub.jsonl"))], None),  # allowed: a new file
    ]
    for options, message in cases:
        code, err = _main(capsys, "report", str(results), *options)
        if message is None:
            assert code == 0, err
            continue
        assert code == 2 and message in err, err
    assert results.read_bytes() == before and notes.read_text() == "# my notes\n"
    # an input folder: a .jsonl export inside it would be read as results next time
    code, err = _main(capsys, "report", str(tmp_path), "--csv", str(tmp_path / "export.jsonl"))
    assert code == 2 and "inside the input folder" in err
    # exports benchlib wrote before are replaced; a second report may write them again
    md, csv = tmp_path / "out" / "table.md", tmp_path / "out" / "all.csv"
    for _ in range(2):
        code, err = _main(capsys, "report", str(results), "--markdown", str(md), "--csv", str(csv))
        assert code == 0, err
    assert md.read_text().startswith("<!-- benchlib report -->\n| ") and csv.read_text().startswith("schema_version,")


def test_article_checks_its_folders_before_the_protocol_runs(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    code, err = _main(capsys, "article", "--out", str(blocker / "sub"), "--num-runs", "1")
    assert code == 2 and f"--out='{blocker / 'sub'}' is not writable (Not a directory); {blocker} is a regular file" \
        in err
    code, err = _main(capsys, "article", "--out", str(blocker), "--num-runs", "1")
    assert code == 2 and f"--out='{blocker}' is a regular file, not a folder" in err
    foreign = tmp_path / "art" / "results" / "article-protocol.jsonl"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("my notes\n")
    code, err = _main(capsys, "article", "--out", str(tmp_path / "art"), "--num-runs", "1")
    assert code == 2 and f"--out='{foreign}' is an existing file that benchlib did not write" in err
    assert blocker.read_text() == "mine\n" and foreign.read_text() == "my notes\n"
    assert not (tmp_path / "art" / "tables").exists()  # refused before anything was created


def test_sweep_outputs_are_planned_before_the_sweep(tmp_path: Path) -> None:
    from benchlib.report.outputs import OutputRefused, plan_sweep

    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    folder = tmp_path / "out"
    out, tables, figures = folder / "results" / "sweep.jsonl", folder / "tables", folder / "figures"
    for bad, message in ((blocker / "t", f"--out='{blocker / 't'}' is not writable"),
                         (blocker, f"--out='{blocker}' is a regular file, not a folder")):
        with pytest.raises(OutputRefused, match=re.escape(message)):
            plan_sweep(bad, bad / "results" / "sweep.jsonl", runs=4)
    figures.parent.mkdir()
    figures.write_text("mine\n")  # a file where the figures folder goes
    with pytest.raises(OutputRefused, match=re.escape(f"--out='{figures}' is a regular file, not a folder")):
        plan_sweep(folder, out, runs=4)
    figures.unlink()
    roofline = folder / "results" / "roofline-sweep.json"
    roofline.parent.mkdir()
    roofline.write_text("not mine\n")
    with pytest.raises(OutputRefused, match="roofline file in --out"):
        plan_sweep(folder, out, runs=4)
    roofline.unlink()
    plan_sweep(folder, out, runs=4)
    assert tables.is_dir() and figures.is_dir() and not out.exists() and blocker.read_text() == "mine\n"

    # through the CLI: refused before the roofline or any case runs, nothing written
    run = run_cli("sweep", "--backends", "numpy", "--quick", "--out", str(blocker / "t"), timeout=300)
    assert run.returncode == 2 and f"--out='{blocker / 't'}' is not writable (Not a directory)" in run.stderr
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "tables").write_text("mine\n")
    run = run_cli("sweep", "--backends", "numpy", "--quick", "--out", str(tmp_path / "new"), timeout=300)
    assert run.returncode == 2 and "is a regular file, not a folder" in run.stderr
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["tables"]  # nothing else was created


# -- only regular files are read -----------------------------------------------------------------

def test_report_refuses_a_fifo_or_device_and_skips_them_inside_a_folder(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        run = run_cli("report", str(path), timeout=300)
        assert run.returncode == 2 and f"PATH='{path}' is a " in run.stderr and "not a regular file" in run.stderr
    _results(tmp_path / "good.jsonl", 1)
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    run = run_cli("report", str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"load problem: {fifo}: skipped, a FIFO (named pipe) is not a regular file" in run.stderr
    assert f"load problem: {tmp_path / 'zero.jsonl'}: skipped, a character device" in run.stderr
    assert "| numpy " in run.stdout


def test_resume_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = _run_results(tmp_path)
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    run = run_cli("run", "--backends", "numpy", "--out", str(tmp_path), *QUICK, timeout=300)
    assert run.returncode == 2 and "FIFO" in run.stderr


def test_over_long_lines_are_skipped_with_a_message(tmp_path: Path) -> None:
    path = _results(tmp_path / "r.jsonl", 1)
    with open(path, "ab") as handle:
        handle.write(b'{"schema_version":1,"x":"' + b"a" * 5000 + b'"}\n')
    append_record(path, _record(2))
    records, problems = read_records(path, max_line_bytes=4096)
    assert [r["batch_size"] for r in records] == [1, 2]
    assert problems == [f"{path}:2: skipped a line of 5,028 bytes, longer than the 4,096 bytes any benchlib "
                        "record takes"]
    # the real bound, through the CLI: one line just over it
    with open(path, "ab") as handle:
        handle.write(b"x" * (MAX_LINE_BYTES + 10) + b"\n")
    run = run_cli("report", str(path))
    assert run.returncode == 0 and f"{path}:4: skipped a line of {MAX_LINE_BYTES + 11:,} bytes" in run.stderr


# -- reading tolerates any bytes and any values --------------------------------------------------

BAD_LINES = [
    (b'{"schema_version":1,"status":"ok","backend":"num\xff\xfepy"}\n', "skipped, not UTF-8 text (byte 0xff"),
    (b"\x00\x01\x02binary\n", "skipped not JSON"),
    (b"[" * 100_000 + b"\n", "skipped not JSON (nested too deeply)"),
    (b"9" * 5000 + b"\n", "skipped not JSON (Exceeds the limit"),
]
BAD_VALUES = [
    ({"latency_ms": {"p50": -1.0}}, "latency_ms.p50=-1.0 is impossible; allowed: a finite number of milliseconds"),
    ({"latency_ms": {"p50": 0.0}}, "latency_ms.p50=0.0 is impossible"),
    ({"latency_ms": {"p50": "Infinity"}}, "latency_ms.p50='Infinity' is impossible"),
    ({"status": "done"}, "status='done' is unknown; allowed: ok, failed, skipped"),
    ({"batch_size": "64"}, "batch_size='64' is invalid; allowed: an integer from 1"),
    ({"threads": 2.5}, "threads=2.5 is invalid"),
    ({"latency_ms": [1, 2]}, "latency_ms=[1, 2] is not an object; allowed: an object or null"),
    ({"throughput_sps": -5}, "throughput_sps=-5 is impossible"),
    ({"outputs_valid": "yes"}, "outputs_valid='yes' is not true or false; allowed: true, false or null"),
    ({"backend": 7}, "backend=7 is not text; allowed: text or null"),
    ({"env": ["x"]}, "env=['x'] is not an object; allowed: an object or null"),
    ({"warnings": "busy"}, "warnings='busy' is not a list; allowed: a list or null"),
]


def test_bad_bytes_and_impossible_values_are_skipped_with_file_line_and_reason(tmp_path: Path) -> None:
    path = _results(tmp_path / "r.jsonl", 1)
    with open(path, "ab") as handle:
        for raw, _ in BAD_LINES:
            handle.write(raw)
        for fields, _ in BAD_VALUES:
            handle.write(json.dumps({**_record(9), **fields}).encode() + b"\n")
        handle.write(json.dumps({**_record(9), "latency_ms": {"p50": float("inf")}}).encode() + b"\n")
    append_record(path, _record(2))
    records, problems = read_records(path)
    assert [r["batch_size"] for r in records] == [1, 2]
    expected = [m for _, m in BAD_LINES] + [m for _, m in BAD_VALUES] + ["latency_ms.p50=inf is impossible"]
    assert len(problems) == len(expected)
    for number, (problem, message) in enumerate(zip(problems, expected, strict=True), start=2):
        assert problem.startswith(f"{path}:{number}: skipped") and message in problem, problem

    # report and resume read the rest; nothing invalid is ranked or counted as done
    report = run_cli("report", str(path))
    assert report.returncode == 0, report.stderr
    assert "Traceback" not in report.stderr and "| numpy " in report.stdout
    assert f"{path}:2: skipped, not UTF-8 text" in report.stderr and "invalid record (not shown or ranked)" in \
        report.stderr
    assert "9 |" not in report.stdout  # batch 9 exists only in invalid records


def test_resume_reads_past_a_non_utf8_line(tmp_path: Path) -> None:
    out = _run_results(tmp_path)
    first = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "--out", str(tmp_path), *QUICK)
    assert first.returncode == 0, first.stderr
    with open(out, "ab") as handle:
        handle.write(b'{"schema_version":1,"backend":"\xff"}\n')
    again = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "2", "--out", str(tmp_path), *QUICK)
    assert again.returncode == 0, again.stderr
    assert "run: resuming, 1 of 2 case(s) already in" in again.stderr
    assert f"{out}:2: skipped, not UTF-8" in again.stderr
    assert "Traceback" not in again.stderr
    records, _ = read_records(out)
    assert sorted(r["batch_size"] for r in records) == [1, 2]


def test_mixed_type_fields_do_not_break_the_table(tmp_path: Path) -> None:
    path = _results(tmp_path / "r.jsonl", 1)
    with open(path, "a") as handle:  # the same case with threads as text: invalid, the int one is shown
        handle.write(json.dumps({**_record(1), "threads": "2"}) + "\n")
        handle.write(json.dumps({**_record(3), "warnings": None, "noisy": None, "latency_ci95_ms": {"p50": [1]}})
                     + "\n")
    run = run_cli("report", str(path))
    assert run.returncode == 0, run.stderr
    assert "threads='2' is invalid" in run.stderr and run.stdout.count("| numpy ") == 2


# -- a full disk ---------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path):
    """A real filesystem of a given size (tmpfs; needs root, else the test is skipped)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(folder: Path) -> Path:
    """Write until the disk is full; return the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    with open(filler, "ab", buffering=0) as handle:  # the last few bytes too
        try:
            while True:
                handle.write(b"\0")
        except OSError:
            pass
    return filler


def test_too_little_free_space_is_refused_before_any_run(small_disk, capsys: pytest.CaptureFixture[str]) -> None:
    disk = small_disk("256k")
    code, err = _main(capsys, "run", "--backends", "numpy", "--batch-sizes", "1", "2", "3", "--out", str(disk))
    assert code == 2 and "MB free on its disk; 3 run(s) need about" in err
    assert not (disk / "results").exists()


def test_disk_full_during_a_run_keeps_saved_records_and_says_so(small_disk) -> None:
    disk = small_disk("8m")
    out = _run_results(disk)
    argv = [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "--batch-sizes", "1", "2", "3", "4",
            "--min-time-s", "0.5", "--warmup-time-s", "0", "--target-ci", "0", "--no-progress", "--out", str(disk)]
    # fixed time: one process per case, each record appended as its case ends, so the disk fills mid-run
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
                            cwd=ROOT)
    try:
        assert wait_for(lambda: line_count(out) >= 1 or proc.poll() is not None)
        filler = _fill(disk)
        _, stderr = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    assert "the disk is full (No space left on device)" in stderr and "Traceback" not in stderr
    assert "could not be saved; completed records are saved. Free some space, then: run resumes by itself" in stderr
    raw = out.read_bytes()
    records, problems = read_records(out)
    assert problems == [] and 1 <= len(records) < 4 and raw.endswith(b"\n")  # no partial line

    filler.unlink()
    again = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "2", "3", "4", "--min-time-s", "0.5",
                 "--warmup-time-s", "0", "--target-ci", "0", "--no-progress", "--out", str(disk))
    assert again.returncode == 0, again.stderr
    final, problems = read_records(out)
    assert problems == [] and sorted(r["batch_size"] for r in final) == [1, 2, 3, 4]


_PARTIAL = """
import os, resource, sys
from benchlib.engine.case import RunCase
from benchlib.results import append_record, make_record
path = sys.argv[1]
record = make_record(RunCase("numpy"), samples_ms=[1.25] * 5000)
append_record(path, record)
size = os.path.getsize(path)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, resource.RLIM_INFINITY))
try:
    append_record(path, record)
except OSError as exc:
    print(type(exc).__name__, exc)
print("size", os.path.getsize(path) == size)
"""


def test_a_partial_write_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    # the kernel writes the first 1000 bytes of the line, then refuses the rest (a real short write)
    done = subprocess.run([sys.executable, "-c", _PARTIAL, str(path)], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ResultsWriteError could not save a record" in done.stdout
    assert "the file size limit (ulimit -f) is reached" in done.stdout and "size True" in done.stdout
    records, problems = read_records(path)
    assert len(records) == 1 and problems == []


def test_a_write_to_dev_full_says_the_disk_is_full() -> None:
    with pytest.raises(ResultsWriteError, match="could not save a record to /dev/full: the disk is full"):
        append_record("/dev/full", _record(1))


# -- contradictory or redundant options ----------------------------------------------------------

def test_contradictory_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, err = _main(capsys, "run", "--backends", "numpy", "--timeout-s", "1", "--min-time-s", "1", "--warmup-time-s",
                      "0.5", "--out", str(out))
    assert code == 2 and "--timeout-s=1 is not longer than --warmup-time-s (0.5 s) + --min-time-s (1 s) = 1.5 s" in err
    with pytest.raises(SystemExit) as exc:  # resuming is the default: there is no --resume to contradict it
        _main(capsys, "run", "--backends", "numpy", "--resume", "--out", str(out))
    assert exc.value.code == 2 and "unrecognized arguments: --resume" in capsys.readouterr().err
    assert not out.exists()


def test_repeated_values_run_once_and_say_so(tmp_path: Path) -> None:
    out = _run_results(tmp_path)
    run = run_cli("run", "--backends", "numpy", "numpy", "--batch-sizes", "2", "2", "--threads", "1", "1",
               "--out", str(tmp_path), *QUICK)
    assert run.returncode == 0, run.stderr
    for note in ("--backends numpy given more than once", "--batch-sizes 2 given more than once",
                 "--threads 1 given more than once"):
        assert f"note: {note}; each case runs once" in run.stderr
    assert len(read_records(out)[0]) == 1


def test_resume_with_other_settings_says_what_differs(tmp_path: Path) -> None:
    out = _run_results(tmp_path)
    first = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "--out", str(tmp_path), *QUICK)
    assert first.returncode == 0, first.stderr
    # other settings are other cases: measured with the new settings, and the note says what differs
    other = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "--out", str(tmp_path),
                 "--min-time-s", "0.07", "--warmup-time-s", "0", "--no-progress")
    assert other.returncode == 0, other.stderr
    assert "--min-time-s is 0.05 there, 0.07 now" in other.stderr and "measured with the new settings" in other.stderr
    assert "the file's settings (--min-time-s 0.05) would resume them" in other.stderr
    assert len(read_records(out)[0]) == 2
    # records from another environment: named, and their cases run again
    record = json.loads(out.read_text().splitlines()[0])
    record["env_key"] = "another"
    record["env"]["frameworks"]["numpy"] = "0.0.1"
    out.write_text(json.dumps(record) + "\n")
    again = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "--out", str(tmp_path), *QUICK)
    assert again.returncode == 0, again.stderr
    assert "note: 1 case(s) in" in again.stderr and "measured in another environment (numpy 0.0.1 there" in \
        again.stderr
    assert len(read_records(out)[0]) == 2
    # --fresh measures the case again, beside the record of this environment
    fresh = run_cli("run", "--backends", "numpy", "--batch-sizes", "1", "--out", str(tmp_path), "--fresh", *QUICK)
    assert fresh.returncode == 0, fresh.stderr
    assert "resuming" not in fresh.stderr
    assert len(read_records(out)[0]) == 3


def test_a_single_value_where_a_notebook_expects_a_list_is_a_list_of_one() -> None:
    from benchlib.engine.params import check_parameters

    checked = check_parameters(backends="numpy", batch_sizes=64, variants="default", threads_list=2)
    assert checked == {"backends": ["numpy"], "batch_sizes": [64], "variants": ["default"], "threads_list": [2]}
    assert check_parameters(batch_sizes=[64, 64, 1])["batch_sizes"] == [64, 1]
    with pytest.raises(ValueError, match=r"backends=\{'numpy': 1\} is invalid; allowed: a list"):
        check_parameters(backends={"numpy": 1})
    from benchlib.notebook import framework_cases

    assert [c.label() for c in framework_cases("numpy", "default", 64, None, 0.1)] == ["numpy/default b=64"]


# -- SIGTERM behaves like Ctrl-C ------------------------------------------------------------------

def test_sigterm_stops_the_run_removes_temporary_folders_and_says_how_to_resume(tmp_path: Path) -> None:
    out, temp = _run_results(tmp_path / "out"), tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchlib", "run", "--backends", "numpy", "--batch-sizes", "1", "2", "3", "4",
         "--min-time-s", "0.5", "--warmup-time-s", "0", "--target-ci", "0", "--no-progress", "--out",
         str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(TMPDIR=str(temp)), cwd=ROOT)
    try:  # fixed time: one process per case, each record saved as its case ends (rounds: tests/test_rounds_run.py)
        assert wait_for(lambda: line_count(out) >= 1 or proc.poll() is not None)
        workers: list[int] = []
        assert wait_for(lambda: bool(workers.extend(c.pid for c in psutil.Process(proc.pid).children()) or workers)
                         or proc.poll() is not None)
        assert wait_for(lambda: any(temp.iterdir()) or proc.poll() is not None)  # the case's folder exists
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "run resumes by itself: run the same command again" in stderr
    assert "Traceback" not in stderr
    assert wait_for(lambda: all(process_gone(pid) for pid in workers))
    assert list(temp.iterdir()) == []  # the child's temporary folder is removed
    records, problems = read_records(out)
    assert problems == [] and 1 <= len(records) < 4 and all(r["status"] == "ok" for r in records)


# -- the Python API checks its arguments where they enter ----------------------------------------

def test_api_arguments_are_checked_where_they_enter(tmp_path: Path) -> None:
    from benchlib.backends.registry import create_backend
    from benchlib.engine.launcher import run_cases

    with pytest.raises(TypeError, match=r"spec='fnn' \(str\) is not a model spec; allowed: a ModelSpec"):
        create_backend("numpy", "fnn")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"cases='numpy' \(str\) is invalid; allowed: a list of RunCase"):
        run_cases("numpy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"cases\[1\]=\{'backend': 'numpy'\} \(dict\) is not a case; allowed: RunCase"):
        run_cases([RunCase("numpy"), {"backend": "numpy"}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"results_path=3 \(int\) is invalid; allowed: a file path"):
        run_cases([RunCase("numpy")], results_path=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size='64' is invalid"):
        RunCase("numpy", batch_size="64")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"model=\['fnn'\] \(list\) is invalid; allowed: a model name"):
        RunCase("numpy", model=["fnn"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"variant=3 \(int\) is invalid"):
        RunCase("numpy", variant=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"extra=\{'a': 1\} is invalid; allowed: a tuple of"):
        RunCase("numpy", extra={"a": 1})  # type: ignore[arg-type]
    assert len(run_cases(RunCase("numpy", min_time_s=0.01, warmup_time_s=0.0), progress=False)) == 1  # one case


# -- report streams ------------------------------------------------------------------------------

# VmHWM, not ru_maxrss: Linux carries a forked parent's ru_maxrss across exec, so inside a large test
# process ru_maxrss reports the parent's peak; VmHWM belongs to this program's own address space.
_PEAK = """
import sys
from benchlib.cli import main
code = main(["report", sys.argv[1]])
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print("peak_mb", int(hwm.split()[1]) / 1024, file=sys.stderr)
sys.exit(code)
"""


def test_report_keeps_only_what_its_table_needs(tmp_path: Path, record_property) -> None:  # noqa: ANN001
    folder = tmp_path / "many"
    folder.mkdir()
    samples = [round(1.0 + i * 1e-4, 6) for i in range(10_000)]  # a full record: 10,000 stored samples
    for part in range(4):
        with open(folder / f"part{part}.jsonl", "w") as handle:
            for i in range(100):
                record = _record(1 + i % 8, samples_ms=samples, per_core_timeline=[[50.0, 50.0]] * 2000)
                handle.write(json.dumps(record) + "\n")
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    done = subprocess.run([sys.executable, "-c", _PEAK, str(folder)], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr
    peak = float(done.stderr.rsplit("peak_mb", 1)[1])
    record_property("report_peak_mb", peak)
    record_property("folder_mb", size_mb)
    # reading every record whole would hold ~5x the folder; streaming holds one record at a time
    assert size_mb > 40 and peak < 200, (size_mb, peak)
    assert done.stdout.count("| numpy ") == 8


def test_the_streamed_report_table_equals_the_table_of_every_record(tmp_path: Path) -> None:
    from benchlib.cli.report import table_columns
    from benchlib.report.tables import comparison_table
    from benchlib.results import load

    path = tmp_path / "r.jsonl"
    for created, batch in (("2026-01-02T00:00:00Z", 1), ("2026-01-01T00:00:00Z", 1), ("2026-01-03T00:00:00Z", 2)):
        append_record(path, {**_record(batch), "created": created, "warnings": ["busy machine: test"]})
    append_record(path, {**_record(4), "outputs_valid": False, "max_abs_err": 0.5})
    streamed = comparison_table(load(path, columns=table_columns(), newest_only=True))
    whole = comparison_table(load(path))
    assert streamed.astype(str).equals(whole.astype(str)), (streamed, whole)
