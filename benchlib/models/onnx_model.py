"""A user's ONNX file as a benchmark model: checked, described, fed and verified.

:func:`load_onnx_model` refuses, with the value and what is allowed, a path that does not exist, a
file that is not ONNX, one failing ``onnx.checker`` and a dynamic dimension (other than the batch)
without a given size. The file is only read, never written; its external data is read from beside
it. The reference outputs come from ``onnx.reference.ReferenceEvaluator``, which shares no code
with any backend, or, for a graph it cannot run, from the fallback of
:mod:`benchlib.models.reference_check`; outputs are compared per output, relative to the reference's magnitude.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.errors import OnnxModelError, ReferenceUnavailableError
from benchlib.models.input_ranges import check_input_range
from benchlib.models.input_ranges import parse_input_ranges as _parse_input_ranges
from benchlib.models.memory import MemoryEstimate, onnx_estimate, user_memory_problem
from benchlib.models.onnx_flops import COUNTED_OPS, count_flops
from benchlib.models.onnx_inputs import TensorInfo, describe_inputs, describe_outputs
from benchlib.models.reference_check import FallbackReference, ReferenceOutputs, reference_outputs, worst_error

#: Largest accepted error of any output, as a fraction of that output's largest reference magnitude.
RELATIVE_TOLERANCE = 1e-4
#: Integer inputs that index no embedding table are drawn from [0, DEFAULT_INT_HIGH).
DEFAULT_INT_HIGH = 10


def file_digest(paths: list[Path]) -> str:
    """SHA-256 of the files' bytes, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def parse_input_shapes(text: str | Mapping[str, Any] | None) -> dict[str, tuple[int, ...]]:
    """``NAME=d1,d2;NAME2=d1`` (or a mapping) → per-sample shapes; refuses anything else with the value."""
    if not text:
        return {}
    items = text.items() if isinstance(text, Mapping) else (
        part.split("=", 1) if "=" in part else (part, None) for part in str(text).split(";") if part.strip())
    shapes: dict[str, tuple[int, ...]] = {}
    for name, dims in items:
        try:
            values = tuple(int(d) for d in (dims.replace("x", ",").split(",") if isinstance(dims, str) else dims))
        except (TypeError, ValueError, AttributeError):
            values = ()
        if not name or not values or any(v < 1 for v in values):
            raise OnnxModelError(f"--input-shape={name}={dims} is invalid; allowed: NAME=d1,d2,... with positive "
                                 "integers (the per-sample shape, without the batch axis), e.g. ids=128")
        shapes[str(name).strip()] = values
    return shapes


def parse_input_ranges(text: str | None) -> dict[str, tuple[float, float]]:
    """``NAME=LOW:HIGH;NAME2=LOW:HIGH`` → value ranges [LOW, HIGH), finite; refuses anything else with the value."""
    return _parse_input_ranges(text)


def format_input_shapes(shapes: Mapping[str, tuple[int, ...]]) -> str:
    """The inverse of :func:`parse_input_shapes` (sorted, so that equal settings give equal case keys)."""
    return ";".join(f"{name}={','.join(map(str, dims))}" for name, dims in sorted(shapes.items()))


@dataclass
class OnnxModel:
    """A checked ONNX file with everything a run needs; build it with :func:`load_onnx_model`."""

    path: Path
    sha256: str
    size_bytes: int
    external_files: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ops: dict[str, int]
    unknown_ops: tuple[str, ...]
    parameter_count: int
    fixed_batch: int | None = None  # a graph whose first input dimension is a number runs only that batch size
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: per input, the values drawn: [low, high) (``--input-range``); default [0, 1) or [0, high)
    input_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    kind: str = "onnx"
    #: a factory model (``kind="factory"``): its dotted path, the SHA-256 of its weights and the exporter that
    #: wrote ``path``, as the file's metadata records it (benchlib.models.torch_factory.EXPORTER, or the fallback
    #: with the reason the first failed)
    factory: str | None = None
    weights_sha256: str | None = None
    exporter: str | None = None
    tolerance: float = RELATIVE_TOLERANCE
    tolerance_reason: str = ("largest error of each output relative to the largest magnitude of the reference "
                             "evaluator's output (float32 accumulations in a different order)")

    @property
    def name(self) -> str:
        """The file's name without the suffix, or the factory's dotted path (records carry the hash too)."""
        return self.factory or self.path.stem

    @property
    def onnx_file(self) -> Path:
        """The file ONNX Runtime and OpenVINO read: the user's own, unmodified."""
        return self.path

    @cached_property
    def _flops(self) -> tuple[int | None, tuple[str, ...]]:
        return count_flops(self.path, self.inputs)

    def flops_per_sample(self) -> int | None:
        """FLOPs of one sample from MatMul, Gemm and Conv (``None`` if shapes could not be inferred)."""
        return self._flops[0]

    def uncounted_ops(self) -> tuple[str, ...]:
        """Op types with arithmetic that :meth:`flops_per_sample` leaves out."""
        return self._flops[1]

    @cached_property
    def onnx_tool_flops(self) -> dict[str, Any]:
        """onnx-tool's FLOPs per sample from every op, beside :meth:`flops_per_sample`
        (:func:`benchlib.models.onnx_tool_flops.onnx_tool_count`; ``error`` says why there is none)."""
        from benchlib.models.onnx_tool_flops import onnx_tool_count

        return onnx_tool_count(self.path, self.sha256, self.inputs)

    def flops_disagreement(self) -> str | None:
        """Why the two FLOP counts differ by more than 2x (or only one exists), or None."""
        from benchlib.models.onnx_tool_flops import disagreement

        return disagreement(self.flops_per_sample(), self.uncounted_ops(), self.onnx_tool_flops)

    def identity(self) -> dict[str, Any]:
        """What names this model in a record."""
        factory = ({"factory": self.factory, "weights_sha256": self.weights_sha256, "exporter": self.exporter}
                   if self.factory else {})
        return {"name": self.name, "kind": self.kind, **factory, "path": str(self.path), "sha256": self.sha256,
                "size_bytes": self.size_bytes, "external_data": list(self.external_files),
                "parameter_count": self.parameter_count, "flops_per_sample": self.flops_per_sample(),
                "flops_counted_ops": list(COUNTED_OPS), "flops_not_counted": list(self.uncounted_ops()),
                "flops_onnx_tool": self.onnx_tool_flops, "flops_disagreement": self.flops_disagreement(),
                "inputs": [_info(i) for i in self.inputs], "outputs": [_info(o) for o in self.outputs],
                "ops": dict(self.ops), "tolerance": self.tolerance, "tolerance_kind": "relative",
                "input_ranges": {name: list(bounds) for name, bounds in self.input_ranges.items()}}

    def set_input_ranges(self, text: str | None) -> None:
        """Check and keep ``--input-range``: finite bounds the input's type holds (see
        :mod:`benchlib.models.input_ranges`)."""
        ranges = parse_input_ranges(text)
        by_name = {info.name: info for info in self.inputs}
        for name, (low, high) in ranges.items():
            info = by_name.get(name)
            if info is None:
                raise OnnxModelError(f"--input-range names {name!r}, which is not an input of {self.name}; "
                                     f"allowed: {', '.join(by_name)}")
            check_input_range(self.name, info, low, high)
        self.input_ranges = ranges

    def check_batch(self, batch_size: int) -> None:
        """Refuse a batch size a fixed-batch graph cannot take."""
        if self.fixed_batch is not None and batch_size != self.fixed_batch:
            raise OnnxModelError(f"batch_size={batch_size} is invalid for {self.path}: its inputs have a fixed "
                                 f"batch dimension; allowed: {self.fixed_batch}")

    def random_input(self, batch_size: int, seed: int | None = None) -> dict[str, np.ndarray]:
        """One array per input: floats uniform in [0, 1), integers in [0, high), booleans; fixed seed.

        ``input_ranges`` replaces those bounds per input.
        """
        self.check_batch(batch_size)
        rng = np.random.default_rng(seed)
        ranges = self.drawn_ranges()
        feeds = {}
        for info in self.inputs:
            shape = (batch_size, *info.shape)
            dtype = np.dtype(info.dtype)
            low, high = ranges[info.name]
            if dtype == np.bool_:  # a range is within 0:2 (False, True)
                feeds[info.name] = rng.integers(int(low), int(high), size=shape).astype(bool)
            elif np.issubdtype(dtype, np.integer):
                feeds[info.name] = rng.integers(int(low), int(high), size=shape).astype(dtype)
            else:
                feeds[info.name] = (low + (high - low) * rng.random(shape, dtype=np.float64)).astype(dtype)
        return feeds

    def drawn_ranges(self) -> dict[str, tuple[float, float]]:
        """Per input, the values :meth:`random_input` draws, [low, high): ``input_ranges``' or the default."""
        ranges = {}
        for info in self.inputs:
            dtype = np.dtype(info.dtype)
            low, high = self.input_ranges.get(info.name, (0, None))
            if high is None:
                high = 2 if dtype == np.bool_ else (info.high or DEFAULT_INT_HIGH) if np.issubdtype(dtype, np.integer) \
                    else 1.0
            ranges[info.name] = (low, high)
        return ranges

    @cached_property
    def _evaluator(self) -> Any:
        import onnx
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(onnx.load(str(self.path)))  # external data is read from beside the file

    @cached_property
    def _fallback(self) -> FallbackReference:
        return FallbackReference(self.path, self.size_bytes)  # the user's own file, whatever precision the backend runs

    def reference_check(self, feeds: Mapping[str, np.ndarray], fallback_fault: bool = False) -> ReferenceOutputs:
        """Every output (a :class:`~benchlib.models.reference_check.ReferenceOutputs`, naming its method) from
        ONNX's reference evaluator or, if it raises, the fallback; an empty output is refused.

        Raises :class:`~benchlib.errors.ReferenceUnavailableError` when neither runs.
        ``fallback_fault`` (tests only) makes the fallback raise.
        """
        result = reference_outputs(lambda f: self._evaluator.run(None, f), self._fallback, dict(feeds), fallback_fault)
        for info, out in zip(self.outputs, result.outputs, strict=False):
            if out.size == 0:  # any framework would "match" it: nothing would be measured or verified
                raise OnnxModelError(f"output {info.name!r} of {self.name} is empty (shape {list(out.shape)}); "
                                     "allowed: models whose outputs have at least one element")
        return result

    def reference(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output, in graph order, from :meth:`reference_check` (the evaluator, or the fallback)."""
        return self.reference_check(feeds).outputs

    @cached_property
    def memory_estimate(self) -> MemoryEstimate:
        """Bytes a call needs, from the declared shapes (:class:`benchlib.models.memory.MemoryEstimate`)."""
        return onnx_estimate(self.path, self.inputs, self.outputs, self.fixed_batch)

    def memory_estimate_bytes(self, batch_size: int) -> int:
        """Rough bytes of one call at ``batch_size``: weights plus the batch's inputs, outputs and tensors."""
        return self.memory_estimate.at(batch_size)

    def batch_memory_problem(self, batch_size: int, available_bytes: int) -> str | None:
        """Why ``batch_size`` will not fit in ``available_bytes`` (the estimate, the largest batch), or None."""
        return user_memory_problem(self.name, self.memory_estimate, batch_size, available_bytes)

    def max_error(self, feeds: Mapping[str, np.ndarray], results: list[Any]) -> float:
        """Worst relative error over ``results`` (each a list of every output) against the reference."""
        return worst_error(results, self.reference(feeds))

    def output_check(self, feeds: Mapping[str, np.ndarray], results: list[Any],
                     fallback_fault: bool = False) -> tuple[float | None, str | None, str | None]:
        """(worst relative error, reference method, why not the evaluator); the error and method are None,
        with the reason, when no check could run (the outputs are then unverified, not wrong)."""
        try:
            reference = self.reference_check(feeds, fallback_fault)
        except ReferenceUnavailableError as exc:
            return None, None, str(exc)
        return worst_error(results, reference.outputs), reference.method, reference.reason


def _info(info: TensorInfo) -> dict[str, Any]:
    return {"name": info.name, "dtype": info.dtype, "shape": ["batch", *info.shape],
            **({"high": info.high} if info.high else {})}


def _not_onnx(path: Path, why: str) -> OnnxModelError:
    return OnnxModelError(f"--models={str(path)!r} is not an ONNX model ({why}); allowed: a file written by "
                          "onnx.save (a serialized ModelProto)")


def _read_model(path: Path) -> Any:
    """Parse the file's protobuf (without external data) and check it looks like a model."""
    import onnx

    if not path.exists():
        raise OnnxModelError(f"--models={str(path)!r} does not exist; allowed: the path of an existing .onnx file")
    if not path.is_file():
        raise OnnxModelError(f"--models={str(path)!r} is not a file; allowed: the path of an existing .onnx file")
    with path.open("rb") as handle:  # the first byte only: a model may be gigabytes
        head = handle.read(1)
    if head == b"\x80":  # pickle protocol 2+ starts with PROTO (0x80); never unpickled here
        raise _not_onnx(path, "it is a Python pickle")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for bad bytes
        raise _not_onnx(path, f"cannot be parsed: {type(exc).__name__}: {str(exc)[:200]}") from None
    if model.ir_version < 1 or not model.opset_import or not model.graph.node or not model.graph.output:
        raise _not_onnx(path, "no IR version, opset, nodes or outputs")
    return model


def _external_files(model: Any, path: Path) -> tuple[str, ...]:
    """External data files the model refers to, which must sit beside it (models load from there only)."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    names = []
    for tensor in model.graph.initializer:
        if uses_external_data(tensor):
            location = ExternalDataInfo(tensor).location
            target = (path.parent / location).resolve()
            if path.parent.resolve() not in target.parents or not target.is_file():
                raise OnnxModelError(f"--models={str(path)!r} refers to external data {location!r}, which is "
                                     f"missing or outside {path.parent}; allowed: data files in the model's folder")
            _check_external_size(tensor, target, path)
            names.append(location)
    return tuple(dict.fromkeys(names))


def _check_external_size(tensor: Any, target: Path, path: Path) -> None:
    """Refuse external data shorter than the tensor it holds (read later, it would fail mid-run)."""
    from onnx.external_data_helper import ExternalDataInfo
    from onnx.helper import tensor_dtype_to_np_dtype

    info = ExternalDataInfo(tensor)
    try:
        itemsize = np.dtype(tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
        declared = int(np.prod(tensor.dims, dtype=np.int64)) * itemsize
    except (KeyError, TypeError, ValueError):  # a type without a fixed item size: the declared length only
        declared = 0
    needed = max(declared, int(info.length or 0))
    available = target.stat().st_size - int(info.offset or 0)
    if needed > available:
        raise OnnxModelError(f"--models={str(path)!r}: tensor {tensor.name!r} needs {needed} bytes of external data "
                             f"from offset {int(info.offset or 0)} of {info.location!r}, which has only "
                             f"{max(available, 0)}; allowed: the complete data file written with the model")


def _embedding_highs(model: Any) -> dict[str, int]:
    """For each graph input used as the indices of a Gather on an initializer: that table's row count."""
    tables = {t.name: list(t.dims) for t in model.graph.initializer}
    highs: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[0] in tables:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            rows = tables[node.input[0]][axis]
            highs[node.input[1]] = min(rows, highs.get(node.input[1], rows))
    return highs


def check_onnx_file(path: str | Path) -> Any:
    """The parsed model (without external data) if ``path`` is an ONNX file ``onnx.checker`` accepts.

    Raises :class:`OnnxModelError` naming the path and what is allowed.
    """
    import onnx

    path = Path(path).expanduser().absolute()
    model = _read_model(path)
    _external_files(model, path)
    try:
        onnx.checker.check_model(str(path))  # by path: handles external data and files over 2 GB
    except Exception as exc:  # noqa: BLE001 - ValidationError and friends
        raise OnnxModelError(f"--models={str(path)!r} fails onnx.checker: {str(exc).strip()[:300]}; allowed: a "
                             "model that onnx.checker.check_model accepts") from None
    return model


def load_onnx_model(path: str | Path, input_shapes: str | Mapping[str, Any] | None = None) -> OnnxModel:
    """Check ``path`` and describe it; ``input_shapes`` gives dynamic per-sample dimensions.

    Raises :class:`OnnxModelError` with the value and what is allowed for every bad input.
    """
    import onnx

    path = Path(path).expanduser().absolute()
    model = check_onnx_file(path)
    externals = _external_files(model, path)
    shapes = parse_input_shapes(input_shapes)
    initializers = {t.name for t in model.graph.initializer}
    highs = _embedding_highs(model)
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    unknown = sorted(set(shapes) - {i.name for i in graph_inputs})
    if unknown:
        raise OnnxModelError(f"--input-shape names {unknown[0]!r}, which is not an input of {path.name}; allowed: "
                             f"{', '.join(i.name for i in graph_inputs)}")
    inputs, fixed_batch = describe_inputs(graph_inputs, shapes, highs, path)
    outputs = describe_outputs(model.graph.output, path)
    ops: dict[str, int] = {}
    unknown_ops = []
    for node in model.graph.node:
        key = f"{node.domain}:{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
        ops[key] = ops.get(key, 0) + 1
        if not onnx.defs.has(node.op_type, node.domain):
            unknown_ops.append(key)
    parameters = sum(int(np.prod(t.dims, dtype=np.int64)) for t in model.graph.initializer)
    files = [path, *(path.parent / name for name in externals)]
    return OnnxModel(path=path, sha256=file_digest(files), size_bytes=sum(f.stat().st_size for f in files),
                     external_files=externals, inputs=tuple(inputs), outputs=outputs, ops=ops,
                     unknown_ops=tuple(dict.fromkeys(unknown_ops)), parameter_count=parameters,
                     fixed_batch=fixed_batch, input_shapes=shapes)
