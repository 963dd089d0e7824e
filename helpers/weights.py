"""Read a circuit off the weights: expanded weights between layers, strongest connections, equivariance.

The *expanded weights* from layer A to layer B are the k x k spatial weights of the linear map that
takes A's activation to B's pre-activation once every non-linearity in between is ignored (the
Circuits thread's "Visualizing Weights" does the same). ``expanded_weights(model, A, B)[o, i]`` is a
k x k grid: how unit ``B:o`` reads unit ``A:i`` at each offset of its window (row 0 = top).

Three ways to get them, picked by ``method``:

- ``"analytic"`` for the zoo's EfficientNet-Lite and InceptionV1 (consecutive layers only): the
  convolutions are composed in closed form, batch-norm scales folded in. Exact for the linear path.
- ``"linearized"`` for any :class:`CircuitModel` and any pair of layers: the network is run with A's
  activation replaced by an input of our own, every activation module replaced by the identity,
  ``nn.MaxPool2d`` by average pooling over the same window and ``nn.LocalResponseNorm`` by the identity
  (custom pooling modules, such as InceptionV1's TensorFlow-padded max-pool, run unchanged);
  the gradient of B's centre unit with respect to that input is the expanded weight (exact for the
  linear parts, an approximation wherever a pooling or normalization sits between A and B).
- ``"auto"``: analytic where it exists, otherwise linearized.

What is ignored, and why that is fine or not:

- EfficientNet-Lite: between the expanded activation of one block and that of the next lie the
  block's projection (1x1 conv + BN, linear), possibly a residual add, then the next block's
  expansion (1x1 conv + BN), ReLU6 (ignored) and depthwise conv + BN. The residual adds the block's
  *input*, which is computed before A and does not depend on A's activation, so it contributes no
  weight at all (only an input-dependent offset): the expanded weights are exact for the linear path
  with or without a residual. Because the last step is depthwise, ``W[o, i] = kernel[o] * M[o, i]``:
  every input unit is read through the *same* k x k pattern, scaled by a channel weight.
- InceptionV1 (mixedXa -> mixedXb and conv2d2 -> mixed3a, ...): the 1x1 branch (weight at the
  centre of the grid), the 3x3 bottleneck composed with the 3x3 conv, the 5x5 bottleneck composed
  with the 5x5 conv, all reported on a 5x5 grid. The pool branch starts with a max-pool, which is
  not linear: its channels get zero expanded weights here (use ``method="linearized"`` to see them
  through an average-pool approximation). Max-pools and local response norms *between* two layers
  (conv2d0 -> conv2d1, conv2d2 -> mixed3a, mixed3b -> mixed4a, ...) are treated as the identity,
  as the Circuits articles do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .activations import hooked_layers, run_until_captured
from .layers import next_layer, previous_layer
from .models import ACTIVATION_KINDS, CircuitModel, Unit

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
def _linearizing_hooks(model: CircuitModel, from_layer: str, inject: torch.Tensor) -> list:
    """Hooks that swap ``from_layer``'s activation for ``inject`` and make everything after it linear."""
    modules = dict(model.module.named_modules())
    source = model.layer(from_layer).module_path
    handles = [modules[source].register_forward_hook(lambda _m, _i, _o: inject)]

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
    channels = list(range(model.channels(to_layer))) if to_channels is None else [int(c) for c in to_channels]
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
    grad = torch.cat(gradients)
    seen = grad.abs().sum(dim=(0, 1)) > 0
    if not seen.any():
        raise ValueError(f"{to_layer} does not depend on {from_layer} in {model.name}: is the order right?")
    rows, cols = torch.nonzero(seen.any(1)).flatten(), torch.nonzero(seen.any(0)).flatten()
    return grad[:, :, int(rows[0]) : int(rows[-1]) + 1, int(cols[0]) : int(cols[-1]) + 1]


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


# --- strongest inputs and outputs --------------------------------------------------------------
@dataclass(frozen=True)
class Connection:
    """One connection: the unit at the other end, its summed weight, and its k x k weights."""

    unit: Unit
    strength: float
    weights: torch.Tensor


@dataclass(frozen=True)
class Connections:
    """A unit's strongest excitatory (largest positive summed weight) and inhibitory (most negative) connections."""

    unit: Unit
    other_layer: str
    excitatory: list[Connection]
    inhibitory: list[Connection]


def _rank(unit: Unit, other_layer: str, grids: torch.Tensor, count: int) -> Connections:
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}.")
    # Net weight over the window: a unit that excites at some offsets and inhibits at others
    # (every input of an EfficientNet depthwise kernel with mixed signs) counts by its balance.
    net = grids.sum(dim=(1, 2))
    count = min(count, grids.shape[0])

    def pick(descending: bool) -> list[Connection]:
        order = torch.argsort(net, descending=descending)[:count]
        return [Connection(Unit(other_layer, int(i)), float(net[i]), grids[i]) for i in order if (net[i] > 0) == descending]

    return Connections(unit, other_layer, pick(True), pick(False))


def strongest_inputs(
    model: CircuitModel, unit: str | Unit, k: int = 8, *, from_layer: str | None = None, method: Method = "auto"
) -> Connections:
    """The ``k`` units of ``from_layer`` (default: the layer before) that excite / inhibit ``unit`` most."""
    unit = model.unit(unit)
    from_layer = from_layer or previous_layer(model, unit.layer)
    grids = expanded_weights(model, from_layer, unit.layer, method=method, to_channels=[unit.channel])[0]
    return _rank(unit, from_layer, grids, k)


def strongest_outputs(
    model: CircuitModel, unit: str | Unit, k: int = 8, *, to_layer: str | None = None, method: Method = "auto"
) -> Connections:
    """The ``k`` units of ``to_layer`` (default: the layer after) that ``unit`` excites / inhibits most."""
    unit = model.unit(unit)
    to_layer = to_layer or next_layer(model, unit.layer)
    grids = expanded_weights(model, unit.layer, to_layer, method=method)[:, unit.channel]
    return _rank(unit, to_layer, grids, k)


def family_usage(
    model: CircuitModel, family: Sequence[str | Unit], *, to_layer: str | None = None, method: Method = "auto"
) -> torch.Tensor:
    """How much each unit of ``to_layer`` reads a family: the L2 norm of its weights from all family members."""
    units = [model.unit(u) for u in family]
    layers = {u.layer for u in units}
    if len(layers) != 1:
        raise ValueError(f"A family lives in one layer; got units from {sorted(layers)}.")
    layer = layers.pop()
    to_layer = to_layer or next_layer(model, layer)
    weights = expanded_weights(model, layer, to_layer, method=method)[:, [u.channel for u in units]]
    return weights.flatten(1).norm(dim=1)


# --- equivariance ------------------------------------------------------------------------------
def rotate_grids(grids: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate k x k grids (..., k, k) counter-clockwise as displayed (row 0 on top), bilinear, zeros outside."""
    shape = grids.shape
    flat = grids.reshape(-1, 1, shape[-2], shape[-1]).float()
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # grid_sample maps output positions to input positions: the inverse rotation (y points down).
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=flat.dtype).expand(flat.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(flat.shape), align_corners=True)
    return F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=True).reshape(shape)


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else 0.0


def spatial_pattern(grids: torch.Tensor) -> torch.Tensor:
    """The main k x k pattern of a unit's weights (C_from, k, k): the top singular vector, signed by its excitatory inputs."""
    matrix = grids.reshape(grids.shape[0], -1).double()
    left, values, right = torch.linalg.svd(matrix, full_matrices=False)
    channel_part, pattern = left[:, 0], right[0] * values[0]
    if channel_part.clamp(min=0).sum() < (-channel_part).clamp(min=0).sum():
        pattern = -pattern
    return pattern.reshape(grids.shape[-2:]).float()


def weight_equivariance(
    grids_a: torch.Tensor, grids_b: torch.Tensor, degrees: float, *, mode: Literal["per_input", "spatial"] = "per_input"
) -> float:
    """Correlation of unit a's weights rotated by ``degrees`` with unit b's (both (C_from, k, k)).

    ``per_input`` rotates each input channel's grid and keeps the channels as they are; ``spatial``
    compares only the units' main spatial patterns (:func:`spatial_pattern`), ignoring which inputs carry them.
    """
    if grids_a.shape != grids_b.shape:
        raise ValueError(f"Both units must read the same layer: shapes {tuple(grids_a.shape)} and {tuple(grids_b.shape)}.")
    if mode == "per_input":
        return _correlation(rotate_grids(grids_a, degrees), grids_b)
    if mode == "spatial":
        return _correlation(rotate_grids(spatial_pattern(grids_a), degrees), spatial_pattern(grids_b))
    raise ValueError(f"mode must be 'per_input' or 'spatial', not {mode!r}.")


@dataclass(frozen=True)
class EquivarianceSummary:
    """Pairwise weight correlations of a set of units, with and without rotating by their orientation difference."""

    pairs: list[tuple[Unit, Unit]]
    rotated: np.ndarray
    unrotated: np.ndarray
    mode: str

    @property
    def mean_rotated(self) -> float:
        """Mean correlation after rotating one unit of each pair onto the other."""
        return float(self.rotated.mean())

    @property
    def mean_unrotated(self) -> float:
        """Mean correlation without rotating."""
        return float(self.unrotated.mean())

    @property
    def gain(self) -> float:
        """How much rotating helps, on average (positive: the weights are rotated copies)."""
        return float((self.rotated - self.unrotated).mean())


def family_equivariance(
    model: CircuitModel,
    units: Sequence[str | Unit],
    orientations: Sequence[float],
    *,
    from_layer: str | None = None,
    mode: Literal["per_input", "spatial"] = "per_input",
    method: Method = "auto",
) -> EquivarianceSummary:
    """Equivariance of a family: for every pair, rotate one unit's weights by the difference of their orientations."""
    units = [model.unit(u) for u in units]
    if len(units) != len(orientations) or len(units) < 2:
        raise ValueError(f"Give at least two units and one orientation per unit; got {len(units)} units, {len(orientations)} orientations.")
    layers = {u.layer for u in units}
    if len(layers) != 1:
        raise ValueError(f"All units must be in one layer; got {sorted(layers)}.")
    layer = units[0].layer
    from_layer = from_layer or previous_layer(model, layer)
    grids = expanded_weights(model, from_layer, layer, method=method, to_channels=[u.channel for u in units])
    pairs, rotated, unrotated = [], [], []
    for i in range(len(units)):
        for j in range(i + 1, len(units)):
            pairs.append((units[i], units[j]))
            rotated.append(weight_equivariance(grids[i], grids[j], orientations[j] - orientations[i], mode=mode))
            unrotated.append(weight_equivariance(grids[i], grids[j], 0.0, mode=mode))
    return EquivarianceSummary(pairs, np.array(rotated), np.array(unrotated), mode)


# --- a weight explorer's data ------------------------------------------------------------------
@dataclass(frozen=True)
class WeightView:
    """What the weight explorer shows for one unit: its strongest inputs and their k x k weights."""

    unit: Unit
    from_layer: str
    connections: list[Connection]
    kind: str
    vmax: float


def weight_view(
    model: CircuitModel,
    unit: str | Unit,
    count: int = 8,
    *,
    kind: Literal["excitatory", "inhibitory"] = "excitatory",
    from_layer: str | None = None,
    method: Method = "auto",
) -> WeightView:
    """The strongest ``count`` excitatory or inhibitory inputs of a unit, with one colour scale for all grids."""
    if kind not in ("excitatory", "inhibitory"):
        raise ValueError(f"kind must be 'excitatory' or 'inhibitory', not {kind!r}.")
    found = strongest_inputs(model, unit, count, from_layer=from_layer, method=method)
    connections = found.excitatory if kind == "excitatory" else found.inhibitory
    vmax = max(float(c.weights.abs().max()) for c in connections) or 1.0
    return WeightView(found.unit, found.other_layer, connections, kind, vmax)
