"""Read what a network's layers compute for a batch of images, or a stream of them.

:func:`capture` hooks the layers asked for, runs the network, and stops the forward pass right
after the deepest of them, so asking for ``mixed3b`` never pays for ``mixed5b``. :func:`stream`
does it batch by batch over many images (a tensor or an image source), the one loop every
measurement over a data set goes through. :func:`read_at` reads units' maps at a position, the one
meaning of ``at=`` across the course.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterable, Iterator, Literal, Sequence

import torch

from .arguments import whole_number
from .images import ImageSource, resize
from .models import CircuitModel, Unit, raise_non_finite_output, reused_message

#: Where a unit's map is read: the whole map, its central position (the paper's "neuron"), its maximum or its mean.
At = Literal["map", "center", "max", "mean"]
AT_VALUES: tuple[str, ...] = ("map", "center", "max", "mean")


def read_at(maps: torch.Tensor, at: At = "map", *, neighbourhood: int = 0) -> torch.Tensor:
    """Units' maps (..., h, w) read at a position: ``"map"`` keeps them (and any value without positions, such
    as logits, as it is); ``"center"`` the central position, or with ``neighbourhood=k`` the maximum over the
    (2k+1) x (2k+1) positions around it; ``"max"`` the maximum and ``"mean"`` the mean over positions."""
    check_at(at)
    if at == "map":
        return maps
    if maps.dim() < 3:
        raise ValueError(f"at={at!r} reads a position of maps (..., h, w), but these values have shape {tuple(maps.shape)}.")
    if at == "max":
        return maps.flatten(-2).amax(-1)
    if at == "mean":
        return maps.mean(dim=(-2, -1))
    row, col = maps.shape[-2] // 2, maps.shape[-1] // 2
    if neighbourhood == 0:
        return maps[..., row, col]
    window = maps[..., max(row - neighbourhood, 0) : row + neighbourhood + 1, max(col - neighbourhood, 0) : col + neighbourhood + 1]
    return window.flatten(-2).amax(-1)


def layer_vectors(maps: torch.Tensor) -> torch.Tensor:
    """One activation vector per image and position: maps (N, C, h, w) -> (N*h*w, C), image-major, in float32."""
    if maps.ndim != 4:
        raise ValueError(f"expected activation maps of shape (N, C, h, w), got {tuple(maps.shape)}")
    return maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1]).float()


def check_at(at: str, allowed: Sequence[str] = AT_VALUES) -> str:
    """``at`` itself if it is one of ``allowed`` (the reader's values by default); else a ValueError naming them."""
    if at not in allowed:
        raise ValueError(f"at must be one of {', '.join(repr(a) for a in allowed)}, not {at!r}.")
    return at


class _StopForward(Exception):
    """Raised inside a hook once every requested layer has been captured."""


@contextmanager
def hooked_layers(
    model: CircuitModel,
    layers: Sequence[str],
    *,
    pre_activation: bool = False,
    stop_early: bool = True,
) -> Iterator[dict[str, torch.Tensor]]:
    """Hook ``layers`` for the duration of a ``with`` block; the yielded dict fills on each forward.

    With ``stop_early`` the forward pass is cut after the last layer is reached: run it through
    :func:`run_until_captured`, which swallows the stop signal.
    """
    wanted = [model.layer(name) for name in dict.fromkeys(layers)]
    reused = model.reused_layers() if wanted else {}
    for layer in wanted:
        if layer.name in reused:
            raise ValueError(f"{model.name} layer {layer.name!r} cannot be captured: "
                             f"{reused_message(layer.module_path, reused[layer.name])}")
    find = model.module.get_submodule  # walks one path, so hooking stays cheap inside optimization loops
    store: dict[str, torch.Tensor] = {}
    handles = []

    def remember(name: str, value: torch.Tensor) -> None:
        store[name] = value
        if stop_early and len(store) == len(wanted):
            raise _StopForward

    for layer in wanted:
        if pre_activation:
            if layer.pre_activation_path is None:
                raise ValueError(
                    f"{model.name} layer {layer.name!r} has no separate pre-activation "
                    "(its hook point is not an activation module); use pre_activation=False."
                )
            # The activation may run in place, so copy its input before it is overwritten.
            hook = lambda _m, inputs, name=layer.name: remember(name, inputs[0].clone())  # noqa: E731
            handles.append(find(layer.pre_activation_path).register_forward_pre_hook(hook))
        else:
            hook = lambda _m, _i, output, name=layer.name: remember(name, output)  # noqa: E731
            handles.append(find(layer.module_path).register_forward_hook(hook))
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def run_until_captured(model: CircuitModel, images: torch.Tensor) -> torch.Tensor | None:
    """Run the model on images in [0, 1]; returns the logits, or None if a hook stopped it early."""
    try:
        return model(images)
    except _StopForward:
        return None


def capture(
    model: CircuitModel,
    images: torch.Tensor,
    layers: str | Sequence[str],
    *,
    pre_activation: bool = False,
    at: At = "map",
    grad: bool = False,
) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for images in [0, 1] RGB, shape (N, 3, H, W).

    The images may live on any device: they are moved to the model's (a GPU when there is one), and
    the activations come back on the CPU, except with ``grad=True`` (they stay on the model's device,
    attached to the graph). Anything but float images in [0, 1] (uint8, 0..255 floats, NaN, an
    (H, W, 3) array) is refused with a message saying how to convert it. A layer whose module runs several times per forward pass is refused too.

    ``at="map"`` returns (N, C, h, w) spatial maps; ``at="center"`` returns (N, C) at the central
    position, the paper's "neuron" (``"max"``, ``"mean"``: see :func:`read_at`). ``pre_activation=True``
    reads values before the non-linearity.
    The forward pass stops after the deepest layer asked for.
    """
    if not isinstance(layers, str) and not (isinstance(layers, (list, tuple)) and all(isinstance(n, str) for n in layers)):
        raise TypeError(f"layers must be a layer name or a list of layer names (e.g. {model.layer_names[-1]!r}), "
                        f"got {layers!r} ({type(layers).__name__}); model.layer_names lists them.")
    check_at(at)
    names = [layers] if isinstance(layers, str) else list(layers)
    # model(...) checks the images (type, shape, dtype, range, NaN) and moves them to the model's device.
    with torch.set_grad_enabled(grad), hooked_layers(model, names, pre_activation=pre_activation) as store:
        run_until_captured(model, images)
    out = {name: store[name] for name in names}
    for name, value in out.items():
        if value.device.type != "meta" and not bool(torch.isfinite(value.detach()).all()):
            raise_non_finite_output(model, f"layer {name!r}")
    out = {name: read_at(value, at) for name, value in out.items()}
    if not grad:  # back to the CPU, where the rest of the course's tools (numpy, plots, CPU tensors) work
        out = {name: value.cpu() if value.device.type not in ("cpu", "meta") else value for name, value in out.items()}
    return out


def unit_activation(
    model: CircuitModel,
    images: torch.Tensor,
    unit: str | Unit,
    *,
    at: At = "center",
    pre_activation: bool = False,
) -> torch.Tensor:
    """One unit's activation per image read by :func:`read_at`: at the centre (N,), its maximum or mean over positions (N,), or its map (N, h, w)."""
    unit = model.unit(unit)
    check_at(at)
    maps = capture(model, images, unit.layer, pre_activation=pre_activation)[unit.layer][:, unit.channel]
    return read_at(maps, at)


def stream(
    model: CircuitModel,
    images: torch.Tensor | ImageSource,
    layers: str | Sequence[str],
    *,
    batch_size: int | None = None,
    pre_activation: bool = False,
    size: int | None = None,
    progress: bool = True,
    description: str = "activations",
) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """(image indices (B,), {layer: activations (B, C, h, w)}) batch by batch: every loop over many images.

    ``images``: a tensor (N, 3, H, W) (or one (3, H, W) image) in [0, 1], cut into batches of ``batch_size``
    (default 64), or an :class:`~helpers.images.ImageSource`, which batches itself (its own ``batch_size``;
    unreadable images are left out, so the indices say which images came). Each batch is resized to
    ``size`` pixels when given, run on the model's device under ``torch.inference_mode`` (no gradient), and
    the activations come back as float32 on the CPU. One progress bar (tqdm) counts the batches.
    """
    from tqdm.auto import tqdm

    names = [layers] if isinstance(layers, str) else list(layers)
    if isinstance(images, ImageSource):
        if batch_size is not None:
            raise ValueError(f"An image source batches itself (its batch_size is {images.batch_size}): "
                             "set batch_size on the source, not here.")
        batches, total = images.indexed_batches(), math.ceil(len(images) / images.batch_size)
    elif isinstance(images, torch.Tensor):
        images = images[None] if images.dim() == 3 else images
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be a batch (N, 3, H, W) in [0, 1], got {tuple(images.shape)}.")
        step = 64 if batch_size is None else whole_number(batch_size, "batch_size", minimum=1)
        batches = ((torch.arange(start, min(start + step, len(images))), images[start : start + step])
                   for start in range(0, len(images), step))
        total = math.ceil(len(images) / step)
    else:
        raise TypeError(f"images must be a tensor (N, 3, H, W) in [0, 1] or an image source, got a {type(images).__name__}.")
    return _run_batches(model, tqdm(batches, total=total, desc=description, disable=not progress), names,
                        pre_activation=pre_activation, size=size)


def _run_batches(model: CircuitModel, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], names: list[str], *,
                 pre_activation: bool, size: int | None) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """:func:`stream`'s loop, apart so that bad arguments raise when :func:`stream` is called, not at the first batch."""
    for indices, batch in batches:
        if size is not None and tuple(batch.shape[-2:]) != (size, size):
            batch = resize(batch, size)
        with torch.inference_mode():  # entered per batch: a generator's context would leak into the caller's loop
            maps = capture(model, batch, names, pre_activation=pre_activation)
        yield indices, {name: value.float() for name, value in maps.items()}


def receptive_field(model: CircuitModel, layer: str, size: int | None = None) -> tuple[int, int, int, int]:
    """The input box (top, left, bottom, right) that the centre unit of ``layer`` can see.

    Found empirically: the gradient of the centre activation's sum with respect to the input
    is non-zero exactly inside the receptive field (random input, so no unit is silent everywhere).
    Measured once per model, layer and size (a property of the architecture), then remembered.
    """
    size = model.input_size if size is None else whole_number(size, "size", minimum=1)
    key = (model.layer(layer).name, size)
    if key not in model._receptive_fields:
        model._receptive_fields[key] = _measure_receptive_field(model, layer, size)
    return model._receptive_fields[key]


def _measure_receptive_field(model: CircuitModel, layer: str, size: int) -> tuple[int, int, int, int]:
    """One backward pass from the centre unit of ``layer`` to a random ``size``-pixel input."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(1, 3, size, size, generator=generator).to(model.device).requires_grad_(True)
    with torch.enable_grad(), hooked_layers(model, [layer], pre_activation=model.layer(layer).pre_activation_path is not None) as store:
        run_until_captured(model, images)
        value = store[layer]
        h, w = value.shape[2] // 2, value.shape[3] // 2
        value[:, :, h, w].sum().backward()
    seen = images.grad.abs().sum(dim=(0, 1)) > 0
    if not bool(seen.any()):
        raise ValueError(f"No input pixel changes the centre unit of {layer!r} on {model.name} (every gradient is 0): "
                         "its units may be ablated or dead. Measure the receptive field outside an intervention.")
    rows = torch.nonzero(seen.any(1)).flatten()
    cols = torch.nonzero(seen.any(0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _side(value: int | Sequence[int]) -> int:
    """One side of a square kernel, stride or dilation, given as an int or as a (height, width) pair."""
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def chain_receptive_field(layers: torch.nn.Module) -> tuple[int, int]:
    """The receptive field of a unit at the end of a plain chain of layers (an ``nn.Sequential``), worked out from
    the layers' own settings: ``(size, step)``, the side in input pixels of the square one unit sees, and the
    distance in input pixels between neighbouring units.

    What :func:`receptive_field` measures by a backward pass, computed instead: each convolution or pooling of
    kernel k, stride s and dilation d widens the field by (k - 1) * d steps of the layers before it, then
    multiplies the step by s. Every other layer (a non-linearity, a batch norm) keeps positions as they are.
    For square kernels (the first side is read); padding moves the field, never its size.
    """
    if not isinstance(layers, torch.nn.Module):
        raise TypeError(f"chain_receptive_field takes an nn.Sequential of layers, got a {type(layers).__name__}.")
    size, step = 1, 1
    for layer in layers.children():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            kernel, stride, dilation = _side(layer.kernel_size), _side(layer.stride), _side(getattr(layer, "dilation", 1))
            size += (kernel - 1) * dilation * step
            step *= stride
    return size, step
