"""What a feature visualization maximizes: objectives that add, subtract and scale.

An :class:`Objective` is a weighted sum of *terms*. Most terms are linear read-outs of one
layer: ``neuron`` (one channel at the central position, the paper's "neuron"), ``channel`` (one
channel averaged over positions), ``direction`` (a unit vector in the layer's channel space,
at the centre or averaged) and ``class_logit`` (one output of the network). ``diversity``
rewards the images that share one objective for being different from each other.

Objectives compose like numbers::

    neuron("mixed4a:476") + 0.5 * channel("mixed4a:460") - neuron("mixed4a:470")
    -channel("blocks.3.2:17")                         # the "negative" visualization
    channel("blocks.3.2:17") + 0.1 * diversity("blocks.3.2")

Your own term is any function of one layer's activations, declared with that layer so that the
batched, stop-at-the-deepest-layer pass still serves it::

    def total_activation(acts):            # acts: (n, C, h, w) -> one value per image, shape (n,)
        return acts.clamp(min=0).sum(dim=(1, 2, 3))

    channel("blocks.3.2:17") - 1e-4 * custom("blocks.3.2", total_activation, "total activation")

Each objective knows which layers it reads, so the forward pass stops after the deepest one
(class logits need the whole network). :class:`BatchedObjectives` evaluates MANY objectives on
one batch, image ``i`` scored by its own objective, with one vectorized operation per layer
for all linear terms, however many objectives there are.

Pre-activations: by default objectives read a layer's value *before* its non-linearity where
the layer has one (``pre_activation=True``). EfficientNet's ReLU6 clamps at 0 and 6 with zero
gradient outside, so a post-activation objective stalls on a dead unit and stops improving once
it reaches 6; the pre-activation keeps growing and keeps the same ordering of images below 6.
Diversity reads post-activations (the pattern of what fires, as in style statistics).
"""
from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..activations import At, check_at, hooked_layers, read_at, run_until_captured
from ..arguments import whole_number
from ..models import CircuitModel, Unit

LOGITS = "<logits>"  # pseudo-layer name of the network's output


@dataclass(frozen=True)
class LinearTerm:
    """``coefficient * (weights · activations of layer)``, read by :func:`~helpers.activations.read_at`: at the
    centre, averaged over positions, or as they are (``"map"``: logits, which have no positions)."""

    layer: str
    at: At
    weights: tuple[float, ...] | None = None  # dense channel weights (direction), or None for one channel
    channel: int | None = None
    description: str = ""

    def vector(self, channels: int) -> torch.Tensor:
        """The channel weights as a dense (channels,) vector, checked against the layer's width."""
        if self.channel is not None:
            if not 0 <= self.channel < channels:
                raise ValueError(f"{self.description}: layer {self.layer!r} has channels 0..{channels - 1}, not {self.channel}.")
            vector = torch.zeros(channels)
            vector[self.channel] = 1.0
            return vector
        vector = torch.tensor(self.weights, dtype=torch.float32)
        if vector.numel() != channels:
            raise ValueError(f"{self.description}: the direction has {vector.numel()} entries but layer {self.layer!r} has {channels} channels.")
        return vector


@dataclass(frozen=True)
class DiversityTerm:
    """Minus the mean cosine similarity between the (centred) Gram matrix of each image and those of its group."""

    layer: str
    description: str = ""


@dataclass(frozen=True)
class CustomTerm:
    """A user's term: ``function(activations of layer) -> one value per image``, shape (n, C, h, w) -> (n,).

    ``pre_activation`` None follows the objective's setting (before the non-linearity where there is one).
    """

    layer: str
    function: Callable[[torch.Tensor], torch.Tensor]
    description: str = ""
    pre_activation: bool | None = None


Term = LinearTerm | DiversityTerm | CustomTerm


class Objective:
    """A weighted sum of terms; supports ``+``, ``-``, unary ``-`` and multiplication by a number."""

    def __init__(self, terms: Sequence[tuple[float, Term]], name: str | None = None):
        self.terms: tuple[tuple[float, Term], ...] = tuple((float(c), t) for c, t in terms)
        self.name = name or " + ".join(_describe(c, t) for c, t in self.terms).replace("+ -", "- ")

    @property
    def layers(self) -> set[str]:
        """Layers this objective reads (``LOGITS`` stands for the network's output)."""
        return {term.layer for _c, term in self.terms}

    def __add__(self, other: "Objective | float") -> "Objective":
        if isinstance(other, (int, float)) and other == 0:
            return self
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self.terms + other.terms)

    __radd__ = __add__

    def __neg__(self) -> "Objective":
        return self * -1.0

    def __sub__(self, other: "Objective") -> "Objective":
        if not isinstance(other, Objective):
            return NotImplemented
        return self + (-other)

    def __mul__(self, factor: float) -> "Objective":
        if not isinstance(factor, (int, float)):
            return NotImplemented
        if not math.isfinite(factor):
            raise ValueError(f"An objective's weight must be a finite number, got {factor}: NaN or infinity makes every step NaN.")
        return Objective([(c * factor, t) for c, t in self.terms])

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> "Objective":
        return self * (1.0 / divisor)

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def _describe(coefficient: float, term: Term) -> str:
    prefix = "" if coefficient == 1 else ("-" if coefficient == -1 else f"{coefficient:g}*")
    return prefix + term.description


def _parse(unit: str | Unit | tuple[str, int], channel: int | None) -> Unit:
    return Unit(str(unit), whole_number(channel, "channel")) if channel is not None else Unit.parse(unit)


def neuron(unit: str | Unit | tuple[str, int], channel: int | None = None) -> Objective:
    """One channel at the central spatial position: ``neuron("mixed3b:379")`` or ``neuron("mixed3b", 379)``."""
    unit = _parse(unit, channel)
    return Objective([(1.0, LinearTerm(unit.layer, "center", channel=unit.channel, description=f"neuron {unit}"))])


def channel(unit: str | Unit | tuple[str, int], channel: int | None = None) -> Objective:
    """One channel averaged over all positions: ``channel("mixed3b:379")``."""
    unit = _parse(unit, channel)
    return Objective([(1.0, LinearTerm(unit.layer, "mean", channel=unit.channel, description=f"channel {unit}"))])


def direction(layer: str, vector: Sequence[float] | torch.Tensor, *, at: At = "mean") -> Objective:
    """A direction in a layer's channel space (normalized to length 1), at the centre or averaged."""
    check_at(at, ("center", "mean"))
    values = torch.as_tensor(vector, dtype=torch.float32).flatten()
    norm = float(values.norm())
    if norm == 0 or not torch.isfinite(values).all():
        raise ValueError("A direction needs a finite, non-zero vector.")
    weights = tuple((values / norm).tolist())
    return Objective([(1.0, LinearTerm(layer, at, weights=weights, description=f"direction in {layer} ({at})"))])


def random_direction(model: CircuitModel, layer: str, *, seed: int | torch.Generator = 0, at: At = "mean") -> Objective:
    """A random direction (Gaussian, then normalized) in a layer's channel space."""
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    return direction(layer, torch.randn(model.channels(layer), generator=generator), at=at)


def class_logit(label: int, name: str | None = None) -> Objective:
    """One output logit of the network (needs the full forward pass)."""
    return Objective([(1.0, LinearTerm(LOGITS, "map", channel=int(label), description=f"logit {name or label}"))])


def diversity(layer: str) -> Objective:
    """Rewards images that share an objective for having different Gram matrices at ``layer``.

    Each image scores minus its mean cosine similarity to the others of its group, so the value
    is -1 for identical images and rises toward 0 as they differ. Add it with a weight, e.g.
    ``channel(u) + 0.1 * diversity(layer)``, and render with ``images_per_objective > 1`` and
    preferably ``param="fourier"``: natural-spectrum images all share one power spectrum, which the
    Gram matrices of the layers near the input largely follow, so they can differ less.
    """
    return Objective([(1.0, DiversityTerm(layer, description=f"diversity at {layer}"))])


def custom(layer: str, function: Callable[[torch.Tensor], torch.Tensor], description: str | None = None, *,
           pre_activation: bool | None = None) -> Objective:
    """Your own term: ``function`` maps a layer's activations (n, C, h, w) to one differentiable value per image (n,)."""
    if not callable(function):
        raise TypeError(f"custom needs a function of the layer's activations, got {function!r}.")
    name = description or getattr(function, "__name__", "custom")
    return Objective([(1.0, CustomTerm(layer, function, f"{name} at {layer}", pre_activation))])


def gram_diversity(activations: torch.Tensor) -> torch.Tensor:
    """Per image of a group (n, C, h, w): minus the mean cosine similarity of its Gram matrix to the others'."""
    count = activations.shape[0]
    if count < 2:
        return activations.new_zeros(count)
    flat = activations.flatten(2)
    flat = flat - flat.mean(dim=2, keepdim=True)  # centred: raw Gram matrices are all alike, dominated by the means
    gram = flat @ flat.transpose(1, 2) / flat.shape[2]
    gram = torch.nn.functional.normalize(gram.flatten(1), dim=1)
    similarity = gram @ gram.T
    others = similarity.sum(1) - similarity.diagonal()
    return -others / (count - 1)


class BatchedObjectives:
    """Many objectives scored on one batch: image ``i`` belongs to objective ``i // images_per_objective``."""

    def __init__(self, model: CircuitModel, objectives: Objective | Sequence[Objective], *,
                 images_per_objective: int = 1, pre_activation: bool = True):
        objectives = [objectives] if isinstance(objectives, Objective) else list(objectives)
        if not objectives or not all(isinstance(o, Objective) for o in objectives):
            raise ValueError("Pass an Objective or a non-empty list of Objectives (e.g. neuron('mixed3b:379')).")
        if images_per_objective < 1:
            raise ValueError(f"images_per_objective must be >= 1, got {images_per_objective}.")
        self.model = model
        self.objectives = objectives
        self.per = int(images_per_objective)
        self.count = len(objectives) * self.per
        self.needs_logits = any(LOGITS in o.layers for o in objectives)
        # Which value each layer is read at: (layer, pre?) -> hook key.
        self._linear: dict[tuple[str, At, bool], torch.Tensor] = {}
        self._diversity: list[tuple[int, float, str]] = []  # (objective index, coefficient, layer)
        self._custom: list[tuple[int, float, CustomTerm, bool]] = []  # (objective index, coefficient, term, pre?)
        channels: dict[str, int] = {}
        for index, objective in enumerate(objectives):
            for coefficient, term in objective.terms:
                if term.layer != LOGITS:
                    channels[term.layer] = model.channels(term.layer)  # raises a helpful error for a bad name
                if isinstance(term, DiversityTerm):
                    if self.per < 2:
                        raise ValueError("diversity compares the images that share an objective: use images_per_objective >= 2.")
                    self._diversity.append((index, coefficient, term.layer))
                    continue
                if isinstance(term, CustomTerm):
                    wanted = pre_activation if term.pre_activation is None else term.pre_activation
                    self._custom.append((index, coefficient, term, wanted and self._has_pre(term.layer)))
                    continue
                pre = pre_activation and term.layer != LOGITS and self._has_pre(term.layer)
                width = len(model.labels) if term.layer == LOGITS else channels[term.layer]
                key = (term.layer, term.at, pre)
                weights = self._linear.setdefault(key, torch.zeros(len(objectives), width))
                weights[index] += coefficient * term.vector(width)
        # Expand per-objective weights to per-image weights once, not at every step.
        # on the model's device once, not copied there at every optimization step
        self._linear = {key: w.repeat_interleave(self.per, dim=0).to(model.device) for key, w in self._linear.items()}
        custom_pre = {term.layer for _i, _c, term, pre in self._custom if pre}
        custom_post = {term.layer for _i, _c, term, pre in self._custom if not pre}
        self.pre_layers = sorted({k[0] for k in self._linear if k[2]} | custom_pre, key=model.layer_depth)
        self.post_layers = sorted({k[0] for k in self._linear if not k[2] and k[0] != LOGITS} | {d[2] for d in self._diversity}
                                  | custom_post, key=model.layer_depth)

    def _has_pre(self, layer: str) -> bool:
        return self.model.layer(layer).pre_activation_path is not None

    @property
    def deepest_layer(self) -> str:
        """The last layer the forward pass must reach (``LOGITS`` when an objective needs the output)."""
        if self.needs_logits:
            return LOGITS
        return max(self.pre_layers + self.post_layers, key=self.model.layer_depth)

    def activations(self, images: torch.Tensor) -> dict[tuple[str, bool], torch.Tensor]:
        """Run the model just far enough; returns {(layer, pre_activation?): tensor}, plus logits if needed."""
        model = self.model
        # Only the hook set holding the deepest layer may stop the pass; the other fills on the way.
        deepest = None if self.needs_logits else self.deepest_layer
        stop_pre = deepest is not None and deepest in self.pre_layers and deepest not in self.post_layers
        stop_post = deepest is not None and deepest in self.post_layers
        with hooked_layers(model, self.pre_layers, pre_activation=True, stop_early=stop_pre) as pre, \
                hooked_layers(model, self.post_layers, pre_activation=False, stop_early=stop_post) as post:
            logits = run_until_captured(model, images)
        found = {(name, True): value for name, value in pre.items()}
        found.update({(name, False): value for name, value in post.items()})
        if self.needs_logits:
            found[(LOGITS, False)] = logits
        return found

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """The value (N,) of each image under its own objective."""
        if images.shape[0] != self.count:
            raise ValueError(f"Expected {self.count} images ({len(self.objectives)} objectives x {self.per}), got {images.shape[0]}.")
        found = self.activations(images)
        total = images.new_zeros(self.count)
        for (layer, at, pre), weights in self._linear.items():
            value = read_at(found[(layer, pre)], at)
            total = total + (value * weights).sum(1)
        for index, coefficient, layer in self._diversity:
            group = slice(index * self.per, (index + 1) * self.per)
            extra = torch.zeros_like(total)
            extra[group] = coefficient * gram_diversity(found[(layer, False)][group])
            total = total + extra
        for index, coefficient, term, pre in self._custom:
            group = slice(index * self.per, (index + 1) * self.per)
            value = term.function(found[(term.layer, pre)][group])
            if not isinstance(value, torch.Tensor) or value.shape != (self.per,):
                raise ValueError(f"The custom term {term.description!r} must return one value per image, shape ({self.per},); "
                                 f"it returned {getattr(value, 'shape', type(value).__name__)}.")
            extra = torch.zeros_like(total)
            extra[group] = coefficient * value
            total = total + extra
        return total


def objective_values(model: CircuitModel, objectives: Objective | Sequence[Objective], images: torch.Tensor, *,
                     images_per_objective: int = 1, pre_activation: bool = True) -> torch.Tensor:
    """Score images (N, 3, H, W) in [0, 1], image ``i`` by objective ``i // images_per_objective``; no gradient."""
    batched = BatchedObjectives(model, objectives, images_per_objective=images_per_objective, pre_activation=pre_activation)
    with torch.no_grad():
        return batched(images.to(model.device))
