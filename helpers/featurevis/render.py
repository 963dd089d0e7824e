"""Feature visualization by optimization: make images that maximize objectives.

:func:`render` optimizes a whole family of objectives at once, one image (or several) per
objective, in ONE batch: a single forward pass (stopped at the deepest layer the objectives
read) and a single backward pass per step serve every unit, which is many times faster on a CPU
than visualizing units one at a time.

Tricks, all switchable: a Fourier parameterization with decorrelated colours
(:mod:`.param`), random jitter/scale/rotation at every step (:mod:`.transforms`), objectives on
pre-activations, and a *redirected* ReLU/ReLU6 gradient for the first ``redirect_steps`` steps:
a plain ReLU passes no gradient to a unit that is off for the starting image, so the image would
never move. Where a ReLU passes an image no gradient at all (every unit of the layer off or
saturated for it), the redirected version lets the gradient through wherever it pushes a unit back
toward its active range; an image that gets any ordinary gradient there keeps exactly that one, so
only stuck images are steered. The network's own ReLU modules are swapped back afterwards, always,
and the optimizer starts afresh (its state cleared): redirected gradients are thousands of times
larger than the true ones, and Adam's second-moment estimate would remember them for thousands of
steps, shrinking every later step (benchmarks/README.md has the measurements of both choices).

Faint images were partly that stall: it kept deep layers' images near their grey start (pixel std
~0.02 on efficientnet_lite0). Some units are still met by low-contrast patterns; show such images
with :func:`helpers.plotting.stretch_contrast` (display only), and say so.
"""
from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from ..arguments import finite_number, whole_number
from ..models import CircuitModel, Unit
from .objectives import BatchedObjectives, Objective, channel, neuron
from .param import ImageParam, make_param
from .transforms import Compose, Transform, get_transforms


def redirected_gradient(inputs: torch.Tensor, grad: torch.Tensor, high: float = float("inf")) -> torch.Tensor:
    """The redirected ReLU's backward rule: the gradient reaching ``inputs`` (batch first) of a ReLU clipped at ``high``.

    Per image (the first dimension): an image that gets any ordinary gradient through the clip keeps exactly it; only
    an image that would get none, every unit of the layer off or saturated for it, gets the redirected gradient: the
    incoming gradient, outside the range too, wherever following it pushes a unit back inside.
    """
    inside = (inputs >= 0) & (inputs <= high)
    ordinary = grad * inside
    # Gradient descent moves x by -grad: below the range, a negative grad raises x; above it, a positive one lowers it.
    back_inside = inside | ((inputs < 0) & (grad < 0)) | ((inputs > high) & (grad > 0))
    blocked = (ordinary.flatten(1).abs().amax(1) == 0).view(-1, *[1] * (inputs.dim() - 1))
    return torch.where(blocked, grad * back_inside, ordinary)


class _RedirectedClamp(torch.autograd.Function):
    """Clamp to [0, high] forward; :func:`redirected_gradient` backward."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, high: float) -> torch.Tensor:
        ctx.save_for_backward(inputs)
        ctx.high = high
        return inputs.clamp(0.0, high)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (inputs,) = ctx.saved_tensors
        return redirected_gradient(inputs, grad, ctx.high), None


class RedirectedReLU(nn.Module):
    """ReLU (``high=inf``) or ReLU6 (``high=6``) whose gradient is redirected for the images it blocks."""

    def __init__(self, high: float = float("inf")):
        super().__init__()
        self.high = high

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return _RedirectedClamp.apply(inputs, self.high)


class BandedLocalResponseNorm(nn.Module):
    """nn.LocalResponseNorm computed with a banded 1x1 convolution: same values, ~4x faster on CPU.

    PyTorch's version sums squares over neighbouring channels with a 3-D average pool, which is
    slow on a CPU, forward and backward; a (C, C) band matrix does the same sum as one matmul.
    """

    def __init__(self, original: nn.LocalResponseNorm):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = original.size, original.alpha, original.beta, original.k
        self._bands: dict[tuple[int, torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def _band(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (x.shape[1], x.device, x.dtype)
        if key not in self._bands:
            index = torch.arange(x.shape[1])
            offset = index.view(1, -1) - index.view(-1, 1)  # input channel minus output channel
            inside = (offset >= -(self.size // 2)) & (offset <= (self.size - 1) // 2)
            band = (inside.to(x.dtype) * (self.alpha / self.size)).view(x.shape[1], x.shape[1], 1, 1)
            self._bands[key] = (band.to(x.device), torch.full((x.shape[1],), float(self.k), dtype=x.dtype, device=x.device))
        return self._bands[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        band, k = self._band(x)
        return x * torch.nn.functional.conv2d(x * x, band, bias=k).pow(-self.beta)


@contextmanager
def swapped_modules(module: nn.Module, replace: Callable[[nn.Module], nn.Module | None]) -> Iterator[int]:
    """Replace submodules by ``replace(child)`` where it returns one; yields how many, restores them ALWAYS."""
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in list(module.modules()):
            for name, child in list(parent.named_children()):
                replacement = replace(child)
                if replacement is not None:
                    swapped.append((parent, name, child))
                    setattr(parent, name, replacement)
        yield len(swapped)
    finally:
        for parent, name, child in reversed(swapped):
            setattr(parent, name, child)


def _redirected(child: nn.Module) -> nn.Module | None:
    if type(child) is nn.ReLU:
        return RedirectedReLU()
    if type(child) is nn.ReLU6:
        return RedirectedReLU(6.0)
    return None


def redirected_relus(module: nn.Module) -> AbstractContextManager[int]:
    """Swap every nn.ReLU / nn.ReLU6 inside ``module`` for a RedirectedReLU for a ``with`` block."""
    return swapped_modules(module, _redirected)


def faster_modules(module: nn.Module) -> AbstractContextManager[int]:
    """Swap slow-on-CPU modules (nn.LocalResponseNorm) for equivalent faster ones for a ``with`` block."""
    return swapped_modules(module, lambda child: BandedLocalResponseNorm(child) if type(child) is nn.LocalResponseNorm else None)


@dataclass
class RenderResult:
    """What :func:`render` made: images (N, 3, S, S) in [0, 1] and how well each met its objective."""

    images: torch.Tensor
    values: torch.Tensor  # (N,) final objective value of each image, measured without transforms
    history: torch.Tensor  # (steps, N) objective value at each step (on the transformed images)
    objectives: list[Objective]  # (N,) the objective of each image
    stalled: torch.Tensor  # (N,) True where the image never moved or its objective never changed
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # images after the steps asked for

    def __len__(self) -> int:
        return self.images.shape[0]


def _stall_warning(result: RenderResult, gradient_seen: torch.Tensor, flat: torch.Tensor) -> None:
    """Warn, naming the likely cause, when some images never moved or their objective never changed."""
    stuck = torch.nonzero(result.stalled).flatten().tolist()
    if not stuck:
        return
    names = ", ".join(result.objectives[i].name for i in stuck[:6]) + (" ..." if len(stuck) > 6 else "")
    if not bool(gradient_seen[result.stalled].any()):
        cause = ("the objective's gradient was exactly zero at every step: the unit is dead for these images "
                 "(try redirect_steps > 0 or pre_activation=True), or the layer does not depend on the input")
    elif bool(flat[result.stalled].all()):
        cause = ("the objective kept the same value whatever the image: the unit is constant (its inputs are dead "
                 "for every image) or the objective reads a layer the image does not reach")
    else:
        cause = ("the gradient was too small to move the image: check the model takes images in [0, 1] "
                 "(its preprocess), the learning rate, and that the layer is the one you meant")
    warnings.warn(f"render: {len(stuck)} of {len(result)} images stalled (grey or unchanged objective) for {names}: {cause}.",
                  stacklevel=3)


def render(
    model: CircuitModel,
    objectives: Objective | Sequence[Objective],
    *,
    steps: int = 256,
    size: int = 128,
    param: str | ImageParam = "fourier",
    transforms: str | Compose | Sequence[Transform] | None = "standard",
    lr: float = 0.05,
    seed: int = 0,
    images_per_objective: int = 1,
    redirect_steps: int = 16,
    pre_activation: bool = True,
    colour_matrix: torch.Tensor | None = None,
    channels_last: bool = True,
    snapshot_steps: Sequence[int] = (),
    optimizer: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer] | None = None,
    penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
) -> RenderResult:
    """Optimize one image per objective (``images_per_objective`` each), all in one batch.

    ``param`` is ``"fourier"``, ``"pixel"``, ``"natural"`` (fixed natural spectrum, learned phases) or a
    ready :class:`ImageParam` with the right count;
    ``transforms`` a preset (``"standard"``, ``"light"``, ``"none"``), a list of steps or a
    Compose; ``redirect_steps`` steps use redirected ReLU gradients; ``pre_activation`` reads
    layers before their non-linearity; ``channels_last`` feeds the network NHWC images (10-25%
    faster on CPU for InceptionV1 and EfficientNet, see benchmarks/featurevis_speed.py); ``snapshot_steps``
    keeps the images after those step counts in ``result.snapshots``; ``optimizer`` is a factory that
    takes the image parameters and returns a ``torch.optim`` optimizer (default: Adam with ``lr``),
    e.g. ``optimizer=lambda params: torch.optim.SGD(params, lr=1.0, momentum=0.9)``; ``penalty`` maps the
    untransformed images (N, 3, S, S) to a cost (N,) subtracted from the objectives while optimizing (e.g.
    distance to a photograph, see :func:`helpers.featurevis.accentuate`). Deterministic for a given ``seed``.
    """
    from tqdm.auto import tqdm

    steps, size, seed = whole_number(steps, "steps"), whole_number(size, "size"), whole_number(seed, "seed")
    if steps < 1 or size < 8:
        raise ValueError(f"render needs steps >= 1 and size >= 8, got steps={steps}, size={size}.")
    finite_number(lr, "lr", positive=True)
    if colour_matrix is not None and not bool(torch.isfinite(torch.as_tensor(colour_matrix)).all()):
        raise ValueError("colour_matrix holds NaN or infinite values; pass a finite (3, 3) matrix or None for the default.")
    if any(not 1 <= whole_number(step, "snapshot_steps") <= steps for step in snapshot_steps):
        raise ValueError(f"snapshot_steps must be step counts between 1 and steps={steps}, got {list(snapshot_steps)}.")
    batched = BatchedObjectives(model, objectives, images_per_objective=images_per_objective, pre_activation=pre_activation)
    count = batched.count
    generator = torch.Generator().manual_seed(int(seed))
    if isinstance(param, ImageParam):
        if param.count != count:
            raise ValueError(f"The parameterization makes {param.count} images but {count} are needed.")
        image_param = param
    else:
        image_param = make_param(param, size, count, seed=generator, colour_matrix=colour_matrix)
    image_param = image_param.to(model.device)
    chain = get_transforms(transforms)
    if isinstance(transforms, str) and transforms == "standard" and size < 64:
        warnings.warn(f"The standard transforms are strong for {size}-px images; transforms='light' usually works better.", stacklevel=2)

    parameters = list(image_param.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr) if optimizer is None else optimizer(parameters)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a function of the parameters returning a torch.optim.Optimizer, got {optimizer!r}.")
    with torch.no_grad():
        start = image_param().clone()
    # kept on the model's device while optimizing: copying to the host every step would make the GPU wait
    history = torch.empty(steps, count, device=model.device)
    gradient_seen = torch.zeros(count, dtype=torch.bool, device=model.device)
    snapshots: dict[int, torch.Tensor] = {}
    bar = tqdm(total=steps, disable=not progress, desc=f"render {count} images")

    def run(first: int, last: int) -> None:
        for step in range(first, last):
            optimizer.zero_grad(set_to_none=True)
            plain = image_param()
            images = chain(plain, generator)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            values = batched(images)
            loss = -values.sum()
            if penalty is not None:
                cost = penalty(plain)
                if not isinstance(cost, torch.Tensor) or cost.shape != values.shape:
                    raise ValueError(f"penalty must return one cost per image, shape ({count},); it returned "
                                     f"{getattr(cost, 'shape', type(cost).__name__)}.")
                loss = loss + cost.sum()
            loss.backward()
            optimizer.step()
            history[step] = values.detach()
            gradient_seen.logical_or_(parameters[0].grad.detach().flatten(1).abs().amax(1) > 0)
            if step + 1 in snapshot_steps:
                with torch.no_grad():
                    snapshots[step + 1] = image_param().detach().cpu()
            bar.update(1)

    redirect_steps = max(0, min(int(redirect_steps), steps))
    try:
        with faster_modules(model.module):
            if redirect_steps:
                with redirected_relus(model.module):
                    run(0, redirect_steps)
                optimizer.state.clear()  # start afresh: moments of redirected gradients would shrink every later step
            run(redirect_steps, steps)
            with torch.no_grad():
                images = image_param().detach()
                values = batched(images).cpu()
    finally:
        bar.close()
    moved = (images - start).flatten(1).abs().amax(1).cpu()
    history, gradient_seen = history.cpu(), gradient_seen.cpu()
    flat = (history.amax(0) - history.amin(0)) <= 1e-5 * (1 + history.abs().amax(0))
    per_image = [o for o in batched.objectives for _ in range(batched.per)]
    result = RenderResult(images=images.cpu(), values=values, history=history, objectives=per_image,
                          stalled=(moved < 1e-3) | flat, snapshots=snapshots)
    _stall_warning(result, gradient_seen, flat)
    return result


def render_units(model: CircuitModel, units: str | Sequence[str | Unit], kind: str = "neuron", *,
                 batch_size: int = 64, seed: int = 0, progress: bool = True, **options) -> RenderResult:
    """Visualize many units, ``batch_size`` per batch: a list of units, or a layer name for all of its channels.

    ``kind`` is ``"neuron"`` (centre position) or ``"channel"`` (mean over positions); other
    keyword options go to :func:`render`. Batch ``b`` uses seed ``seed + b``.
    """
    from tqdm.auto import tqdm

    makers = {"neuron": neuron, "channel": channel}
    if kind not in makers:
        raise ValueError(f"kind must be one of {sorted(makers)}, not {kind!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if isinstance(units, str) and ":" not in units:
        units = model.units(units)
    elif isinstance(units, (str, Unit)):
        units = [units]
    objectives = [makers[kind](model.unit(u)) for u in units]
    if not objectives:
        raise ValueError("render_units got no units to visualize (an empty list): pass at least one unit, e.g. "
                         "['mixed3b:379'], or a layer name for all of its channels; check the selection that made the list.")
    chunks = [objectives[i:i + batch_size] for i in range(0, len(objectives), batch_size)]
    if len(chunks) == 1:
        return render(model, objectives, seed=seed, progress=progress, **options)
    parts = [render(model, chunk, seed=seed + b, progress=False, **options)
             for b, chunk in enumerate(tqdm(chunks, disable=not progress, desc=f"render {len(objectives)} units"))]
    return RenderResult(
        images=torch.cat([p.images for p in parts]),
        values=torch.cat([p.values for p in parts]),
        history=torch.cat([p.history for p in parts], dim=1),
        objectives=[o for p in parts for o in p.objectives],
        stalled=torch.cat([p.stalled for p in parts]),
        snapshots={k: torch.cat([p.snapshots[k] for p in parts]) for k in parts[0].snapshots},
    )
