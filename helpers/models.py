"""What the course knows about a network: its layers, its units, its preprocessing and labels.

A :class:`CircuitModel` wraps any ``nn.Module`` with the facts every tool of the course needs:
the interpretable layers in order (each one an activation module to hook), their channel counts,
the preprocessing that turns images in [0, 1] RGB into the network's input, the class labels and
the native input size. Units are named the paper's way, ``"mixed3b:379"``.

Model zoo entries (InceptionV1, EfficientNet-Lite, torchvision models) live in ``helpers.zoo``;
:func:`wrap_model` does the same for a student's own network.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import torch
from torch import nn

from .arguments import whole_number
from .files import first_non_finite

#: Images may stray this far outside [0, 1] (interpolation overshoot, jitter) before they are refused as
#: another scale (0..255, a normalised tensor such as torchvision's ``Normalize(0.5, 0.5)`` in [-1, 1], [0, 2]).
IMAGE_RANGE_TOLERANCE = (-0.1, 1.1)
_CONVERT_HINT = ("convert with helpers.images.to_image_tensor(array) (it takes HxW, HxWx3 or HxWx4 arrays, uint8, "
                 "uint16 or floats, and scales by the type's range) and stack images with torch.stack")


class UnknownNameError(KeyError, ValueError):
    """A model, layer or unit name that does not exist; the message lists what does."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0])


def _closest(name: str, choices: Sequence[str], shown: int = 12) -> str:
    import difflib

    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    listing = ", ".join(choices[:shown]) + (f", ... ({len(choices)} in all)" if len(choices) > shown else "")
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


def _device_of(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def check_images(images: object, *, channels: int | None = 3, what: str = "images") -> torch.Tensor:
    """Refuse anything but a batch of float images (N, C, H, W) in [0, 1], with a message saying how to convert.

    Checks the type, the shape (an (H, W, 3) array, channels last, one unbatched image, an alpha
    channel), the dtype (uint8 and other integers), NaN/infinite values and the value range (0..255
    floats). Returns the tensor unchanged. Values are not read on the ``meta`` device.
    """
    if not isinstance(images, torch.Tensor):
        shape = getattr(images, "shape", None)
        described = f"a {type(images).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")
        raise TypeError(f"{what} must be a torch tensor (N, 3, H, W) of floats in [0, 1], got {described}: {_CONVERT_HINT}.")
    shape = tuple(images.shape)
    if images.dim() == 3:
        if shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4):
            fix = "an (H, W, C) image: use to_image_tensor(image)[None] (or image.permute(2, 0, 1)[None] for floats in [0, 1])"
        else:
            fix = "one image without a batch dimension: pass image[None] (or torch.stack for several)"
        raise ValueError(f"{what} must be a batch (N, 3, H, W); got shape {shape}, {fix}.")
    if images.dim() != 4:
        raise ValueError(f"{what} must be a batch (N, 3, H, W) of images in [0, 1]; got shape {shape}: {_CONVERT_HINT}.")
    if channels is not None and shape[1] != channels:
        if shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4):
            fix = "the channels come last (N, H, W, C): use images.permute(0, 3, 1, 2)"
        elif shape[1] == 4 and channels == 3:
            fix = "4 channels is RGBA: drop the alpha channel with images[:, :3] (to_image_tensor does it for arrays)"
        elif shape[1] == 1 and channels == 3:
            fix = "1 channel is greyscale: repeat it with images.expand(-1, 3, -1, -1)"
        else:
            fix = _CONVERT_HINT
        raise ValueError(f"{what} must have {channels} channels (N, {channels}, H, W); got shape {shape}: {fix}.")
    if not images.is_floating_point():
        scale = {torch.uint8: "255", torch.bool: "1"}.get(images.dtype, "the largest value the type holds")
        raise TypeError(f"{what} are {images.dtype}, but the course's models take floats in [0, 1]: use "
                        f"images.float() / {scale}, or {_CONVERT_HINT}.")
    if images.device.type == "meta" or images.numel() == 0:
        return images
    with torch.no_grad():
        values = images.detach()
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(f"{what} hold NaN or infinite values ({bad} of {values.numel()} entries); every activation "
                             f"would be NaN. Find where they came from (a division by zero, a failed load) and fix them.")
        low, high = (float(v) for v in torch.aminmax(values))
    if low < IMAGE_RANGE_TOLERANCE[0] or high > IMAGE_RANGE_TOLERANCE[1]:
        guess = (" (it looks like 0..255: divide by 255)" if high > 2 and low >= 0 and high <= 255 else
                 " (it looks normalised to [-1, 1]: use (images + 1) / 2)" if low >= -1.01 and high <= 1.01 and low < 0 else
                 " (it looks like [0, 2]: divide by 2)" if low >= 0 and high <= 2.01 else "")
        raise ValueError(f"{what} range from {low:.4g} to {high:.4g}, but the course's models take images in [0, 1]"
                         f"{guess}; {_CONVERT_HINT}. The model's own preprocessing does the normalisation.")
    return images


def non_finite_parameter(module: nn.Module) -> str | None:
    """The name of the first parameter or buffer of ``module`` holding NaN or infinity, or None."""
    return first_non_finite(dict(module.named_parameters()) | dict(module.named_buffers()))


def _raise_non_finite_output(model: "CircuitModel", where: str) -> None:
    bad = non_finite_parameter(model.module)
    cause = (f"its weights hold NaN or infinite values (first: {bad!r}); reload it with load_model(name, fresh=True) or find what wrote them"
             if bad else "an overflow inside the network (the input was checked and is finite)")
    raise ValueError(f"{model.name} produced NaN or infinite values at {where}: {cause}.")


@contextmanager
def _hooks_paused(module: nn.Module) -> Iterator[None]:
    """Take every forward (pre-)hook off ``module``'s submodules for a ``with`` block, and put them back."""
    saved = [(m, m._forward_hooks, m._forward_pre_hooks) for m in module.modules()]
    try:
        for m, _, _ in saved:
            m._forward_hooks, m._forward_pre_hooks = OrderedDict(), OrderedDict()
        yield
    finally:
        for m, hooks, pre_hooks in saved:
            m._forward_hooks, m._forward_pre_hooks = hooks, pre_hooks


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
            _raise_non_finite_output(self, "its output")
        return logits

    def top_classes(self, images: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """The k most probable (label, probability) pairs for each image of a batch."""
        k = whole_number(k, "k", minimum=1)
        if k > len(self.labels):
            raise ValueError(f"k must be at most the number of classes ({len(self.labels)}), got {k}.")
        with torch.no_grad():
            probabilities = self(images).softmax(-1)
        values, indices = probabilities.topk(k, dim=-1)
        return [[(self.labels[i], float(p)) for p, i in zip(row_p, row_i)] for row_p, row_i in zip(values, indices)]

    @property
    def device(self) -> torch.device:
        """The device the network's parameters (or buffers) live on; inputs are moved there."""
        return _device_of(self.module)

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
            raise UnknownNameError(f"{self.name} has no layer {name!r}.{_closest(str(name), self.layer_names, 40)}") from None

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
        with _hooks_paused(self.module):  # hooks already placed (a capture in progress) must not see this pass
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


def find_activation_layers(module: nn.Module, kinds: tuple[type, ...] = ACTIVATION_KINDS) -> list[str]:
    """Paths of the activation modules of a network, in registration order (a first guess at its layers)."""
    return [name for name, child in module.named_modules() if isinstance(child, kinds)]


def _channels_from_trace(module: nn.Module, preprocess: nn.Module, paths: Sequence[str], input_size: int,
                         in_channels: int) -> tuple[dict[str, int], dict[str, int]]:
    """(channels of each module's output, how many times each module ran) over one forward pass."""
    modules = dict(module.named_modules())
    found: dict[str, int] = {}
    calls: dict[str, int] = {}
    handles = []
    for path in paths:
        if path not in modules:
            raise UnknownNameError(f"The module has no submodule {path!r}.{_closest(path, list(modules)[1:], 30)}")

        def record(_module: nn.Module, _inputs: object, output: torch.Tensor, path: str = path) -> None:
            if not isinstance(output, torch.Tensor) or output.dim() != 4:
                got = f"a {type(output).__name__}" + (f" of shape {tuple(output.shape)}" if isinstance(output, torch.Tensor) else "")
                raise ValueError(f"wrap_model: module {path!r} gives {got}, but a layer must give feature maps (N, C, H, W). "
                                 "Choose convolutional modules (a fully connected layer or a module returning a tuple "
                                 "has no map of positions to show).")
            found.setdefault(path, int(output.shape[1]))
            calls[path] = calls.get(path, 0) + 1

        handles.append(modules[path].register_forward_hook(record))
    try:
        with torch.no_grad():
            module.eval()
            module(preprocess(torch.zeros(1, in_channels, input_size, input_size, device=_device_of(module))))
    except RuntimeError as error:
        raise ValueError(f"wrap_model: the network fails on a blank (1, {in_channels}, {input_size}, {input_size}) image: "
                         f"{str(error).splitlines()[0]}. Check in_channels (the channels the first layer takes) and "
                         "input_size (too small for the network's pooling?).") from None
    finally:
        for handle in handles:
            handle.remove()
    missing = [p for p in paths if p not in found]
    if missing:
        raise ValueError(f"These modules never ran in a forward pass, so they cannot be layers: {missing}.")
    return found, calls


def _reused_message(path: str, count: int) -> str:
    parent = path.rpartition(".")[0]
    instead = f" (e.g. {parent!r}, the block that contains it)" if parent else ""
    return (f"module {path!r} runs {count} times in one forward pass (one module reused inside the network, like "
            f"the ReLU of a ResNet block), so it has no single activation: a hook would see {count} different "
            f"values. Use a module that runs once{instead}.")


def wrap_model(
    module: nn.Module,
    layers: Sequence[str] | dict[str, str] | None = None,
    *,
    name: str = "my_model",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: int = 224,
    labels: Sequence[str] | None = None,
    in_channels: int = 3,
) -> CircuitModel:
    """Make any ``nn.Module`` usable by every tool of the course.

    ``layers`` lists module paths (``["features.1", "features.4"]``) or maps course names to module
    paths (``{"conv1": "features.1"}``); each module's output is that layer's activation. When a
    path names an activation module (ReLU, ...), its input is also available as the pre-activation.
    Left out, every ReLU/ReLU6/GELU/SiLU module becomes a layer. ``mean``/``std`` give the
    preprocessing from images in [0, 1] (default: none, 0 and 1 for each of the ``in_channels``).
    Layers must give feature maps (N, C, H, W); ``labels`` must name every class the network outputs.
    """
    in_channels = whole_number(in_channels, "in_channels", minimum=1)
    input_size = whole_number(input_size, "input_size", minimum=1)
    mean = (0.0,) * in_channels if mean is None else tuple(mean)
    std = (1.0,) * in_channels if std is None else tuple(std)
    if len(mean) != in_channels or len(std) != in_channels:
        raise ValueError(f"wrap_model: mean and std need one value per input channel (in_channels={in_channels}), "
                         f"got {len(mean)} and {len(std)}.")
    guessed = layers is None
    if guessed:
        layers = find_activation_layers(module)
        if not layers:
            raise ValueError("No activation modules found: pass layers=[...] with the module paths to use.")
    mapping = dict(layers) if isinstance(layers, dict) else {path: path for path in layers}
    preprocess = ImageNormalize(mean, std).to(_device_of(module))
    paths = list(dict.fromkeys(mapping.values()))  # one module named twice is hooked once
    channels, calls = _channels_from_trace(module, preprocess, paths, input_size, in_channels)
    reused = {path: count for path, count in calls.items() if count > 1}
    if reused and not guessed:
        path, count = next(iter(reused.items()))
        raise ValueError(f"wrap_model: layer {path!r} cannot be a layer: {_reused_message(path, count)}")
    if reused:  # guessed activation modules that run several times are left out, and said so
        mapping = {name: path for name, path in mapping.items() if path not in reused}
        print(f"wrap_model: left out {len(reused)} activation module(s) that run several times per forward pass "
              f"(e.g. {next(iter(reused))!r}); pass layers=[...] to choose modules that run once.")
        if not mapping:
            raise ValueError("wrap_model: every activation module runs several times per forward pass, so none can be "
                             "a layer: pass layers=[...] with module paths that run once (e.g. whole blocks).")
    modules = dict(module.named_modules())
    built = [
        Layer(
            name=course_name,
            module_path=path,
            channels=int(channels[path]),
            pre_activation_path=path if isinstance(modules[path], ACTIVATION_KINDS) else None,
        )
        for course_name, path in mapping.items()
    ]
    with torch.no_grad():
        blank = torch.zeros(1, in_channels, input_size, input_size, device=_device_of(module))
        num_classes = module(preprocess(blank)).shape[-1]
    if labels is not None and len(labels) != num_classes:
        raise ValueError(f"wrap_model: the network outputs {num_classes} classes, but {len(labels)} labels were given; "
                         "give one label per output.")
    wrapped = CircuitModel(
        name=name,
        module=module,
        layers=built,
        preprocess=preprocess,
        input_size=input_size,
        labels=list(labels) if labels is not None else [f"class {i}" for i in range(num_classes)],
        description="a model wrapped with wrap_model",
    )
    wrapped._calls = {course_name: calls[path] for course_name, path in mapping.items()}  # traced above already
    return wrapped
