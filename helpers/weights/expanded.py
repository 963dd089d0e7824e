"""Expanded weights between two layers: analytic (EfficientNet-Lite, InceptionV1) or linearized (any model).

What each method ignores, and why that is fine or not, is told in :mod:`helpers.weights`.
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..activations import hooked_layers, run_until_captured
from ..models import ACTIVATION_KINDS, CircuitModel, Unit

Method = Literal["auto", "analytic", "linearized"]


def _check_pair(model: CircuitModel, from_layer: str, to_layer: str) -> None:
    if model.layer_depth(to_layer) <= model.layer_depth(from_layer):
        raise ValueError(
            f"to_layer must come after from_layer, but {to_layer!r} (depth {model.layer_depth(to_layer)}) does not "
            f"come after {from_layer!r} (depth {model.layer_depth(from_layer)})."
        )


# --- analytic: EfficientNet-Lite ---------------------------------------------------------------
def _bn_scale(bn: nn.Module) -> torch.Tensor:
    return (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()


def _efficientnet_ops(model: CircuitModel, from_layer: str, to_layer: str) -> list[nn.Module]:
    """The convs and batch norms from ``from_layer``'s activation to ``to_layer``'s pre-activation."""
    net = model.module

    def block(name: str) -> nn.Module:
        _, stage, index = name.split(".")
        return net.blocks[int(stage)][int(index)]

    def exit_ops(name: str) -> list[nn.Module]:  # from the layer's activation to its block's output
        if name == "stem":
            return []
        b = block(name)
        return [b.conv_pwl, b.bn3] if hasattr(b, "conv_pwl") else [b.conv_pw, b.bn2]

    def entry_ops(name: str) -> list[nn.Module]:  # from the block's input to the layer's pre-activation
        if name == "head":
            return [net.conv_head, net.bn2]
        b = block(name)
        if not isinstance(getattr(b, "se", nn.Identity()), nn.Identity):
            raise NotImplementedError(f"{name} has a squeeze-excitation module, which is not linear.")
        return [b.conv_pw, b.bn1, b.conv_dw, b.bn2] if hasattr(b, "conv_pwl") else [b.conv_dw, b.bn1]

    return exit_ops(from_layer) + entry_ops(to_layer)


def _efficientnet_expanded(model: CircuitModel, from_layer: str, to_layer: str) -> torch.Tensor:
    channels = model.channels(from_layer)
    mixing = torch.eye(channels)  # (out, in) of the pointwise part so far
    kernel: torch.Tensor | None = None  # (out, k, k) of the depthwise conv, once met
    for op in _efficientnet_ops(model, from_layer, to_layer):
        if isinstance(op, nn.Conv2d):
            weight = op.weight.detach().float().cpu()
            if op.groups == 1 and op.kernel_size == (1, 1) and kernel is None:
                mixing = weight[:, :, 0, 0] @ mixing
            elif op.groups == op.in_channels == op.out_channels and kernel is None:
                kernel = weight[:, 0]
            else:
                raise NotImplementedError(f"Cannot compose {op} in closed form.")
        else:  # batch norm: a per-channel scale (its shift is a bias, not a weight)
            mixing = _bn_scale(op).float().cpu()[:, None] * mixing
    if kernel is None:
        kernel = torch.ones(mixing.shape[0], 1, 1)
    return kernel[:, None] * mixing[:, :, None, None]


# --- analytic: InceptionV1 ---------------------------------------------------------------------
def _conv_weight(model: CircuitModel, name: str) -> torch.Tensor:
    return getattr(model.module, f"{name}_pre_relu_conv").weight.detach().float().cpu()


def _pad_to(weight: torch.Tensor, size: int) -> torch.Tensor:
    pad = (size - weight.shape[-1]) // 2
    return F.pad(weight, (pad, pad, pad, pad))


def _inception_expanded(model: CircuitModel, to_layer: str) -> torch.Tensor:
    if to_layer in ("conv2d1", "conv2d2"):
        return _conv_weight(model, to_layer)
    if not to_layer.startswith("mixed"):
        raise NotImplementedError(f"No closed form for InceptionV1 layer {to_layer!r}.")
    one = _pad_to(_conv_weight(model, f"{to_layer}_1x1"), 5)
    branches = [one]
    for size in (3, 5):
        bottleneck = _conv_weight(model, f"{to_layer}_{size}x{size}_bottleneck")[:, :, 0, 0]
        spatial = _conv_weight(model, f"{to_layer}_{size}x{size}")
        branches.append(_pad_to(torch.einsum("obhw,bi->oihw", spatial, bottleneck), 5))
    pool = _conv_weight(model, f"{to_layer}_pool_reduce")
    branches.append(torch.zeros(pool.shape[0], pool.shape[1], 5, 5))  # max-pool first: not linear
    return torch.cat(branches, dim=0)


def _analytic(model: CircuitModel, from_layer: str, to_layer: str) -> torch.Tensor | None:
    """Closed-form expanded weights, or None where this model or pair has none."""
    if model.layer_depth(to_layer) != model.layer_depth(from_layer) + 1:
        return None
    if model.name.startswith("efficientnet_lite"):
        return _efficientnet_expanded(model, from_layer, to_layer)
    if model.name == "inceptionv1":
        return _inception_expanded(model, to_layer)
    return None


# --- linearized: any model ---------------------------------------------------------------------
def _linearizing_hooks(model: CircuitModel, from_layer: str | None, inject: torch.Tensor | None = None) -> list:
    """Hooks that make the network linear after ``from_layer`` (after the image when None): every activation
    and local response normalization passes its input through, every max-pool averages; ``inject`` replaces
    ``from_layer``'s activation."""
    modules = dict(model.module.named_modules())
    source = model.layer(from_layer).module_path if from_layer is not None else None
    handles = [modules[source].register_forward_hook(lambda _m, _i, _o: inject)] if source is not None else []

    def identity(_m, inputs, _o):
        return inputs[0]

    def average_pool(m, inputs, _o):
        return F.avg_pool2d(inputs[0], m.kernel_size, m.stride, m.padding, m.ceil_mode, count_include_pad=False)

    for path, module in modules.items():
        if path == source:
            continue
        if isinstance(module, ACTIVATION_KINDS) or isinstance(module, nn.LocalResponseNorm):
            handles.append(module.register_forward_hook(identity))
        elif isinstance(module, nn.MaxPool2d):
            handles.append(module.register_forward_hook(average_pool))
    return handles


def _window(gradients: torch.Tensor, empty_message: str) -> torch.Tensor:
    """``gradients`` (U, C, H, W) cropped to the rows and columns any unit depends on; ``empty_message`` when none."""
    seen = gradients.abs().sum(dim=(0, 1)) > 0
    if not seen.any():
        raise ValueError(empty_message)
    rows, cols = torch.nonzero(seen.any(1)).flatten(), torch.nonzero(seen.any(0)).flatten()
    return gradients[:, :, int(rows[0]) : int(rows[-1]) + 1, int(cols[0]) : int(cols[-1]) + 1]


def linearized_forward(
    model: CircuitModel, from_layer: str, to_layer: str, activation: torch.Tensor, size: int | None = None
) -> torch.Tensor:
    """``to_layer``'s map when ``from_layer`` holds ``activation`` and every non-linearity between is removed.

    ``activation`` has the shape of ``from_layer``'s map for a ``size``-pixel input (any batch size).
    The result is affine in ``activation`` (biases stay); subtract the result for zeros to get the linear part.
    """
    _check_pair(model, from_layer, to_layer)
    size = size or model.input_size
    expected = model.layer_shapes(size)[from_layer]
    if activation.dim() != 4 or tuple(activation.shape[1:]) != tuple(expected):
        raise ValueError(
            f"activation must be (N, {expected[0]}, {expected[1]}, {expected[2]}), the shape of {from_layer} for a "
            f"{size} px input; got {tuple(activation.shape)}."
        )
    handles = _linearizing_hooks(model, from_layer, activation.to(model.device))
    try:
        with hooked_layers(model, [to_layer]) as store:
            run_until_captured(model, torch.zeros(1, 3, size, size, device=model.device))
    finally:
        for handle in handles:
            handle.remove()
    return store[to_layer]


def linearized_weights(
    model: CircuitModel,
    from_layer: str,
    to_layer: str,
    *,
    to_channels: Sequence[int] | None = None,
    size: int | None = None,
    chunk: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Expanded weights of any model: the gradient of ``to_layer``'s centre units with respect to ``from_layer``.

    Returns (len(to_channels), C_from, kh, kw), cropped to the window the centre unit reads.
    """
    _check_pair(model, from_layer, to_layer)
    size = size or model.input_size
    channels = (list(range(model.channels(to_layer))) if to_channels is None
                else [model.unit(to_layer, c).channel for c in to_channels])
    shape = model.layer_shapes(size)[from_layer]
    gradients = []
    starts = range(0, len(channels), chunk)
    for start in tqdm(starts, desc=f"{from_layer} -> {to_layer}", disable=not progress):
        batch = channels[start : start + chunk]
        inject = torch.zeros(len(batch), *shape, device=model.device, requires_grad=True)
        with torch.enable_grad():
            out = linearized_forward(model, from_layer, to_layer, inject, size)
            h, w = out.shape[2] // 2, out.shape[3] // 2
            out[torch.arange(len(batch)), batch, h, w].sum().backward()
        gradients.append(inject.grad.detach().cpu())
    return _window(torch.cat(gradients), f"{to_layer} does not depend on {from_layer} in {model.name}: is the order right?")


def image_weights(model: CircuitModel, layer: str, *, size: int = 64, chunk: int = 64) -> torch.Tensor:
    """Expanded weights from the image: how each RGB pixel moves ``layer``'s centre units when every
    non-linearity is removed (the preprocessing included). Returns (C, 3, k, k) on the CPU, cropped to the
    window the centre units read; ``size`` must exceed that window."""
    channels = model.channels(layer)  # raises, listing the layers, for an unknown name
    pre_activation = model.layer(layer).pre_activation_path is not None
    gradients = []
    handles = _linearizing_hooks(model, None)
    try:
        for start in range(0, channels, chunk):
            batch = torch.arange(start, min(start + chunk, channels), device=model.device)
            images = torch.full((len(batch), 3, size, size), 0.5, device=model.device, requires_grad=True)
            with torch.enable_grad(), hooked_layers(model, [layer], pre_activation=pre_activation) as store:
                run_until_captured(model, images)
                maps = store[layer]
                maps[torch.arange(len(batch), device=model.device), batch, maps.shape[2] // 2, maps.shape[3] // 2].sum().backward()
            gradients.append(images.grad.detach().cpu())
    finally:
        for handle in handles:
            handle.remove()
    return _window(torch.cat(gradients), f"{layer} of {model.name} does not depend on the image's centre: give a size above its receptive field.")


# --- the public entry points -------------------------------------------------------------------
def expanded_weights(
    model: CircuitModel,
    from_layer: str,
    to_layer: str,
    *,
    method: Method = "auto",
    to_channels: Sequence[int] | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Expanded weights (C_to, C_from, k, k) from ``from_layer`` to ``to_layer``, non-linearities ignored.

    ``method``: "analytic" (zoo EfficientNet-Lite and InceptionV1, consecutive layers), "linearized"
    (any model, any later layer) or "auto" (analytic where possible). ``to_channels`` keeps only those rows.
    """
    if method not in ("auto", "analytic", "linearized"):
        raise ValueError(f"method must be 'auto', 'analytic' or 'linearized', not {method!r}.")
    _check_pair(model, model.layer(from_layer).name, model.layer(to_layer).name)
    if method != "linearized":
        weights = _analytic(model, from_layer, to_layer)
        if weights is not None:
            return weights if to_channels is None else weights[list(to_channels)]
        if method == "analytic":
            raise ValueError(
                f"No closed form for {model.name} from {from_layer!r} to {to_layer!r}: it exists for efficientnet_lite* "
                "and inceptionv1 between consecutive layers. Use method='linearized'."
            )
    return linearized_weights(model, from_layer, to_layer, to_channels=to_channels, progress=progress)


def unit_weights(model: CircuitModel, from_unit: str | Unit, to_unit: str | Unit, *, method: Method = "auto") -> torch.Tensor:
    """The k x k expanded weights through which ``to_unit`` reads ``from_unit`` (red excites, blue inhibits)."""
    source, target = model.unit(from_unit), model.unit(to_unit)
    weights = expanded_weights(model, source.layer, target.layer, method=method, to_channels=[target.channel])
    return weights[0, source.channel]
