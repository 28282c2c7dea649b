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
