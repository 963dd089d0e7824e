"""Change a network for the duration of a ``with`` block, then put it back exactly: ablate, edit, patch, splice.

Observing a circuit is one kind of evidence; the strongest kind is causal: cut a circuit or rewrite
it, predict what happens, and measure. Every tool here is a context manager that changes the model
only inside its ``with`` block and restores it on the way out, also when the block raises::

    with ablated(model, family.units):                     # the curve family silenced
        after = capture(model, images, "blocks.3.3")        # capture, render and the scans all see it

- :func:`ablated`: units set to zero, or to their mean over a data set (``mode="mean"``, see
  :func:`layer_means`).
- :func:`patched`: units take the activation they had for another input (activation patching).
- :func:`spliced`: units computed by your own function of the input image (a hand-written detector).
- :func:`replaced_weights` / :func:`replaced_incoming_weights`: parameter slices overwritten, then
  restored from a copy.

How: the module whose output is a layer's activation (``Layer.module_path``: for EfficientNet-Lite
the ReLU6 inside ``BatchNormAct2d``, one hook point per layer) is *replaced* by a wrapper that runs
the original module and then changes its output, the way captum.optim swaps ReLUs for redirected
ReLUs. Hooks placed later by :func:`helpers.activations.capture` land on the wrapper, so they read the
changed activation (and a pre-activation reading still sees the unchanged input). The wrapper
carries a buffer describing the change, so the model's fingerprint changes with it and a cached
dataset scan of the intact network is never returned for an intervened one.

:func:`attribution` answers the reverse question without changing anything: which inputs of the
previous layer carry a unit's activation on an image (activation x expanded weight, per input and
position), as the Curve Detectors article does.
"""
from __future__ import annotations

import hashlib
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Literal, Sequence

import numpy as np
import torch
from torch import nn

from .activations import capture
from .images import ImageSource
from .models import CircuitModel, Unit

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
        setattr(parent, name, original)
        hook.remove()
        stash.clear()


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


def _set_channels(output: torch.Tensor, channels: list[int], values: torch.Tensor) -> torch.Tensor:
    changed = output.clone()
    changed[:, channels] = values.to(output.dtype).to(output.device).expand_as(changed[:, channels])
    return changed


def layer_means(model: CircuitModel, layer: str, images: torch.Tensor | ImageSource, *, batch_size: int = 32) -> torch.Tensor:
    """Each unit's mean activation (C,) over images and positions: the value a mean ablation holds it at."""
    total, count = None, 0
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else iter(images)
    with torch.inference_mode():
        for batch in batches:
            maps = capture(model, batch, layer)[layer].double()
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
            values = values.view(1, -1, 1, 1)
            key = f"ablate {mode} {channels} {values.flatten().tolist()}"
            stack.enter_context(intervened_layer(
                model, layer, lambda output, _images, c=channels, v=values: _set_channels(output, c, v), key))
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
    chosen = list(range(model.channels(layer))) if channels is None else [int(c) for c in channels]
    for c in chosen:
        model.unit(layer, c)
    patch = activation[:, chosen]

    def transform(output: torch.Tensor, _images: torch.Tensor | None) -> torch.Tensor:
        if patch.shape[-2:] != output.shape[-2:] or patch.shape[0] not in (1, output.shape[0]):
            raise ValueError(f"The patch from the source images has shape {tuple(patch.shape)} but {layer} has "
                             f"{tuple(output.shape)} here: use source images of the same size, one per image or one in all.")
        return _set_channels(output, chosen, patch)

    digest = hashlib.sha1(activation.cpu().numpy().tobytes()).hexdigest()
    with intervened_layer(model, layer, transform, f"patch {chosen} {digest}"):
        yield activation


@contextmanager
def spliced(
    model: CircuitModel,
    layer: str,
    channels: Sequence[int],
    compute: Callable[[torch.Tensor], torch.Tensor],
    key: str = "",
) -> Iterator[None]:
    """Inside the ``with`` block, ``channels`` of ``layer`` are ``compute(images)``, shaped (N, len(channels), h, w).

    ``images`` are the model's inputs in [0, 1]: put a hand-written detector in place of (or, with
    spare channels, beside) the learned units. ``key`` names the computation (it enters the fingerprint).
    """
    chosen = [int(c) for c in channels]
    for c in chosen:
        model.unit(layer, c)

    def transform(output: torch.Tensor, images: torch.Tensor | None) -> torch.Tensor:
        if images is None:
            raise RuntimeError("spliced() needs the input images: call the model as model(images), not model.module(...).")
        values = compute(images)
        expected = (output.shape[0], len(chosen), *output.shape[2:])
        if tuple(values.shape) != expected:
            raise ValueError(f"compute(images) must return {expected} for {layer}; got {tuple(values.shape)}.")
        return _set_channels(output, chosen, values)

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


def incoming_conv(model: CircuitModel, layer: str) -> str:
    """The path of the last convolution with as many output channels as ``layer`` that runs before it."""
    target = model.layer(layer)
    order: list[str] = []
    handles = []
    for path, module in model.module.named_modules():
        if isinstance(module, nn.Conv2d) and module.out_channels == target.channels:
            handles.append(module.register_forward_hook(lambda _m, _i, _o, p=path: order.append(p)))
    reached: dict[str, int] = {}

    def arrived(_m: nn.Module, _i: object, _o: object) -> None:
        reached.setdefault("at", len(order))

    handles.append(model.module.get_submodule(target.module_path).register_forward_hook(arrived))
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, model.input_size, model.input_size, device=model.device))
    finally:
        for handle in handles:
            handle.remove()
    before = order[: reached.get("at", 0)]
    if not before:
        raise ValueError(f"No convolution with {target.channels} output channels runs before {layer}; "
                         "name the parameter yourself with replaced_weights(...).")
    return before[-1]


@contextmanager
def replaced_incoming_weights(model: CircuitModel, unit: str | Unit, weights: torch.Tensor, *, conv: str | None = None,
                              bias: float | None = None) -> Iterator[str]:
    """Give ``unit`` new incoming weights (its filter in the convolution ``conv``) inside the ``with`` block.

    ``conv`` defaults to :func:`incoming_conv`; ``weights`` must have that filter's shape. Yields the conv's path.
    """
    unit = model.unit(unit)
    conv = conv or incoming_conv(model, unit.layer)
    module = model.module.get_submodule(conv)
    expected = tuple(module.weight.shape[1:])
    if tuple(weights.shape) != expected:
        raise ValueError(f"{conv} holds filters of shape {expected}; got {tuple(weights.shape)}.")
    edits = {f"{conv}.weight": (unit.channel, weights)}
    if bias is not None:
        if module.bias is None:
            raise ValueError(f"{conv} has no bias to set.")
        edits[f"{conv}.bias"] = (unit.channel, bias)
    with replaced_weights(model, edits):
        yield conv


# --- attribution -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attribution:
    """How the inputs of the previous layer carry a unit's value at one position of each image.

    ``maps[n, i]`` is input ``i``'s activation times the weight through which the unit reads it, at
    each position of the input layer's map (zero outside the unit's window); summed, it is the
    unit's pre-activation along the linear path, minus what does not depend on the inputs (biases).
    """

    unit: Unit
    input_layer: str
    positions: list[tuple[int, int]]  # (row, col) of the unit read in each image
    maps: torch.Tensor  # (N, I, H, W)

    @property
    def per_input(self) -> torch.Tensor:
        """Total contribution (N, I) of each input unit."""
        return self.maps.sum(dim=(2, 3))

    @property
    def total(self) -> torch.Tensor:
        """The sum of all contributions (N,)."""
        return self.per_input.sum(1)

    def strongest_inputs(self, image: int = 0, k: int = 6) -> list[int]:
        """The ``k`` inputs that carry most of the unit's value in one image (largest positive contributions)."""
        return [int(i) for i in torch.argsort(self.per_input[image], descending=True)[:k]]

    def share_on(self, channels: Sequence[int]) -> np.ndarray:
        """Per image: the share of all positive contribution carried by ``channels`` (0 when there is none)."""
        positive = self.per_input.clamp(min=0).double()
        total = positive.sum(1)
        part = positive[:, list(channels)].sum(1) if len(channels) else torch.zeros_like(total)
        return torch.where(total > 0, part / total.clamp(min=1e-30), torch.zeros_like(total)).numpy()


def attribution(
    model: CircuitModel,
    unit: str | Unit,
    images: torch.Tensor,
    positions: Sequence[tuple[int, int]] | None = None,
    *,
    from_layer: str | None = None,
) -> Attribution:
    """Activation x weight of every input of ``from_layer`` (default: the layer before) to ``unit``.

    ``positions``: the unit's (row, col) in each image; default the position where it fires most.
    The weights are the expanded weights seen from that position (the gradient of the linearized
    network, as :func:`helpers.weights.linearized_forward` builds it), so strides and pools are handled.
    """
    from .layers import previous_layer
    from .weights import linearized_forward

    unit = model.unit(unit)
    if images.dim() == 3:
        images = images[None]
    from_layer = from_layer or previous_layer(model, unit.layer)
    size = images.shape[-1]
    if images.shape[-2] != size:
        raise ValueError(f"attribution needs square images, got {tuple(images.shape[-2:])}.")
    with torch.inference_mode():
        maps = capture(model, images, [from_layer, unit.layer])
    inputs, own = maps[from_layer].detach().clone(), maps[unit.layer][:, unit.channel]
    if positions is None:
        flat = own.flatten(1).argmax(1)
        positions = [(int(i) // own.shape[2], int(i) % own.shape[2]) for i in flat]
    positions = [(int(r), int(c)) for r, c in positions]
    if len(positions) != images.shape[0]:
        raise ValueError(f"Give one (row, col) per image: {images.shape[0]} images, {len(positions)} positions.")
    inject = inputs.clone().requires_grad_(True)
    with torch.enable_grad():
        out = linearized_forward(model, from_layer, unit.layer, inject, size)
        rows = torch.tensor([r for r, _ in positions])
        cols = torch.tensor([c for _, c in positions])
        out[torch.arange(len(positions)), unit.channel, rows, cols].sum().backward()
    contributions = (inputs * inject.grad).detach().cpu()
    return Attribution(unit, from_layer, positions, contributions)


# --- experiments: what an ablation does to a layer's clients and to the network's predictions -------
@dataclass(frozen=True)
class ClientProbe:
    """Stimuli in named groups (e.g. curves, lines, natural patches) and the units whose responses we follow.

    The last image is the blank image: responses are taken relative to it ("evoked"), so an
    intervention that only shifts a client's resting level does not count as changing what it sees.
    """

    units: list[Unit]
    images: torch.Tensor  # (N, 3, H, W), the blank image last
    groups: dict[str, tuple[int, int]]  # name -> (start, stop) rows of images
    pre_activation: bool = True

    def evoked(self, responses: np.ndarray, group: str) -> np.ndarray:
        """Responses (n, U) to one group of stimuli minus the response to the blank image."""
        start, stop = self.groups[group]
        return responses[start:stop] - responses[-1]


def make_probe(units: Sequence[Unit], groups: dict[str, torch.Tensor], blank: torch.Tensor, *, pre_activation: bool = True) -> ClientProbe:
    """A :class:`ClientProbe` from named groups of images (each (n, 3, H, W)) and the blank image (3, H, W)."""
    rows, start = {}, 0
    for name, images in groups.items():
        rows[name] = (start, start + len(images))
        start += len(images)
    images = torch.cat([*groups.values(), blank[None] if blank.dim() == 3 else blank])
    return ClientProbe(list(units), images, rows, pre_activation)


def probe_responses(model: CircuitModel, probe: ClientProbe, *, ablate: Sequence[str | Unit] = (), mode: Literal["zero", "mean"] = "mean",
                    means: torch.Tensor | dict[str, torch.Tensor] | None = None) -> np.ndarray:
    """The probe units' responses (N, U) at the centre of their maps, with ``ablate`` ablated (none: intact)."""
    from .probing import unit_responses

    if not probe.units:
        return np.zeros((len(probe.images), 0))
    with ablated(model, list(ablate), mode=mode, means=means if len(ablate) else None) if len(ablate) else ExitStack():
        return unit_responses(model, probe.units, probe.images, pre_activation=probe.pre_activation).numpy().astype(np.float64)


def response_damage(probe: ClientProbe, intact: np.ndarray, changed: np.ndarray) -> dict[str, float]:
    """Per group: how much the evoked responses changed, ||changed - intact|| / ||intact||, averaged over units.

    0: the intervention changed nothing the stimuli evoke; 1: a change as large as the evoked response itself.
    """
    damage = {}
    for group in probe.groups:
        before, after = probe.evoked(intact, group), probe.evoked(changed, group)
        norms = np.linalg.norm(before, axis=0)
        keep = norms > 1e-9
        damage[group] = float(np.mean(np.linalg.norm(after - before, axis=0)[keep] / norms[keep])) if keep.any() else float("nan")
    return damage


def random_units(model: CircuitModel, layer: str, count: int, generator: np.random.Generator, exclude: Sequence[int] = ()) -> list[Unit]:
    """``count`` distinct random units of ``layer``, none of them in ``exclude``."""
    pool = np.setdiff1d(np.arange(model.channels(layer)), np.asarray(list(exclude), dtype=int))
    count = min(int(count), len(pool))
    return model.units(layer, sorted(int(c) for c in generator.choice(pool, count, replace=False)))


def matched_units(model: CircuitModel, layer: str, members: Sequence[int], key: np.ndarray, generator: np.random.Generator, *,
                  pool: int = 5) -> list[Unit]:
    """For each member channel, a different non-member unit of ``layer`` drawn among the ``pool`` closest to it in ``key``.

    ``key`` has one number per channel of ``layer`` (e.g. :func:`input_strength` onto some clients, or the
    response to a stimulus): the drawn units match the members on it, so a difference between ablating the
    members and ablating the drawn units cannot come from that number.
    """
    key = np.asarray(key, dtype=np.float64)
    members = [int(m) for m in members]
    others = np.setdiff1d(np.arange(model.channels(layer)), np.asarray(members, dtype=int))
    chosen: list[int] = []
    for member in members:
        free = others[~np.isin(others, chosen)]
        if not len(free):
            break
        nearest = free[np.argsort(np.abs(key[free] - key[member]), kind="stable")[:pool]]
        chosen.append(int(generator.choice(nearest)))
    return model.units(layer, chosen)


def input_strength(model: CircuitModel, layer: str, clients: Sequence[str | Unit]) -> np.ndarray:
    """How strongly each unit of ``layer`` feeds ``clients``: the L2 norm of its expanded weights to all of them."""
    from .weights import expanded_weights

    clients = [model.unit(u) for u in clients]
    if not clients:
        return np.zeros(model.channels(layer))
    to_layer = clients[0].layer
    weights = expanded_weights(model, layer, to_layer)[[u.channel for u in clients]]  # (clients, inputs, kh, kw)
    return weights.transpose(0, 1).flatten(1).norm(dim=1).numpy().astype(np.float64)


def random_ablation_damage(model: CircuitModel, probe: ClientProbe, intact: np.ndarray, layer: str, count: int, draws: int, *,
                           exclude: Sequence[int] = (), means: torch.Tensor | None = None, mode: Literal["zero", "mean"] = "mean",
                           seed: int = 0, matched_on: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """:func:`response_damage` for ``draws`` ablations of ``count`` random units of ``layer`` each: a distribution per group.

    With ``matched_on`` (one number per channel), each draw is :func:`matched_units` of the ``exclude`` channels
    (the members) instead: as many units, each as close as possible to one member on that number.
    """
    generator = np.random.default_rng(seed)
    results: dict[str, list[float]] = {group: [] for group in probe.groups}
    for _ in range(draws):
        if matched_on is None:
            units = random_units(model, layer, count, generator, exclude)
        else:
            units = matched_units(model, layer, exclude, matched_on, generator)
        damage = response_damage(probe, intact, probe_responses(model, probe, ablate=units, mode=mode, means=means))
        for group, value in damage.items():
            results[group].append(value)
    return {group: np.asarray(values) for group, values in results.items()}


@dataclass(frozen=True)
class PredictionChange:
    """How an intervention changes the network's output on unlabelled images."""

    kl: float  # mean KL(intact || changed) of the class distributions, nats
    agreement: float  # share of images whose top-1 class is unchanged


def logits_of(model: CircuitModel, images: torch.Tensor, *, batch_size: int = 32) -> torch.Tensor:
    """Class logits (N, classes) in batches, without gradients."""
    with torch.inference_mode():
        return torch.cat([model(batch.to(model.device)).float().cpu() for batch in images.split(batch_size)])


def prediction_change(intact_logits: torch.Tensor, changed_logits: torch.Tensor) -> PredictionChange:
    """KL divergence and top-1 agreement between the intact network's predictions and the changed one's."""
    log_p, log_q = intact_logits.log_softmax(-1), changed_logits.log_softmax(-1)
    kl = float((log_p.exp() * (log_p - log_q)).sum(-1).mean())
    agreement = float((intact_logits.argmax(-1) == changed_logits.argmax(-1)).float().mean())
    return PredictionChange(kl, agreement)


# --- splicing a hand-written curve detector in place of the learned family -----------------------
@dataclass(frozen=True)
class CleanroomSplice:
    """Hand-built curve units ready to stand in for a family: one per member, calibrated to it.

    Member ``f``'s activation becomes ``clamp(blank[f] + gain[f] * cleanroom_f + offset[f], low, high)``,
    where ``cleanroom_f`` is the hand-built unit turned to the member's preferred orientation and
    ``gain``/``offset`` are fitted (least squares) on the family's own screen stimuli.
    """

    layer: str
    channels: list[int]
    orientations: np.ndarray
    settings: object  # a CurveDetectorSettings
    gain: np.ndarray
    offset: np.ndarray
    blank: np.ndarray
    fit: np.ndarray  # (F,) correlation of the calibrated hand-built unit with the member on the screen
    low: float = 0.0
    high: float = 6.0
    stride: float = 16.0
    first_center: tuple[float, float] = (0.0, 0.0)  # (x, y) pixel centre of map position (0, 0)

    def key(self) -> str:
        """A description of the splice for the model's fingerprint."""
        return f"cleanroom {self.settings} {np.round(self.orientations, 3).tolist()} {np.round(self.gain, 6).tolist()}"

    def raw_maps(self, images: torch.Tensor, size: tuple[int, int], orientations: np.ndarray | None = None) -> torch.Tensor:
        """Hand-built units' pre-activation (N, F, h, w) at each map position's receptive-field centre."""
        from .cleanroom import curve_kernel, line_energy

        settings = self.settings
        orientations = self.orientations if orientations is None else orientations
        kernels = torch.stack([curve_kernel(settings.rotated_to(float(o))) for o in orientations])  # (F, D, k, k)
        half = kernels.shape[-1] // 2
        energy = line_energy(images, settings.orientations, settings.line_scale)
        h, w = size
        stride = int(round(self.stride))
        x0, y0 = int(np.floor(self.first_center[0])), int(np.floor(self.first_center[1]))
        need_y, need_x = y0 + (h - 1) * stride + half + 1, x0 + (w - 1) * stride + half + 1
        pad = max(half, 0)
        extra_y, extra_x = max(0, need_y - energy.shape[-2]), max(0, need_x - energy.shape[-1])
        padded = torch.nn.functional.pad(energy, (pad, extra_x, pad, extra_y))
        top, left = y0 - half + pad, x0 - half + pad
        if top < 0 or left < 0:
            padded = torch.nn.functional.pad(padded, (max(0, -left), 0, max(0, -top), 0))
            top, left = max(top, 0), max(left, 0)
        window = padded[..., top : top + (h - 1) * stride + 2 * half + 1, left : left + (w - 1) * stride + 2 * half + 1]
        return torch.nn.functional.conv2d(window, kernels, stride=stride)[..., :h, :w]

    def compute(self, images: torch.Tensor, size: tuple[int, int], orientations: np.ndarray | None = None) -> torch.Tensor:
        """The calibrated activation (N, F, h, w) that replaces the members."""
        raw = self.raw_maps(images, size, orientations).double()
        as_column = lambda v: torch.as_tensor(v, dtype=torch.float64).view(1, -1, 1, 1)  # noqa: E731
        value = as_column(self.blank) + as_column(self.gain) * raw + as_column(self.offset)
        return value.clamp(self.low, self.high).float()


def fit_cleanroom_splice(model: CircuitModel, family: "object", settings: "object | None" = None, *,
                         orientations: int = 16, batch_size: int = 64) -> CleanroomSplice:
    """Hand-built units for each member of a curve family, calibrated to it (see :class:`CleanroomSplice`).

    Calibration images: dark curves on a white ground at the family's placement, ``orientations``
    directions offset by half a step from the screen's (so not the stimuli later tested) at every
    radius of the screen, and straight lines; each member's pre-activation minus the blank image's is
    fitted as gain x hand-built response + offset.
    """
    from dataclasses import replace

    from .cleanroom import settings_for_family
    from .dataset_examples import field_geometry
    from .stimuli.curves import blank, curve, line
    from .probing import unit_responses

    settings = settings or settings_for_family(family)
    screen = family.screen
    placement = screen.placement
    geometry = field_geometry(model, family.layer, placement.size)
    top, left, bottom, right = geometry.box(0, 0)
    activation = model.layer(family.layer).module_path
    high = 6.0 if isinstance(model.module.get_submodule(activation), nn.ReLU6) else float("inf")
    count = len(family)
    splice = CleanroomSplice(family.layer, family.channels, np.asarray(family.orientations, dtype=np.float64), settings,
                             np.zeros(count), np.zeros(count), np.zeros(count), np.zeros(count),
                             high=high, stride=geometry.stride, first_center=((left + right) / 2, (top + bottom) / 2))
    if not count:
        return splice
    style = {"length": float(screen.style["length"]), "width": float(screen.style["width"]), "foreground": 0.0, "background": 1.0}
    step = 360.0 / orientations
    images = [curve(placement.size, orientation=step / 2 + i * step, radius=float(r), center=placement.center, **style)
              for i in range(orientations) for r in screen.radii]
    images += [line(placement.size, angle=float(a), center=placement.center, **style) for a in np.arange(0, 180, step)]
    images = torch.stack(images + [blank(placement.size, 1.0)])
    real = unit_responses(model, family.units, images, pre_activation=True, batch_size=batch_size).numpy().astype(np.float64)
    real, resting = real[:-1] - real[-1], real[-1]
    _, rows, cols = model.layer_shapes(placement.size)[family.layer]
    centre = replace(splice, first_center=(splice.first_center[0] + (cols // 2) * geometry.stride,
                                           splice.first_center[1] + (rows // 2) * geometry.stride))
    raw = centre.raw_maps(images[:-1], (1, 1))[:, :, 0, 0].double().numpy()  # (N, F) at the centre unit only
    gains, offsets, fits = [], [], []
    for f in range(count):
        x, y = raw[:, f], real[:, f]
        (gain, offset), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)
        gains.append(gain)
        offsets.append(offset)
        fits.append(np.corrcoef(x, y)[0, 1] if x.std() > 0 and y.std() > 0 else 0.0)
    return replace(splice, gain=np.asarray(gains), offset=np.asarray(offsets), blank=resting, fit=np.asarray(fits))


@contextmanager
def cleanroom_spliced(model: CircuitModel, splice: CleanroomSplice, *, orientation_offset: float = 0.0) -> Iterator[None]:
    """The family's members replaced by their calibrated hand-built units inside the ``with`` block.

    ``orientation_offset`` turns every hand-built unit (180: each prefers the opposite curve), a control.
    """
    orientations = (splice.orientations + orientation_offset) % 360
    channels = list(splice.channels)

    def transform(output: torch.Tensor, images: torch.Tensor | None) -> torch.Tensor:
        if images is None:
            raise RuntimeError("cleanroom_spliced() needs the input images: call the model as model(images).")
        return _set_channels(output, channels, splice.compute(images, tuple(output.shape[-2:]), orientations))

    if not channels:
        yield None
        return
    with intervened_layer(model, splice.layer, transform, f"{splice.key()} offset {orientation_offset}"):
        yield None
