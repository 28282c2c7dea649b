"""A Keras factory's model as every process sees it: its ONNX export described, its plan, its reference.

:func:`load_keras_model` reads the plan a case carries (``extra``) or plans the factory now (in a
child process, :func:`benchlib.models.keras_factory.plan_keras`), and returns a
:class:`KerasFactoryModel`: the export's inputs, outputs, parameters and FLOPs (what ONNX Runtime
and OpenVINO read), the plan (what TensorFlow, LiteRT, JAX and PyTorch build the factory from) and
the reference (float64 Keras on TensorFlow, else ONNX's reference evaluator on the export).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from benchlib.errors import FactoryError
from benchlib.models.keras_factory import PLAN_KEY, plan_keras, read_plan, shapes_key
from benchlib.models.keras_reference import float64_reference
from benchlib.models.onnx_model import OnnxModel, load_onnx_model, parse_input_shapes
from benchlib.models.reference_check import KERAS_FLOAT64, ReferenceOutputs
from benchlib.models.torch_factory import WEIGHTS_KEY


class PlanningProcessTraceback(Exception):
    """The traceback of a factory that raised in the planning process (the cause of the error raised here)."""


@dataclass
class KerasFactoryModel(OnnxModel):
    """A ``keras:`` factory's model: the export for the ONNX frameworks, the plan for Keras's own backends."""

    #: the plan (benchlib.models.keras_factory.make_plan): inputs, weights file and hash, exporter, custom layers
    plan: dict[str, Any] = field(default_factory=dict)

    def reference_check(self, feeds: Mapping[str, np.ndarray], fallback_fault: bool = False) -> ReferenceOutputs:
        """Every output from the model in float64 (Keras on TensorFlow) or, where Keras does not allow it, from
        ONNX's reference evaluator on the export (or its fallback), with the reason."""
        outputs, reason = float64_reference(self.plan, dict(feeds))
        if outputs is not None and len(outputs) == len(self.outputs):
            for info, out in zip(self.outputs, outputs, strict=True):
                if out.size == 0:
                    raise FactoryError(f"output {info.name!r} of {self.name} is empty (shape {list(out.shape)}); "
                                       "allowed: models whose outputs have at least one element")
            return ReferenceOutputs(outputs, KERAS_FLOAT64)
        if outputs is not None:
            reason = f"the model gave {len(outputs)} outputs, its export {len(self.outputs)}"
        result = super().reference_check(feeds, fallback_fault)
        why = f"no float64 Keras reference: {reason}" + (f"; {result.reason}" if result.reason else "")
        return ReferenceOutputs(result.outputs, result.method, why)

    def identity(self) -> dict[str, Any]:
        """The export's identity, with the Keras plan: its weights file, Keras version and custom layers."""
        return {**super().identity(), "keras": {
            "version": self.plan.get("keras_version"), "weights_file": self.plan.get("weights_file"),
            "plan_file": self.plan.get("plan_file"), "custom_layers": self.plan.get("custom_layers", [])}}


def load_keras_model(name: str, settings: Mapping[str, Any], input_shapes: str | None = None) -> KerasFactoryModel:
    """The factory's model from the case's plan (``settings``: its ``extra``), or planned now (a child process,
    ``input_shapes``: ``--input-shape``) when it has none.

    A factory that raised while planning raises here, its planning process's traceback as the cause,
    so that the case's record carries it.
    """
    plan = read_plan(settings.get(PLAN_KEY) or "")
    if plan is None or (settings.get(WEIGHTS_KEY) and plan["weights_sha256"] != settings[WEIGHTS_KEY]):
        plan = plan_keras(name, shapes_key(parse_input_shapes(input_shapes)))
        if not plan.get("ok", True):
            raise RuntimeError(f"{name} raised while it was planned: {plan['error']}") from PlanningProcessTraceback(
                plan.get("traceback", ""))
    base = load_onnx_model(plan["onnx_file"], plan.get("given_shapes") or None)
    expected = [i["name"] for i in plan["inputs"]]
    if [i.name for i in base.inputs] != expected:
        raise FactoryError(f"--models={name!r}: the ONNX export's inputs are {[i.name for i in base.inputs]}, the "
                           f"model's {expected}; allowed: a model whose inputs the exporter keeps")
    values = {f.name: getattr(base, f.name) for f in fields(OnnxModel)}
    values.update(kind="keras", factory=name, weights_sha256=plan["weights_sha256"], exporter=plan["exporter"])
    return KerasFactoryModel(**values, plan=plan)
