"""PyTorch factories for the user-model tests (imported by name in each worker process)."""

from __future__ import annotations

import torch


class TwoHeads(torch.nn.Module):
    """16 features → hidden 32 → (4 logits, 1 sigmoid score): two outputs."""

    benchlib_input_shape = (16,)

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU())
        self.logits = torch.nn.Linear(32, 4)
        self.score = torch.nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(x)
        return self.logits(hidden), torch.sigmoid(self.score(hidden))


def two_heads() -> torch.nn.Module:
    torch.manual_seed(0)  # the same weights in every process
    return TwoHeads()


def convnet() -> torch.nn.Module:
    """A ResNet-style CNN for 3x64x64 images (2.3 M parameters, 1.4 GFLOPs per sample once BN folds into Conv)."""
    torch.manual_seed(0)

    def block(cin: int, cout: int, stride: int) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(cout),
                                   torch.nn.ReLU(), torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                   torch.nn.BatchNorm2d(cout), torch.nn.ReLU())

    model = torch.nn.Sequential(block(3, 64, 1), block(64, 128, 2), block(128, 256, 2), block(256, 256, 2),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(256, 10))
    model.benchlib_input_shape = (3, 64, 64)
    return model


def not_a_module() -> int:
    return 3


def raises() -> torch.nn.Module:
    raise RuntimeError("factory broke on purpose")


def unseeded() -> torch.nn.Module:
    model = torch.nn.Linear(8, 2)  # new random weights on every call
    model.benchlib_input_shape = (8,)
    return model


class DataDependent(torch.nn.Module):
    """Python control flow on a tensor's value, which torch.export rejects (the TorchScript tracer follows it)."""

    benchlib_input_shape = (6,)

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # inputs drawn from [0, 1): always true, so the traced branch is the one that runs
            return self.linear(x)
        return -self.linear(x)


def data_dependent() -> torch.nn.Module:
    torch.manual_seed(0)
    return DataDependent()


class BatchOfTwo(torch.nn.Module):
    """Adds a (2, 3) buffer to its (batch, 3) output: only a batch of 2 broadcasts."""

    benchlib_input_shape = (5,)

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(5, 3)
        self.register_buffer("offset", torch.arange(6, dtype=torch.float32).reshape(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.offset


def batch_of_two() -> torch.nn.Module:
    torch.manual_seed(0)
    return BatchOfTwo()


class Prints(torch.nn.Linear):
    """Prints on every forward call, as a module being debugged does (export traces forward too)."""

    benchlib_input_shape = (4,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print("printed by forward")
        return super().forward(x)


def prints() -> torch.nn.Module:
    torch.manual_seed(0)
    return Prints(4, 2)


class RefusesExport(torch.nn.Linear):
    """Runs when called, raises while either ONNX exporter traces it."""

    benchlib_input_shape = (4,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting():
            raise RuntimeError("this module refuses to be exported")
        return super().forward(x)


def refuses_export() -> torch.nn.Module:
    torch.manual_seed(0)
    return RefusesExport(4, 2)
