"""What the course knows about a network: its layers, its units, its preprocessing and labels.

A :class:`CircuitModel` wraps any ``nn.Module`` with the facts every tool of the course needs:
the interpretable layers in order (each one an activation module to hook), their channel counts,
the preprocessing that turns images in [0, 1] RGB into the network's input, the class labels and
the native input size. Units are named the paper's way, ``"mixed3b:379"``.

Model zoo entries (InceptionV1, EfficientNet-Lite, torchvision models) live in ``helpers.zoo``;
:func:`helpers.wrapping.wrap_model` does the same for a student's own network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from torch import nn

from .arguments import whole_number
from .files import first_non_finite
from .hooks import hooks_paused
from .image_checks import check_images



class UnknownNameError(KeyError, ValueError):
    """A model, layer or unit name that does not exist; the message lists what does."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0])


def closest(name: str, choices: Sequence[str], count: int = 12) -> str:
    """The end of an unknown-name message: the near matches of ``name`` and the names that exist."""
    import difflib

    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    listing = ", ".join(choices[:count]) + (f", ... ({len(choices)} in all)" if len(choices) > count else "")
    hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    return f"{hint} Available: {listing}."


@dataclass(frozen=True)
class Branch:
    """A contiguous range of channels of a concatenated layer (e.g. InceptionV1's 3x3 branch)."""

    name: str
    start: int
    stop: int


@dataclass(frozen=True)
class Layer:
    """One interpretable layer.

    ``module_path`` names the module whose *output* is the layer's (post-non-linearity) activation;
    when ``pre_activation_path`` is set, the *input* of that module is the pre-activation.
    """

    name: str
    module_path: str
    channels: int
    pre_activation_path: str | None = None
    branches: tuple[Branch, ...] = ()
    description: str = ""

    def branch_of(self, channel: int) -> Branch | None:
        """The concat branch a channel comes from, or None for a layer without branches."""
        for branch in self.branches:
            if branch.start <= channel < branch.stop:
                return branch
        return None


@dataclass(frozen=True, order=True)
class Unit:
    """One channel of one layer, written ``layer:channel`` as in the paper (``mixed3b:379``)."""

    layer: str
    channel: int

    def __str__(self) -> str:
        return f"{self.layer}:{self.channel}"

    @classmethod
    def parse(cls, spec: "str | Unit | tuple[str, int]") -> "Unit":
        """Read ``"mixed3b:379"``, ``("mixed3b", 379)`` or a Unit (no check against a model)."""
        if isinstance(spec, Unit):
            return spec
        if isinstance(spec, tuple) and len(spec) == 2:
            return cls(str(spec[0]), whole_number(spec[1], "channel"))
        if isinstance(spec, str) and ":" in spec:
            layer, _, channel = spec.rpartition(":")
            if channel.strip().isdigit() and layer.strip():
                return cls(layer.strip(), int(channel))
        raise ValueError(f"Cannot read unit {spec!r}: write it as 'layer:channel', e.g. 'mixed3b:379'.")


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for a module without either."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def non_finite_parameter(module: nn.Module) -> str | None:
    """The name of the first parameter or buffer of ``module`` holding NaN or infinity, or None."""
    return first_non_finite(dict(module.named_parameters()) | dict(module.named_buffers()))


def raise_non_finite_output(model: "CircuitModel", where: str) -> None:
    """Raise the course's error for NaN or infinite values a model produced at ``where``, naming the likely cause."""
    bad = non_finite_parameter(model.module)
    cause = (f"its weights hold NaN or infinite values (first: {bad!r}); reload it with load_model(name, fresh=True) or find what wrote them"
             if bad else "an overflow inside the network (the input was checked and is finite)")
    raise ValueError(f"{model.name} produced NaN or infinite values at {where}: {cause}.")


class ImageNormalize(nn.Module):
    """Preprocessing ``(x - mean) / std`` per channel, from images in [0, 1] RGB."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if len(mean) != len(std) or any(not math.isfinite(float(v)) for v in [*mean, *std]) or any(float(v) == 0 for v in std):
            raise ValueError(f"ImageNormalize needs one finite mean and one finite, non-zero std per channel, got mean={tuple(mean)}, "
                             f"std={tuple(std)}: a std of 0 divides by zero (every activation would be NaN or infinite).")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


@dataclass
class CircuitModel:
    """A network plus the facts the course needs about it. Call it on images in [0, 1] RGB."""

    name: str
    module: nn.Module
    layers: Sequence[Layer]
    preprocess: nn.Module
    input_size: int
    labels: Sequence[str]
    description: str = ""
    #: False for the random-weights negative control: the same architecture, freshly initialised.
    trained: bool = True
    _layer_index: dict[str, Layer] = field(init=False, repr=False)
    _shapes: dict[tuple[int, int], dict[str, tuple[int, int, int]]] = field(init=False, repr=False, default_factory=dict)
    #: Receptive fields measured so far, by (layer, input size): see ``activations.receptive_field``.
    _receptive_fields: dict[tuple[str, int], tuple[int, int, int, int]] = field(init=False, repr=False, default_factory=dict)
    _calls: dict[str, int] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.module.eval()
        self.module.requires_grad_(False)
        self.preprocess.eval()
        bad = non_finite_parameter(self.module)
        if bad is not None:
            raise ValueError(f"The weights of {self.name} hold NaN or infinite values (first: {bad!r}), so every "
                             f"activation would be NaN. Load the weights again, or find what wrote them.")
        self._layer_index = {layer.name: layer for layer in self.layers}
        modules = dict(self.module.named_modules())
        for layer in self.layers:
            for path in (layer.module_path, layer.pre_activation_path):
                if path is not None and path not in modules:
                    raise ValueError(f"Layer {layer.name!r} points at module {path!r}, which {self.name} does not have.")

    # --- running -------------------------------------------------------------------------
    @property
    def in_channels(self) -> int | None:
        """Channels the network takes (3 for RGB), read from the preprocessing; None when it cannot tell."""
        mean = getattr(self.preprocess, "mean", None)
        return int(mean.shape[1]) if isinstance(mean, torch.Tensor) and mean.dim() == 4 else None

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """The one entry point of every image into the network: checked (:func:`check_images`), then moved to its device."""
        images = check_images(images, channels=self.in_channels)
        return images.to(self.device, torch.float32 if images.dtype == torch.float64 else images.dtype)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch of images in [0, 1] RGB, shape (N, 3, H, W), on any device (moved to the model's)."""
        logits = self.module(self.preprocess(self.prepare_input(images)))
        if logits.device.type != "meta" and not bool(torch.isfinite(logits.detach()).all()):
            raise_non_finite_output(self, "its output")
        return logits

    def top_classes(self, images: torch.Tensor, count: int = 5) -> list[list[tuple[str, float]]]:
        """The ``count`` most probable (label, probability) pairs for each image of a batch."""
        count = whole_number(count, "count", minimum=1)
        if count > len(self.labels):
            raise ValueError(f"count must be at most the number of classes ({len(self.labels)}), got {count}.")
        with torch.no_grad():
            probabilities = self(images).softmax(-1)
        values, indices = probabilities.topk(count, dim=-1)
        return [[(self.labels[i], float(p)) for p, i in zip(row_p, row_i)] for row_p, row_i in zip(values, indices)]

    @property
    def device(self) -> torch.device:
        """The device the network's parameters (or buffers) live on; inputs are moved there."""
        return device_of(self.module)

    def to(self, device: str | torch.device) -> "CircuitModel":
        """Move the network to a device, in place; returns self."""
        self.module.to(device)
        self.preprocess.to(device)
        return self

    # --- names ---------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """Interpretable layer names, input to output."""
        return [layer.name for layer in self.layers]

    def layer(self, name: str | Layer) -> Layer:
        """Look a layer up by name; an unknown name raises an error listing the real ones."""
        if isinstance(name, Layer):
            name = name.name
        try:
            return self._layer_index[name]
        except KeyError:
            raise UnknownNameError(f"{self.name} has no layer {name!r}.{closest(str(name), self.layer_names, 40)}") from None

    def layer_depth(self, name: str) -> int:
        """Position of a layer in :attr:`layer_names` (0 = closest to the input)."""
        return self.layer_names.index(self.layer(name).name)

    def depth_fraction(self, name: str) -> float:
        """Relative depth of a layer: 0 for the first layer, 1 for the last (:meth:`layer_depth` / (layers - 1))."""
        return self.layer_depth(name) / max(1, len(self.layers) - 1)

    def channels(self, layer: str) -> int:
        """Number of channels (units) in a layer."""
        return self.layer(layer).channels

    def unit(self, spec: "str | Unit | tuple[str, int]", channel: int | None = None) -> Unit:
        """A checked unit: ``model.unit("mixed3b:379")`` or ``model.unit("mixed3b", 379)``."""
        unit = Unit(str(spec), whole_number(channel, "channel")) if channel is not None else Unit.parse(spec)
        count = self.layer(unit.layer).channels
        if not 0 <= unit.channel < count:
            raise UnknownNameError(
                f"{self.name} layer {unit.layer!r} has channels 0..{count - 1}; there is no unit {unit}."
            )
        return unit

    def units(self, layer: str, channels: Iterable[int] | None = None) -> list[Unit]:
        """Checked units of one layer (all of them when ``channels`` is None)."""
        if channels is None:
            channels = range(self.channels(layer))
        return [self.unit(layer, c) for c in channels]

    def describe_unit(self, spec: "str | Unit") -> str:
        """A one-line description of a unit, naming its concat branch where the layer has one."""
        unit = self.unit(spec)
        branch = self.layer(unit.layer).branch_of(unit.channel)
        where = f", channel {unit.channel - branch.start} of branch {branch.name}" if branch else ""
        return f"{unit} ({self.name}{where})"

    # --- shapes --------------------------------------------------------------------------
    def layer_shapes(self, size: int | None = None) -> dict[str, tuple[int, int, int]]:
        """(channels, height, width) of every layer for a square input of ``size`` pixels."""
        size = size or self.input_size
        if (size, size) not in self._shapes:
            self._trace(size)
        return self._shapes[size, size]

    def _trace(self, size: int) -> None:
        """One forward pass on a blank image, recording each layer's shape and how often its module runs."""
        shapes: dict[str, tuple[int, int, int]] = {}
        calls: dict[str, int] = {}
        modules = dict(self.module.named_modules())
        handles = []
        with hooks_paused(self.module):  # hooks already placed (a capture in progress) must not see this pass
            for layer in self.layers:
                def hook(_m, _i, output, name=layer.name):
                    shapes.setdefault(name, tuple(output.shape[1:]))
                    calls[name] = calls.get(name, 0) + 1
                handles.append(modules[layer.module_path].register_forward_hook(hook))
            try:
                with torch.no_grad():
                    self.module(self.preprocess(torch.zeros(1, self.in_channels or 3, size, size, device=self.device)))
            finally:
                for handle in handles:
                    handle.remove()
        self._shapes[size, size] = shapes
        if self._calls is None:
            self._calls = calls

    def reused_layers(self) -> dict[str, int]:
        """Layers whose module runs more than once per forward pass (e.g. ResNet's block ReLU), with the count.

        Such a layer has no single activation: a hook would see several. :func:`helpers.activations.capture`
        refuses them.
        """
        if self._calls is None:
            self._trace(self.input_size)
        return {name: count for name, count in self._calls.items() if count > 1}

    def summary(self, size: int | None = None) -> str:
        """A table of the layers with their output shapes, ready to print."""
        shapes = self.layer_shapes(size)
        width = max(len(n) for n in self.layer_names)
        rows = [f"{self.name}: {len(self.layers)} layers at {size or self.input_size} px input"]
        for layer in self.layers:
            c, h, w = shapes[layer.name]
            note = f"  {layer.description}" if layer.description else ""
            rows.append(f"  {layer.name:<{width}}  {c:>5} x {h:>3} x {w:<3}{note}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (
            f"CircuitModel({self.name!r}, {len(self.layers)} layers from {self.layers[0].name!r} to "
            f"{self.layers[-1].name!r}, {len(self.labels)} classes, {self.input_size} px)"
        )


#: The element-wise non-linearities the course knows: a module of one of these kinds is a layer whose
#: input is its pre-activation (wrap_model), a first guess at a network's layers, and what the
#: linearized expanded weights replace by the identity (helpers.weights).
ACTIVATION_KINDS: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid,
    nn.Softplus, nn.Mish,
)


def reused_message(path: str, count: int) -> str:
    """Why a module that runs several times per forward pass cannot be a layer, and what to use instead."""
    parent = path.rpartition(".")[0]
    instead = f" (e.g. {parent!r}, the block that contains it)" if parent else ""
    return (f"module {path!r} runs {count} times in one forward pass (one module reused inside the network, like "
            f"the ReLU of a ResNet block), so it has no single activation: a hook would see {count} different "
            f"values. Use a module that runs once{instead}.")
