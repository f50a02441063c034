"""The ResNets the SageMaker image-classification algorithm offers, as Gluon HybridBlocks.

Imports MXNet at module level: only ``satrec.train_local`` imports this module, inside a function.

Depths follow the algorithm (see ``satrec.hyperparams``): the ImageNet-style network (7x7 stem,
four stages) for 18/34 (basic blocks) and 50/101/152/200 (bottlenecks); the CIFAR-style network
(3x3 stem, three stages of 16/32/64 channels, (depth-2)/6 basic blocks each) for 20/32/44/56/110.
The head averages over the spatial axes with a plain mean: ``nn.GlobalAvgPool2D`` made the CIFAR
ResNet ~2.5x slower on MXNet 1.9.1's CPU build (BatchNorm's backward pass fell back to a slow kernel).
"""

from __future__ import annotations

from typing import Any

from mxnet.gluon import nn

from satrec.errors import HyperparameterError

IMAGENET_LAYOUT: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def _conv(channels: int, kernel: int, stride: int = 1) -> nn.Conv2D:
    return nn.Conv2D(channels, kernel_size=kernel, strides=stride, padding=kernel // 2, use_bias=False)


class _Residual(nn.HybridBlock):  # type: ignore[misc]
    """A residual unit: ``body`` (built by the subclass) plus an identity or 1x1-projection shortcut.

    The body is built before the shortcut so that layer names and seeded initialisation keep their order.
    """

    def __init__(self, channels: int, stride: int, project: bool) -> None:
        super().__init__()
        self.body = nn.HybridSequential()
        self._build(self.body, channels, stride)
        self.project: nn.HybridSequential | None = None
        if project:
            self.project = nn.HybridSequential()
            self.project.add(_conv(channels, 1, stride), nn.BatchNorm())

    def _build(self, body: Any, channels: int, stride: int) -> None:
        raise NotImplementedError

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 (Gluon passes the namespace as F)
        shortcut = self.project(x) if self.project is not None else x
        return F.Activation(self.body(x) + shortcut, act_type="relu")


class _Basic(_Residual):
    def _build(self, body: Any, channels: int, stride: int) -> None:
        body.add(_conv(channels, 3, stride), nn.BatchNorm(), nn.Activation("relu"),
                 _conv(channels, 3), nn.BatchNorm())


class _Bottleneck(_Residual):
    def _build(self, body: Any, channels: int, stride: int) -> None:
        body.add(_conv(channels // 4, 1), nn.BatchNorm(), nn.Activation("relu"),
                 _conv(channels // 4, 3, stride), nn.BatchNorm(), nn.Activation("relu"),
                 _conv(channels, 1), nn.BatchNorm())


class ResNet(nn.HybridBlock):  # type: ignore[misc]
    def __init__(self, num_layers: int, num_classes: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.features = nn.HybridSequential()
        units: tuple[int, ...]
        widths: tuple[int, ...]
        if num_layers in IMAGENET_LAYOUT:
            kind, units = IMAGENET_LAYOUT[num_layers]
            block = _Basic if kind == "basic" else _Bottleneck
            widths = (64, 128, 256, 512) if kind == "basic" else (256, 512, 1024, 2048)
            self.features.add(nn.Conv2D(64, kernel_size=7, strides=2, padding=3, use_bias=False),
                              nn.BatchNorm(), nn.Activation("relu"), nn.MaxPool2D(3, 2, 1))
            in_width = 64
        elif num_layers in CIFAR_DEPTHS:
            block, units, widths = _Basic, ((num_layers - 2) // 6,) * 3, (16, 32, 64)
            self.features.add(_conv(16, 3), nn.BatchNorm(), nn.Activation("relu"))
            in_width = 16
        else:
            raise HyperparameterError(f"num_layers: {num_layers} is not a depth the algorithm builds; use one of "
                                      f"{', '.join(map(str, sorted((*IMAGENET_LAYOUT, *CIFAR_DEPTHS))))}")
        for stage, (count, width) in enumerate(zip(units, widths, strict=True)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                self.features.add(block(width, stride, project=(i == 0 and (stride != 1 or width != in_width))))
                in_width = width
        self.output = nn.Dense(num_classes)

    def hybrid_forward(self, F: Any, x: Any) -> Any:  # noqa: N803 (Gluon passes the namespace as F)
        return self.output(F.mean(self.features(x), axis=(2, 3)))
