"""InceptionV1, the network of the Circuits papers, written here in PyTorch.

This is the TensorFlow graph ``inception5h`` (the DeepDream model) that Lucid and the Distill
Circuits thread study: a GoogLeNet variant with no batch norm, TensorFlow "SAME" padding and local
response normalisation. Its layers are named the paper's way (``conv2d0`` ... ``mixed5b``), and its
state dict uses the names of the public PyTorch conversion of the graph (``mixed3a_1x1_pre_relu_conv``),
so that file loads as it is.

How the network is laid out, for hooks and for reading weights:

- every convolution is a top-level attribute named like its state-dict entry
  (``self.mixed4d_3x3_pre_relu_conv``); its output is a *pre*-ReLU value;
- every interpretable layer is a parameterless ``nn.ReLU`` module named after the layer
  (``self.conv2d0``, ``self.mixed4d``): its input is the pre-ReLU activation, its output the
  post-ReLU activation. A mixed layer concatenates its four branches' pre-ReLU outputs and applies
  its ReLU once (the same as a ReLU per branch, then the concatenation);
- the bottleneck ReLUs inside each block are modules too (``self.mixed4d_3x3_bottleneck``), so a
  feature-visualisation tool can swap every ReLU for a variant;
- :data:`MIXED_BLOCKS` gives each block's channel widths and :func:`branch_modules` the chain of
  modules from a block's input to each branch; :data:`LAYER_INPUTS` says what sits between two
  consecutive layers. The forward pass is driven by these tables, so they cannot drift from it.

The weights and labels on disk (downloading, checking, building the model) are :mod:`helpers.inceptionv1_weights`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .models import Branch, Layer

NUM_CLASSES = 1008
INPUT_SIZE = 224

#: Local response normalisation as the graph computes it: TensorFlow's ``tf.nn.local_response_normalization``
#: with depth_radius 5, bias 2, alpha 1e-4 (float32: 0.00009999999747378752) and beta 0.5, i.e.
#: ``out[c] = x[c] / (2 + 1e-4 * sum(x[c-5 .. c+5] ** 2)) ** 0.5``, a window of 2 * 5 + 1 = 11 channels
#: centred on c. In ``torch.nn.LocalResponseNorm`` terms that is size 11 (an odd size, so the window is
#: symmetric: PyTorch puts size // 2 channels before c and (size - 1) // 2 after), alpha 11 x 1e-4
#: (PyTorch divides alpha by size, TensorFlow does not) and k 2. Public PyTorch ports used size 9 or
#: size 10 (asymmetric: 5 channels before, 4 after), neither of which is TensorFlow's formula; the
#: test writes TensorFlow's formula out and checks this module against it.
LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA = 5, 2.0, 0.00009999999747378752, 0.5
LOCAL_RESPONSE_NORM = dict(size=2 * LRN_DEPTH_RADIUS + 1, alpha=(2 * LRN_DEPTH_RADIUS + 1) * LRN_ALPHA,
                           beta=LRN_BETA, k=LRN_BIAS)

NO_PADDING = (0, 0, 0, 0)
#: TensorFlow "SAME" padding of a 3x3 stride-2 max pool on an even-sized input: one extra row and column, bottom/right.
STRIDE2_POOL_PADDING = (0, 1, 0, 1)


@dataclass(frozen=True)
class MixedBlock:
    """Channel widths of one mixed (Inception) block: its input and the convolutions of its four branches."""

    in_channels: int
    conv_1x1: int
    bottleneck_3x3: int
    conv_3x3: int
    bottleneck_5x5: int
    conv_5x5: int
    pool_reduce: int

    @property
    def out_channels(self) -> int:
        """Channels of the concatenated output."""
        return self.conv_1x1 + self.conv_3x3 + self.conv_5x5 + self.pool_reduce

    def branches(self) -> tuple[Branch, ...]:
        """The output channel range of each branch, in concatenation order (1x1, 3x3, 5x5, pool_reduce)."""
        widths = {"1x1": self.conv_1x1, "3x3": self.conv_3x3, "5x5": self.conv_5x5, "pool_reduce": self.pool_reduce}
        ranges, start = [], 0
        for name, width in widths.items():
            ranges.append(Branch(name, start, start + width))
            start += width
        return tuple(ranges)


#: Every mixed block, input to output: MixedBlock(in, 1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool_reduce).
MIXED_BLOCKS: dict[str, MixedBlock] = {
    "mixed3a": MixedBlock(192, 64, 96, 128, 16, 32, 32),
    "mixed3b": MixedBlock(256, 128, 128, 192, 32, 96, 64),
    "mixed4a": MixedBlock(480, 192, 96, 204, 16, 48, 64),
    "mixed4b": MixedBlock(508, 160, 112, 224, 24, 64, 64),
    "mixed4c": MixedBlock(512, 128, 128, 256, 24, 64, 64),
    "mixed4d": MixedBlock(512, 112, 144, 288, 32, 64, 64),
    "mixed4e": MixedBlock(528, 256, 160, 320, 32, 128, 128),
    "mixed5a": MixedBlock(832, 256, 160, 320, 48, 128, 128),
    "mixed5b": MixedBlock(832, 384, 192, 384, 48, 128, 128),
}

#: For each layer after the first: (the previous layer, the parameterless modules applied to it in between).
LAYER_INPUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conv2d1": ("conv2d0", ("maxpool0", "localresponsenorm0")),
    "conv2d2": ("conv2d1", ()),
    "mixed3a": ("conv2d2", ("localresponsenorm1", "maxpool1")),
    "mixed3b": ("mixed3a", ()),
    "mixed4a": ("mixed3b", ("maxpool4",)),
    "mixed4b": ("mixed4a", ()),
    "mixed4c": ("mixed4b", ()),
    "mixed4d": ("mixed4c", ()),
    "mixed4e": ("mixed4d", ()),
    "mixed5a": ("mixed4e", ("maxpool10",)),
    "mixed5b": ("mixed5a", ()),
}

LAYER_NAMES = ["conv2d0", *LAYER_INPUTS]

_STEM_DESCRIPTIONS = {
    "conv2d0": "7x7 conv, stride 2, + ReLU",
    "conv2d1": "1x1 conv + ReLU, after max pool and local response norm",
    "conv2d2": "3x3 conv + ReLU",
}


def branch_modules(layer: str) -> dict[str, tuple[str, ...]]:
    """For a mixed layer, the modules each branch applies to the block's input, in order (convs output pre-ReLU)."""
    if layer not in MIXED_BLOCKS:
        raise ValueError(f"{layer!r} is not a mixed layer; choose one of {', '.join(MIXED_BLOCKS)}.")
    return {
        "1x1": (f"{layer}_1x1_pre_relu_conv",),
        "3x3": (f"{layer}_3x3_bottleneck_pre_relu_conv", f"{layer}_3x3_bottleneck", f"{layer}_3x3_pre_relu_conv"),
        "5x5": (f"{layer}_5x5_bottleneck_pre_relu_conv", f"{layer}_5x5_bottleneck", f"{layer}_5x5_pre_relu_conv"),
        "pool_reduce": (f"{layer}_pool", f"{layer}_pool_reduce_pre_relu_conv"),
    }


class TFConv2d(nn.Conv2d):
    """A convolution with TensorFlow's explicit padding ``tf_padding`` = (left, right, top, bottom), filled with 0."""

    pad_value = 0.0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 tf_padding: tuple[int, int, int, int] = NO_PADDING):
        left, right, top, bottom = tf_padding
        symmetric = left == right and top == bottom
        # A symmetric zero padding is what nn.Conv2d does natively (and faster); only an uneven one needs F.pad.
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=(top, left) if symmetric else 0)
        self.tf_padding = tuple(tf_padding)
        self._extra_padding = None if symmetric else self.tf_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._extra_padding is not None:
            x = F.pad(x, self._extra_padding, value=self.pad_value)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tf_padding={self.tf_padding}"


class TFMaxPool2d(nn.Module):
    """A 3x3 max pool after TensorFlow's explicit padding ``tf_padding`` = (left, right, top, bottom), filled with -inf."""

    pad_value = -math.inf

    def __init__(self, stride: int, tf_padding: tuple[int, int, int, int], kernel_size: int = 3):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.tf_padding = tuple(tf_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.pad(x, self.tf_padding, value=self.pad_value), self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, tf_padding={self.tf_padding}"


class InceptionV1(nn.Module):
    """The ``inception5h`` network: images preprocessed to [-117, 138] in, 1008 class logits out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d0_pre_relu_conv = TFConv2d(3, 64, 7, stride=2, tf_padding=(2, 3, 2, 3))
        self.conv2d0 = nn.ReLU()
        self.maxpool0 = TFMaxPool2d(2, STRIDE2_POOL_PADDING)
        self.localresponsenorm0 = nn.LocalResponseNorm(**LOCAL_RESPONSE_NORM)
        self.conv2d1_pre_relu_conv = TFConv2d(64, 64, 1)
        self.conv2d1 = nn.ReLU()
        self.conv2d2_pre_relu_conv = TFConv2d(64, 192, 3, tf_padding=(1, 1, 1, 1))
        self.conv2d2 = nn.ReLU()
        self.localresponsenorm1 = nn.LocalResponseNorm(**LOCAL_RESPONSE_NORM)
        self.maxpool1 = TFMaxPool2d(2, STRIDE2_POOL_PADDING)
        for name, block in MIXED_BLOCKS.items():
            if name == "mixed4a":
                self.maxpool4 = TFMaxPool2d(2, STRIDE2_POOL_PADDING)
            if name == "mixed5a":
                self.maxpool10 = TFMaxPool2d(2, STRIDE2_POOL_PADDING)
            self._add_mixed_block(name, block)
        # At 224 px mixed5b is 7x7, so this is exactly the graph's 7x7 average pool; at other sizes
        # (where the TensorFlow graph cannot classify) it averages over whatever grid there is.
        self.avgpool0 = nn.AdaptiveAvgPool2d(1)
        self.softmax2_pre_activation_matmul = nn.Linear(MIXED_BLOCKS["mixed5b"].out_channels, NUM_CLASSES)

    def _add_mixed_block(self, name: str, block: MixedBlock) -> None:
        # Registration order follows the published state dict: 1x1, both bottlenecks, pool_reduce, 3x3, 5x5.
        width_in = block.in_channels
        setattr(self, f"{name}_1x1_pre_relu_conv", TFConv2d(width_in, block.conv_1x1, 1))
        setattr(self, f"{name}_3x3_bottleneck_pre_relu_conv", TFConv2d(width_in, block.bottleneck_3x3, 1))
        setattr(self, f"{name}_3x3_bottleneck", nn.ReLU())
        setattr(self, f"{name}_5x5_bottleneck_pre_relu_conv", TFConv2d(width_in, block.bottleneck_5x5, 1))
        setattr(self, f"{name}_5x5_bottleneck", nn.ReLU())
        setattr(self, f"{name}_pool", TFMaxPool2d(1, (1, 1, 1, 1)))
        setattr(self, f"{name}_pool_reduce_pre_relu_conv", TFConv2d(width_in, block.pool_reduce, 1))
        setattr(self, f"{name}_3x3_pre_relu_conv", TFConv2d(block.bottleneck_3x3, block.conv_3x3, 3, tf_padding=(1, 1, 1, 1)))
        setattr(self, f"{name}_5x5_pre_relu_conv", TFConv2d(block.bottleneck_5x5, block.conv_5x5, 5, tf_padding=(2, 2, 2, 2)))
        setattr(self, name, nn.ReLU())

    def _mixed(self, name: str, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for chain in branch_modules(name).values():
            branch = x
            for module_name in chain:
                branch = getattr(self, module_name)(branch)
            outputs.append(branch)
        return getattr(self, name)(torch.cat(outputs, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (before softmax) for a preprocessed batch (N, 3, H, W)."""
        x = self.conv2d0(self.conv2d0_pre_relu_conv(x))
        for layer, (_previous, between) in LAYER_INPUTS.items():
            for module_name in between:
                x = getattr(self, module_name)(x)
            if layer in MIXED_BLOCKS:
                x = self._mixed(layer, x)
            else:
                x = getattr(self, layer)(getattr(self, f"{layer}_pre_relu_conv")(x))
        return self.softmax2_pre_activation_matmul(self.avgpool0(x).flatten(1))


def course_layers(module: InceptionV1) -> list[Layer]:
    """The course's layers of an InceptionV1 module: the stem's convolutions and every mixed block, with its branches."""
    layers = []
    for name in LAYER_NAMES:
        if name in MIXED_BLOCKS:
            block = MIXED_BLOCKS[name]
            layers.append(Layer(name, name, block.out_channels, name, block.branches(),
                                "concat of 1x1, 3x3, 5x5 and pool_reduce branches + ReLU"))
        else:
            channels = getattr(module, f"{name}_pre_relu_conv").out_channels
            layers.append(Layer(name, name, channels, name, description=_STEM_DESCRIPTIONS[name]))
    return layers


def architecture_on_meta() -> InceptionV1:
    """The architecture without allocating or initialising weights (for checking names and shapes)."""
    with torch.device("meta"):
        return InceptionV1()
