"""The small network: :class:`SmallConvNet` and its wrapping as a :class:`~helpers.models.CircuitModel`."""
from __future__ import annotations

from typing import Literal, Sequence, get_args

import torch
import torch.nn.functional as F
from torch import nn

from ..models import CircuitModel
from ..wrapping import wrap_model

#: Preprocessing of every small network: images in [0, 1] are mapped to [-1, 1].
NORMALIZE_MEAN = (0.5, 0.5, 0.5)
NORMALIZE_STD = (0.5, 0.5, 0.5)

#: Course layer names of :class:`SmallConvNet` and the activation module each one reads.
SMALL_NET_LAYERS = {"conv1": "relu1", "conv2": "relu2", "conv3": "relu3", "conv4": "relu4"}

#: How the last convolution's maps reach the read-out: averaged over positions, or every position kept.
Head = Literal["average", "flatten"]
HEADS: tuple[str, ...] = get_args(Head)


def check_head(head: object) -> None:
    """Refuse a read-out that :class:`SmallConvNet` does not have, naming the ones it has."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}.")


class SmallConvNet(nn.Module):
    """Four conv layers (5x5, then 3x3) with ReLUs, two max-pools and a linear read-out.

    ``head="average"`` (the default) reads the classes from global average pooling of ``conv4``;
    ``head="flatten"`` from every position of it (the read-out then depends on the input ``size``),
    the variant without global average pooling that weight banding is compared against.
    """

    def __init__(self, num_classes: int, width: int = 16, *, head: Head = "average", size: int = 32):
        super().__init__()
        if width < 1 or num_classes < 2:
            raise ValueError(f"width must be >= 1 and num_classes >= 2, got width={width}, num_classes={num_classes}.")
        check_head(head)
        if head == "flatten" and size < 4:
            raise ValueError(f"A flatten head needs images of at least 4 px (two 2x2 pools), got size={size}.")
        self.head = head
        self.conv1 = nn.Conv2d(3, width, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * width)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False)
        self.norm3 = nn.BatchNorm2d(4 * width)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(4 * width, 4 * width, 3, padding=1, bias=False)
        self.norm4 = nn.BatchNorm2d(4 * width)
        self.relu4 = nn.ReLU()
        positions = (size // 4) ** 2 if head == "flatten" else 1
        self.classifier = nn.Linear(4 * width * positions, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = F.max_pool2d(self.relu2(self.norm2(self.conv2(x))), 2)
        x = F.max_pool2d(self.relu3(self.norm3(self.conv3(x))), 2)
        x = self.relu4(self.norm4(self.conv4(x)))
        return self.classifier(x.mean(dim=(2, 3)) if self.head == "average" else x.flatten(1))


def wrap_small_net(net: SmallConvNet, classes: Sequence[str], size: int, name: str = "small_net") -> CircuitModel:
    """Wrap a :class:`SmallConvNet` as a CircuitModel with layers conv1..conv4 (post-ReLU, pre-activation available)."""
    net.eval()
    return wrap_model(
        net, SMALL_NET_LAYERS, name=name, mean=NORMALIZE_MEAN, std=NORMALIZE_STD, input_size=size, labels=list(classes)
    )
