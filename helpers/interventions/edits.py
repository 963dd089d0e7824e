"""The ``with``-block interventions: a layer's activation or a parameter changed inside the block, always restored.

How the wrapper works is told in :mod:`helpers.interventions`.
"""
from __future__ import annotations

import hashlib
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterable, Iterator, Literal, Sequence

import torch
from torch import nn

from ..activations import capture, stream
from ..arguments import whole_number
from ..images import ImageSource
from ..models import CircuitModel, Unit

#: ``transform(output, images)`` returns the new activation; ``images`` are the batch's inputs in [0, 1].
Transform = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _key_buffer(key: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(hashlib.sha1(key.encode()).digest()), dtype=torch.uint8).clone()


class InterventionModule(nn.Module):
    """Runs the original module, then ``transform`` on its output (see the module docstring)."""

    def __init__(self, original: nn.Module, transform: Transform, key: str, images: dict):
        super().__init__()
        self.original = original
        self.transform = transform
        self._images = images
        # In the state dict, so the model's fingerprint (and every cache keyed by it) changes while the wrapper is in.
        self.register_buffer("intervention", _key_buffer(key), persistent=True)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.transform(self.original(*inputs), self._images.get("images"))


def _parent_and_name(module: nn.Module, path: str) -> tuple[nn.Module, str]:
    parent_path, _, name = path.rpartition(".")
    return (module.get_submodule(parent_path) if parent_path else module), name


@contextmanager
def intervened_layer(model: CircuitModel, layer: str, transform: Transform, key: str = "") -> Iterator[InterventionModule]:
    """Low level: ``layer``'s activation becomes ``transform(activation, images)`` inside the ``with`` block.

    ``images`` is the batch the model was called on (in [0, 1]), for transforms that need the input;
    ``key`` describes the change (it goes into the model's fingerprint). Always restored.
    """
    path = model.layer(layer).module_path
    parent, name = _parent_and_name(model.module, path)
    original = getattr(parent, name)
    stash: dict = {}
    hook = model.preprocess.register_forward_pre_hook(lambda _m, inputs: stash.__setitem__("images", inputs[0]))
    wrapper = InterventionModule(original, transform, f"{layer}|{key}", stash)
    try:
        setattr(parent, name, wrapper)
        yield wrapper
    finally:
        _remove_wrapper(parent, name, wrapper)
        hook.remove()
        stash.clear()


def _remove_wrapper(parent: nn.Module, name: str, wrapper: InterventionModule) -> None:
    """Take ``wrapper`` out of the chain of wrappers at ``parent.name``, whatever order the ``with`` blocks exit in.

    Blocks exited out of order (``a.__exit__()`` before ``b.__exit__()``) must still leave exactly the
    module that was there before both: a later wrapper on top of this one is re-linked to what this one wrapped.
    """
    installed = getattr(parent, name)
    if installed is wrapper:
        setattr(parent, name, wrapper.original)
        return
    while isinstance(installed, InterventionModule):
        if installed.original is wrapper:
            installed.original = wrapper.original
            return
        installed = installed.original


def _by_layer(model: CircuitModel, units: Iterable[str | Unit] | str | Unit) -> dict[str, list[int]]:
    if isinstance(units, (str, Unit)):
        units = [units]
    grouped: dict[str, list[int]] = {}
    for spec in units:
        unit = model.unit(spec)
        grouped.setdefault(unit.layer, [])
        if unit.channel not in grouped[unit.layer]:
            grouped[unit.layer].append(unit.channel)
    return grouped


def set_channels(output: torch.Tensor, channels: list[int], values: torch.Tensor) -> torch.Tensor:
    """A copy of a layer's ``output`` whose ``channels`` hold ``values`` (broadcast): how every edit writes into a layer."""
    changed = output.clone()
    changed[:, channels] = values.to(output.dtype).to(output.device).expand_as(changed[:, channels])
    return changed


def layer_means(model: CircuitModel, layer: str, images: torch.Tensor | ImageSource, *, batch_size: int = 32) -> torch.Tensor:
    """Each unit's mean activation (C,) over images and positions: the value a mean ablation holds it at."""
    batch_size = whole_number(batch_size, "batch_size", minimum=1)
    if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[0] == 0:
        raise ValueError("layer_means needs at least one image; got an empty batch (0 images).")
    total, count = None, 0
    for _, found in stream(model, images, layer, batch_size=batch_size if isinstance(images, torch.Tensor) else None,
                           progress=False, description=f"means of {layer}"):
        maps = found[layer].double()
        summed = maps.sum(dim=(0, 2, 3))
        total = summed if total is None else total + summed
        count += maps.shape[0] * maps.shape[2] * maps.shape[3]
    if total is None:
        raise ValueError("layer_means needs at least one image.")
    return (total / count).float().cpu()


@contextmanager
def ablated(
    model: CircuitModel,
    units: Iterable[str | Unit] | str | Unit,
    *,
    mode: Literal["zero", "mean"] = "zero",
    means: dict[str, torch.Tensor] | torch.Tensor | None = None,
) -> Iterator[dict[str, list[int]]]:
    """Silence ``units`` inside the ``with`` block: set to zero, or (``mode="mean"``) to their mean activation.

    ``means``: from :func:`layer_means`, one (C,) tensor per layer (a dict by layer name, or one tensor
    when all units share a layer). An empty list of units changes nothing. Yields the channels per layer.
    """
    if mode not in ("zero", "mean"):
        raise ValueError(f"mode must be 'zero' or 'mean', not {mode!r}.")
    grouped = _by_layer(model, units)
    if mode == "mean" and grouped:
        if means is None:
            raise ValueError("mode='mean' needs means=layer_means(model, layer, images): the mean over a data set.")
        if isinstance(means, torch.Tensor):
            if len(grouped) > 1:
                raise ValueError("The units span several layers: pass means as a dict {layer: layer_means(...)}.")
            means = {layer: means for layer in grouped}
        missing = [layer for layer in grouped if layer not in means]
        if missing:
            raise ValueError(f"No means given for layer(s) {missing}.")
    with ExitStack() as stack:
        for layer, channels in grouped.items():
            if mode == "zero":
                values = torch.zeros(len(channels))
            else:
                layer_mean = torch.as_tensor(means[layer]).flatten().float()
                if layer_mean.numel() != model.channels(layer):
                    raise ValueError(f"means for {layer} must hold {model.channels(layer)} values, one per unit; got {layer_mean.numel()}.")
                values = layer_mean[channels]
                if not bool(torch.isfinite(values).all()):
                    raise ValueError(f"means for {layer} hold NaN or infinite values at channels "
                                     f"{[c for c, v in zip(channels, values.tolist()) if not v == v or abs(v) == float('inf')]}: "
                                     "recompute them with layer_means(model, layer, images) on finite images.")
            values = values.view(1, -1, 1, 1)
            key = f"ablate {mode} {channels} {values.flatten().tolist()}"
            stack.enter_context(intervened_layer(
                model, layer, lambda output, _images, c=channels, v=values: set_channels(output, c, v), key))
        yield grouped


@contextmanager
def patched(
    model: CircuitModel,
    layer: str,
    source: torch.Tensor,
    channels: Sequence[int] | None = None,
) -> Iterator[torch.Tensor]:
    """Inside the ``with`` block, ``channels`` of ``layer`` (all by default) hold their activation for ``source``.

    ``source``: images (N, 3, H, W) in [0, 1], one per image the model will run on, or one image
    for all of them; the same size as those images. Yields the patched-in activation.
    """
    if source.dim() == 3:
        source = source[None]
    with torch.inference_mode():
        activation = capture(model, source, layer)[layer].detach().clone()
    chosen = list(range(model.channels(layer))) if channels is None else [model.unit(layer, c).channel for c in channels]
    patch = activation[:, chosen]

    def transform(output: torch.Tensor, _images: torch.Tensor | None) -> torch.Tensor:
        if patch.shape[-2:] != output.shape[-2:] or patch.shape[0] not in (1, output.shape[0]):
            raise ValueError(f"The patch from the source images has shape {tuple(patch.shape)} but {layer} has "
                             f"{tuple(output.shape)} here: use source images of the same size, one per image or one in all.")
        return set_channels(output, chosen, patch)

    digest = hashlib.sha1(activation.cpu().numpy().tobytes()).hexdigest()
    with intervened_layer(model, layer, transform, f"patch {chosen} {digest}"):
        yield activation


@contextmanager
def spliced(
    model: CircuitModel,
    layer: str,
    channels: Sequence[int],
    compute: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor],
    key: str = "",
) -> Iterator[None]:
    """Inside the ``with`` block, ``channels`` of ``layer`` are ``compute(images, (h, w))``, shaped (N, len(channels), h, w).

    ``images`` are the model's inputs in [0, 1] and (h, w) the layer's map size: put a hand-written detector in
    place of (or, with spare channels, beside) the learned units. ``key`` names the computation (it enters the
    fingerprint).
    """
    chosen = [model.unit(layer, c).channel for c in channels]

    def transform(output: torch.Tensor, images: torch.Tensor | None) -> torch.Tensor:
        if images is None:
            raise RuntimeError("spliced() needs the input images: call the model as model(images), not model.module(...).")
        values = compute(images, tuple(output.shape[-2:]))
        expected = (output.shape[0], len(chosen), *output.shape[2:])
        if tuple(values.shape) != expected:
            raise ValueError(f"compute(images, size) must return {expected} for {layer}; got {tuple(values.shape)}.")
        return set_channels(output, chosen, values)

    with intervened_layer(model, layer, transform, f"splice {chosen} {key or getattr(compute, '__name__', repr(compute))}"):
        yield None


@contextmanager
def replaced_weights(model: CircuitModel, edits: dict[str, tuple[object, torch.Tensor | float]]) -> Iterator[None]:
    """Overwrite parameter slices inside the ``with`` block: ``{"blocks.3.2.conv_dw.weight": (channel, new)}``.

    Each edit is (index, value) into the named parameter or buffer (``index`` anything a tensor
    accepts, e.g. an int or a tuple of slices). The originals are copied first and written back exactly.
    """
    tensors = dict(model.module.named_parameters())
    tensors.update(dict(model.module.named_buffers()))
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        with torch.no_grad():
            for name, (index, value) in edits.items():
                if name not in tensors:
                    raise KeyError(f"{model.name} has no parameter {name!r}.")
                tensor = tensors[name]
                saved.append((tensor, tensor.detach().clone()))
                tensor[index] = torch.as_tensor(value, dtype=tensor.dtype, device=tensor.device)
        yield None
    finally:
        with torch.no_grad():
            for tensor, original in reversed(saved):
                tensor.copy_(original)


def mean_ablation_weights(model: CircuitModel, units: Iterable[str | Unit] | str | Unit,
                          means: torch.Tensor) -> dict[str, tuple[object, torch.Tensor]]:
    """The weight edits that hold ``units`` (all of one layer) at their mean: a mean ablation written into the network.

    For :func:`replaced_weights`: each unit's last per-channel parameters before its activation are set so that its
    output no longer depends on the input: on EfficientNet-Lite the batch norm's scale 0 and shift the unit's mean, on
    InceptionV1 its branch convolution's weights 0 and bias the mean (the ReLU after passes a mean, never negative,
    unchanged; a mean above ReLU6's ceiling is not reachable). ``means``: the layer's (C,) from :func:`layer_means`.
    Inside the edit the layer equals ``ablated(model, units, mode="mean", means=means)``.
    """
    grouped = _by_layer(model, units)
    if len(grouped) > 1:
        raise ValueError(f"mean_ablation_weights takes units of one layer; got units of {sorted(grouped)}.")
    edits: dict[str, tuple[object, torch.Tensor]] = {}
    for layer, channels in grouped.items():
        layer_mean = torch.as_tensor(means).flatten().float()
        if layer_mean.numel() != model.channels(layer):
            raise ValueError(f"means for {layer} must hold {model.channels(layer)} values, one per unit; got {layer_mean.numel()}.")
        parameters = dict(model.module.named_parameters())
        norm = model.layer(layer).module_path.rpartition(".")[0]  # EfficientNet-Lite: the BatchNormAct2d around the act
        if f"{norm}.weight" in parameters and parameters[f"{norm}.weight"].numel() == model.channels(layer):
            edits[f"{norm}.weight"] = (channels, torch.zeros(len(channels)))
            edits[f"{norm}.bias"] = (channels, layer_mean[channels])
            continue
        from ..inceptionv1 import MIXED_BLOCKS

        if model.name != "inceptionv1":
            raise NotImplementedError(f"No weight form of a mean ablation for {model.name}'s {layer}.")
        spans = ([(f"{layer}_{b.name}_pre_relu_conv", b.start, b.stop) for b in MIXED_BLOCKS[layer].branches()]
                 if layer in MIXED_BLOCKS else [(f"{layer}_pre_relu_conv", 0, model.channels(layer))])
        for conv, start, stop in spans:
            inside = [c for c in channels if start <= c < stop]
            if inside:
                local = [c - start for c in inside]
                edits[f"{conv}.weight"] = (local, torch.zeros(len(local), *parameters[f"{conv}.weight"].shape[1:]))
                edits[f"{conv}.bias"] = (local, layer_mean[inside])
    return edits
