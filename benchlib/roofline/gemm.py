"""One large float32 matrix multiply in one framework, in this process: the roofline's yardstick.

Each function builds ``size``×``size`` float32 operands, forces float32 arithmetic where the
framework could silently use less (TF32, bfloat16 or a reduced inference precision), limits the
framework to ``threads`` threads, warms up, and returns the best of ``repeats`` timed calls with
what the framework says about the kernels it dispatched (BLAS, ISA, precision). Called in a fresh
process per framework by :func:`benchlib.roofline.peaks.measure_peak`, so thread pools, environment
variables read at import, and verbose-mode output do not leak from one framework to another.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: The frameworks measured, in the order they run.
LIBRARIES = ("numpy", "pytorch", "tensorflow", "jax", "onnxruntime", "openvino")


def _operands(size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)


#: Cores the library kept busy, per process, set by :func:`best_seconds` (one call per process):
#: ``{"cores": CPU time over wall time, "window_s": the wall time that ratio was taken over}``.
CORES_USED: dict[str, float] = {}

#: The wall time the cores-used ratio is taken over. One call of a small GEMM lasts microseconds, and
#: CPU time over such a window is dominated by whatever else the process did in it (a 43 µs window read
#: 1.4 cores for single-threaded NumPy); a quarter of a second of back-to-back calls is long enough for
#: a stray thread's work to be diluted, and short beside the suite's 2048² GEMMs.
CORES_WINDOW_S = 0.25


def best_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``run`` after two untimed ones (allocation, thread start-up).

    Then calls ``run`` back to back for at least :data:`CORES_WINDOW_S` and records, in ``CORES_USED``,
    the process's CPU time over that wall time: how many cores the library really kept busy, whatever
    thread count it was asked for. That window is separate from the timed calls, so it never changes
    the rate.
    """
    run()
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - start) / 1e9)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while (wall := time.perf_counter() - wall0) < CORES_WINDOW_S:
        run()
    CORES_USED.update(cores=(time.process_time() - cpu0) / wall, window_s=wall)
    return best


def capture_stdout(run: Callable[[], Any]) -> str:
    """What ``run`` writes to file descriptor 1 (native libraries' verbose modes print there)."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1)
        try:
            os.dup2(sink.fileno(), 1)
            run()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        return sink.read().decode(errors="replace")


def verbose_isa(text: str) -> list[str]:
    """The ISA lines oneDNN (``ONEDNN_VERBOSE``) and MKL (``MKL_VERBOSE``) print, deduplicated."""
    lines = []
    for line in text.splitlines():
        if ("onednn_verbose" in line or "dnnl_verbose" in line) and ",isa:" in line:
            lines.append("oneDNN " + line.split(",isa:", 1)[1].strip())
        elif line.startswith("MKL_VERBOSE") and "processors" in line:
            # e.g. "... for Intel(R) 64 architecture Intel(R) AVX2 enabled processors"; on other vendors'
            # CPUs MKL may name only "Intel(R) Architecture processors" (its generic code path)
            lines.append(line.removeprefix("MKL_VERBOSE").strip())
    return list(dict.fromkeys(lines))


def numpy_gemm(size: int, repeats: int, threads: int | None) -> dict[str, Any]:
    from threadpoolctl import threadpool_info, threadpool_limits

    a, b = _operands(size)
    out = np.empty((size, size), np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        seconds = best_seconds(lambda: np.matmul(a, b, out=out), repeats)
        blas = [{k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
                for info in threadpool_info() if info.get("user_api") == "blas"]
    return {"seconds": seconds, "version": np.__version__, "precision": "float32 (NumPy never lowers it)",
            "dispatch": {"blas": blas, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}}


def torch_gemm(size: int, repeats: int, threads: int | None) -> dict[str, Any]:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torch.set_float32_matmul_precision("highest")  # no TF32/bf16 inside float32 matmuls
    a, b = (torch.from_numpy(x) for x in _operands(size))
    out = torch.empty(size, size)
    def traced() -> None:  # verbose for this one call only: it prints on every call while on
        with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON), \
                torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            torch.matmul(a, b, out=out)

    isa = verbose_isa(capture_stdout(traced))
    seconds = best_seconds(lambda: torch.matmul(a, b, out=out), repeats)
    config = torch.__config__.show()
    blas = sorted(set(re.findall(r"BLAS_INFO=([^,\s]+)", config))) or ["unknown"]
    return {"seconds": seconds, "version": torch.__version__,
            "precision": f"float32, float32_matmul_precision={torch.get_float32_matmul_precision()}",
            "dispatch": {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "blas": blas,
                         "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
                         "verbose_isa": isa, "threads": torch.get_num_threads()}}


def tensorflow_gemm(size: int, repeats: int, threads: int | None) -> dict[str, Any]:
    import tensorflow as tf

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_tensor_float_32_execution(False)
    a, b = (tf.constant(x) for x in _operands(size))
    matmul = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    isa = verbose_isa(capture_stdout(lambda: matmul(a, b)))
    seconds = best_seconds(lambda: matmul(a, b), repeats)  # eager CPU ops return when the result exists
    tf32 = "on" if tf.config.experimental.tensor_float_32_execution_enabled() else "off"
    return {"seconds": seconds, "version": tf.__version__, "precision": f"float32, TF32 {tf32}",
            "dispatch": {"TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86)"),
                         "verbose_isa": isa, "intra_op": tf.config.threading.get_intra_op_parallelism_threads()}}


def jax_gemm(size: int, repeats: int, threads: int | None) -> dict[str, Any]:
    from benchlib.backends.jax import SINGLE_THREAD_FLAGS

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_FLAGS}".strip()
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_default_matmul_precision", "highest")
    a, b = (jax.device_put(x) for x in _operands(size))
    matmul = jax.jit(lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST,
                                             preferred_element_type=jnp.float32))
    seconds = best_seconds(lambda: matmul(a, b).block_until_ready(), repeats)
    from jax.extend import backend as jax_backend

    return {"seconds": seconds, "version": jax.__version__, "precision": "float32, Precision.HIGHEST",
            "dispatch": {"platform": jax_backend.get_backend().platform_version,
                         "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
                         # XLA:CPU has no thread-count option: only one thread or all usable cores is honoured
                         "threads_honoured": threads in (None, 1) or threads == _usable()}}


def _usable() -> int:
    from benchlib.system.env import usable_cores

    return int(usable_cores()["usable"] or 1)


def _onnx_matmul(b: np.ndarray) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    size = b.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])],
        initializer=[numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def onnxruntime_gemm(size: int, repeats: int, threads: int | None) -> dict[str, Any]:
    import onnxruntime as ort

    a, b = _operands(size)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(_onnx_matmul(b), options, providers=["CPUExecutionProvider"])
    out = np.empty((size, size), np.float32)
    binding = session.io_binding()  # output written in place: no 16 MB allocation per call
    binding.bind_cpu_input("a", a)
    binding.bind_output("c", "cpu", 0, np.float32, out.shape, out.ctypes.data)
    seconds = best_seconds(lambda: session.run_with_iobinding(binding), repeats)
    return {"seconds": seconds, "version": ort.__version__, "precision": "float32 (MatMul on float32 tensors)",
            "dispatch": {"providers": session.get_providers(), "kernels": "MLAS (ISA chosen at run time from CPUID)",
                         "build": ort.get_build_info()[:200] if hasattr(ort, "get_build_info") else None}}


def openvino_gemm(size: int, repeats: int, threads: int | None) -> dict[str, Any]:
    from benchlib.backends.openvino import import_openvino

    ov = import_openvino()
    a, b = _operands(size)
    core = ov.Core()
    path = _onnx_file(b)
    try:
        model = core.read_model(path)
    finally:
        os.unlink(path)
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    request.set_input_tensor(ov.Tensor(a, shared_memory=True))
    seconds = best_seconds(lambda: request.infer(), repeats)
    precision = compiled.get_property("INFERENCE_PRECISION_HINT")
    precision = precision.get_type_name() if hasattr(precision, "get_type_name") else str(precision)
    return {"seconds": seconds, "version": ov.__version__ if hasattr(ov, "__version__") else ov.get_version(),
            "precision": f"float32, inference precision {precision} (read back from the compiled model)",
            "dispatch": {"device": core.get_property("CPU", "FULL_DEVICE_NAME"),
                         "capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
                         "threads": compiled.get_property("INFERENCE_NUM_THREADS")}}


def _onnx_file(b: np.ndarray) -> str:
    handle, path = tempfile.mkstemp(suffix=".onnx", prefix="benchlib-gemm-")
    with os.fdopen(handle, "wb") as out:
        out.write(_onnx_matmul(b))
    return path


GEMMS: dict[str, Callable[[int, int, int | None], dict[str, Any]]] = {
    "numpy": numpy_gemm, "pytorch": torch_gemm, "tensorflow": tensorflow_gemm, "jax": jax_gemm,
    "onnxruntime": onnxruntime_gemm, "openvino": openvino_gemm,
}


def gemm_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: ``{"library", "size", "repeats", "threads"}`` in, rate and dispatch facts out."""
    library, size, repeats = payload["library"], int(payload["size"]), int(payload["repeats"])
    if library not in GEMMS:
        raise ValueError(f"library={library!r} is unknown; allowed: {', '.join(GEMMS)}")
    result = GEMMS[library](size, repeats, payload.get("threads"))
    result["gflops"] = 2.0 * size**3 / result["seconds"] / 1e9
    result["cores_used"] = CORES_USED.get("cores")
    result["cores_window_s"] = CORES_USED.get("window_s")
    return result
