"""The one way benchlib runs code in a fresh process: JSON in, JSON out, never pickle.

``run_in_child("package.module:function", payload, timeout_s)`` starts
``python -m benchlib.system.child IN OUT`` in its own session (process group). The child asks
Linux to kill it when its parent dies (``PR_SET_PDEATHSIG``), imports the module, calls
``function(payload)`` and writes the JSON-serialisable result to OUT through a temporary file
and a rename. The parent waits with a timeout; on a timeout, Ctrl-C or SIGTERM it kills the
child's whole process group *and* every descendant that escaped it into a session of its own.

Whatever happens, :func:`run_in_child` returns a :class:`ChildResult`: ``ok`` with the value,
or ``failed`` with the reason (timeout, signal, exit status, missing or unreadable result) and
the tail of the child's stderr. The measurement launcher, the ablation, the article protocol and
the roofline all start their processes here (pyperf's runner/worker split, with JSON files).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from benchlib.system.files import atomic_write_text, clean_for_json, json_default

#: The parent's pid, given to each child, which asks Linux to kill it when the parent dies.
PARENT_PID_ENV = "BENCHLIB_LAUNCHER_PID"
#: How much of the child's stderr is kept for a failure record.
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True)
class ChildResult:
    """What came back from one child process."""

    ok: bool
    value: Any = None  # the function's JSON result when ``ok``
    error: str | None = None  # why not, when not ``ok``
    returncode: int | None = None
    stderr_tail: str = ""
    wall_s: float = 0.0
    pid: int | None = None


def _tail(handle: IO[bytes], limit: int = STDERR_TAIL_CHARS) -> str:
    handle.flush()
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - limit))
    return handle.read().decode(errors="replace").strip()


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the child, its process group, and descendants that left the group (own session)."""
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            pass
    proc.wait()
    psutil.wait_procs(descendants, timeout=5)


def signal_reason(returncode: int) -> str:
    """Words for a child killed by signal ``-returncode``."""
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if name == "SIGKILL":
        return "killed by SIGKILL (out of memory?)"
    return f"crashed with {name}"


def run_in_child(target: str, payload: Any, timeout_s: float | None = None,
                 env: dict[str, str] | None = None, what: str = "result") -> ChildResult:
    """Call ``target`` (``"package.module:function"``) with ``payload`` in a fresh process.

    ``payload`` and the function's return value must be JSON-serialisable. ``env`` adds
    environment variables for the child; ``what`` names the result in failure messages ("no
    record written"). Ctrl-C (and SIGTERM turned into ``KeyboardInterrupt``
    by the caller) kills the child tree and propagates.
    """
    module, _, function = target.partition(":")
    if not module or not function:
        raise ValueError(f"target={target!r} is invalid; allowed: 'package.module:function'")
    with tempfile.TemporaryDirectory(prefix="benchlib-child-") as tmp:
        request, response = Path(tmp) / "in.json", Path(tmp) / "out.json"
        request.write_text(json.dumps({"target": target, "payload": payload}))
        with open(Path(tmp) / "stdout", "w+b") as out, open(Path(tmp) / "stderr", "w+b") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchlib.system.child", str(request), str(response)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
                env={**os.environ, **(env or {}), PARENT_PID_ENV: str(os.getpid())},
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_tree(proc)
                return ChildResult(False, error=f"timed out after {timeout_s:g} s", stderr_tail=_tail(err),
                                   wall_s=time.perf_counter() - started, pid=proc.pid)
            except BaseException:  # Ctrl-C or SIGTERM: leave no orphan behind, then let the caller decide
                kill_tree(proc)
                raise
            wall = time.perf_counter() - started
            stderr_tail = _tail(err)
        common = {"returncode": returncode, "stderr_tail": stderr_tail, "wall_s": wall, "pid": proc.pid}
        if returncode < 0:
            return ChildResult(False, error=signal_reason(returncode), **common)
        try:
            value = json.loads(response.read_text())
        except (OSError, ValueError) as exc:
            last = stderr_tail.splitlines()[-1] if stderr_tail else "no stderr"
            reason = f"no {what} written" if isinstance(exc, OSError) else f"unreadable {what} ({exc})"
            return ChildResult(False, error=f"{reason}; exit status {returncode}; stderr: {last}", **common)
        return ChildResult(True, value=value, **common)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (even by SIGKILL): no orphan runs on."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # the parent died before prctl took effect
        os._exit(1)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file).

    Non-finite floats become null (JSON has no NaN); NumPy values become plain JSON.
    """
    atomic_write_text(path, json.dumps(clean_for_json(data), default=json_default, allow_nan=False))


class ChildSession:
    """A child process kept alive between calls: the same runner, serving one call after another.

    ``python -m benchlib.system.child --serve CMD_FD REPLY_FD`` reads one JSON request per line from
    one pipe and writes one JSON reply per line to the other, so what a call leaves in the process (a
    built model, a warm framework) is there for the next call. The session keeps every guarantee of
    :func:`run_in_child`: its own process group, death with the parent, a timeout per call that kills
    the whole tree, and a :class:`ChildResult` for every call whatever happens. Framework chatter on
    stdout and stderr goes to files, never into the reply pipe.
    """

    def __init__(self, env: dict[str, str] | None = None) -> None:
        cmd_read, self._cmd = os.pipe()
        self._reply, reply_write = os.pipe()
        self._tmp = tempfile.TemporaryDirectory(prefix="benchlib-session-")
        self._out = open(Path(self._tmp.name) / "stdout", "w+b")  # noqa: SIM115 - lives as long as the session
        self._err = open(Path(self._tmp.name) / "stderr", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchlib.system.child", "--serve", str(cmd_read), str(reply_write)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err, start_new_session=True,
            pass_fds=(cmd_read, reply_write),
            env={**os.environ, **(env or {}), PARENT_PID_ENV: str(os.getpid())},
        )
        os.close(cmd_read)
        os.close(reply_write)
        self._buffer = b""
        self.error: str | None = None  # why the session ended, once it has

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.error is None and self.proc.poll() is None

    def _fail(self, reason: str, started: float) -> ChildResult:
        if self.proc.poll() is None:
            kill_tree(self.proc)
        returncode = self.proc.returncode
        if returncode is not None and returncode < 0 and not reason.startswith("timed out"):
            reason = signal_reason(returncode)
        elif returncode is not None and not reason.startswith("timed out"):
            last = _tail(self._err).splitlines()
            reason = f"{reason}; exit status {returncode}; stderr: {last[-1] if last else 'no stderr'}"
        self.error = reason
        return ChildResult(False, error=reason, returncode=returncode, stderr_tail=_tail(self._err),
                           wall_s=time.perf_counter() - started, pid=self.proc.pid)

    def send(self, target: str, payload: Any) -> bool:
        """Start a call of ``target`` with ``payload`` without waiting for it (:meth:`receive` waits).

        False when the process has ended; :meth:`receive` then says why.
        """
        self._sent = time.perf_counter()
        if not self.alive:
            return False
        line = json.dumps({"target": target, "payload": clean_for_json(payload)}, default=json_default) + "\n"
        try:
            os.write(self._cmd, line.encode())
        except BrokenPipeError:
            return False
        return True

    def receive(self, timeout_s: float | None = None, what: str = "result") -> ChildResult:
        """The reply to the call :meth:`send` started (``timeout_s`` counted from the send)."""
        import select

        started = getattr(self, "_sent", time.perf_counter())
        if self.error is not None:
            return ChildResult(False, error=f"the session's process has ended ({self.error})", pid=self.proc.pid)
        deadline = None if timeout_s is None else started + timeout_s
        try:
            while b"\n" not in self._buffer:
                wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
                ready, _, _ = select.select([self._reply], [], [], wait)
                if not ready:
                    return self._fail(f"timed out after {timeout_s:g} s", started)
                chunk = os.read(self._reply, 1 << 20)
                if not chunk:  # the child closed its end: it died
                    self.proc.wait()
                    return self._fail(f"no {what} written", started)
                self._buffer += chunk
        except BaseException:  # Ctrl-C or SIGTERM: leave no orphan behind
            kill_tree(self.proc)
            raise
        reply, _, self._buffer = self._buffer.partition(b"\n")
        wall = time.perf_counter() - started
        try:
            value = json.loads(reply)
        except ValueError as exc:
            return self._fail(f"unreadable {what} ({exc})", started)
        if isinstance(value, dict) and "__error__" in value:
            return ChildResult(False, error=value["__error__"], stderr_tail=_tail(self._err), wall_s=wall,
                               pid=self.proc.pid)
        return ChildResult(True, value=value.get("value"), wall_s=wall, pid=self.proc.pid)

    def call(self, target: str, payload: Any, timeout_s: float | None = None, what: str = "result") -> ChildResult:
        """Call ``target`` (``"package.module:function"``) with ``payload`` in the session's process."""
        if not self.alive:
            return ChildResult(False, error=f"the session's process has ended ({self.error or 'exited'})",
                               pid=self.proc.pid)
        self.send(target, payload)
        return self.receive(timeout_s, what)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the process and its children so far; how idle it stays is measured."""
        import psutil

        try:
            process = psutil.Process(self.proc.pid)
            total = sum(process.cpu_times()[:2])
            for child in process.children(recursive=True):
                total += sum(child.cpu_times()[:2])
        except psutil.Error:
            return 0.0
        return float(total)

    def close(self, timeout_s: float = 10.0) -> None:
        """End the session: the child exits when its command pipe closes; the tree is killed if it lingers.

        Descendants are listed first: once the child has exited they belong to no one, and are killed too.
        """
        import psutil

        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        for fd in (self._cmd, self._reply):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        kill_tree(self.proc)  # also whatever the child started and left behind
        for child in descendants:
            try:
                child.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(descendants, timeout=5)
        self._out.close()
        self._err.close()
        self._tmp.cleanup()

    def __enter__(self) -> ChildSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(cmd_fd: int, reply_fd: int) -> int:
    """Child side of :class:`ChildSession`: answer one JSON request per line until the pipe closes."""
    with os.fdopen(cmd_fd, "rb") as commands, os.fdopen(reply_fd, "wb", buffering=0) as replies:
        for line in commands:
            request = json.loads(line)
            module, _, function = request["target"].partition(":")
            try:
                value = getattr(importlib.import_module(module), function)(request["payload"])
                reply = {"value": clean_for_json(value)}
            except Exception as exc:  # noqa: BLE001 - the parent gets the reason; the session goes on
                reply = {"__error__": f"{type(exc).__name__}: {exc}"}
            replies.write((json.dumps(reply, default=json_default, allow_nan=False) + "\n").encode())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Child side: read the request, call the target, write its result; exit 0 once written.

    With ``--serve CMD_FD REPLY_FD``: serve calls until the command pipe closes (:class:`ChildSession`).
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 3 and argv[0] == "--serve":
        die_with_parent()
        return serve(int(argv[1]), int(argv[2]))
    if len(argv) != 2:
        print("usage: python -m benchlib.system.child REQUEST_JSON RESULT_JSON", file=sys.stderr)
        return 2
    die_with_parent()
    request = json.loads(Path(argv[0]).read_text())
    module, _, function = request["target"].partition(":")
    value = getattr(importlib.import_module(module), function)(request["payload"])
    write_json_atomic(Path(argv[1]), value)
    return 0


if __name__ == "__main__":
    status = main()
    # The result is on disk: skip the interpreter's teardown of whatever framework the function
    # loaded (about 1 s for TensorFlow, 0.3 s for PyTorch per process, docs/evidence/fixed-costs.md); it
    # measures nothing and only delays the next case. Streams are flushed first.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
