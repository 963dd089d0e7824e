"""``wrap_model``: any ``nn.Module`` made usable by every tool of the course, its layers found and checked by one traced pass."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .arguments import whole_number
from .models import ACTIVATION_KINDS, CircuitModel, ImageNormalize, Layer, UnknownNameError, closest, device_of, reused_message


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
            raise UnknownNameError(f"The module has no submodule {path!r}.{closest(path, list(modules)[1:], 30)}")

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
            module(preprocess(torch.zeros(1, in_channels, input_size, input_size, device=device_of(module))))
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
    preprocess = ImageNormalize(mean, std).to(device_of(module))
    paths = list(dict.fromkeys(mapping.values()))  # one module named twice is hooked once
    channels, calls = _channels_from_trace(module, preprocess, paths, input_size, in_channels)
    reused = {path: count for path, count in calls.items() if count > 1}
    if reused and not guessed:
        path, count = next(iter(reused.items()))
        raise ValueError(f"wrap_model: layer {path!r} cannot be a layer: {reused_message(path, count)}")
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
        blank = torch.zeros(1, in_channels, input_size, input_size, device=device_of(module))
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
