"""What a unit votes for: its direct effect on the classifier's logits, read for a set of classes.

- :func:`classifier_weights`, :func:`class_votes`: each unit's direct vote for each class (the classifier's weights,
  or those times the expanded weights into the last layer);
- :func:`class_set_reading`: two ways to say how much units vote for a set of classes (a standardized vote and
  the set's share among their top-voted classes);
- :func:`class_set_circuit`: the unit of a layer that votes most for a set of classes and the units of the next
  layer it excites most, all read the same way (lesson 06's car unit and the units it feeds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from .layers import next_layer
from .models import CircuitModel, Unit
from .weights import expanded_weights, strongest_outputs
from .weights.connections import Connections

_VOTE_CHUNK = 64  # output channels linearized at a time by class_votes


def classifier_weights(model: CircuitModel) -> torch.Tensor:
    """The final linear layer's weights (classes, channels of the last layer): each penultimate unit's direct vote per class."""
    last = model.channels(model.layer_names[-1])
    linear = [m for m in model.module.modules() if isinstance(m, torch.nn.Linear)]
    if not linear or linear[-1].in_features != last or linear[-1].out_features != len(model.labels):
        raise ValueError(
            f"{model.name}: expected its last module to be a Linear layer from the last layer's {last} channels "
            f"to {len(model.labels)} classes; this model is built differently."
        )
    return linear[-1].weight.detach().float().cpu()


def class_votes(model: CircuitModel, layer: str) -> torch.Tensor:
    """Each unit's direct vote for each class (classes, channels), through the last layer with its non-linearity ignored.

    For the last layer these are the classifier's weights; for the layer before, the classifier's
    weights times the expanded weights into the last layer, summed over the spatial grid (the
    effect of the unit firing evenly everywhere, which the final average pooling sees). Without a
    closed form (InceptionV1's mixed4e, two layers before the last) the grids are linearized a few
    output channels at a time and summed at once: only (channels, channels) numbers are kept.
    """
    last = model.layer_names[-1]
    votes = classifier_weights(model)
    if model.layer(layer).name == last:
        return votes
    try:
        summed = expanded_weights(model, layer, last, method="analytic").sum(dim=(2, 3))  # (last channels, channels)
    except ValueError:  # no closed form: linearize in chunks of output channels
        outputs = range(model.channels(last))
        summed = torch.cat([
            expanded_weights(model, layer, last, method="linearized", to_channels=outputs[start:start + _VOTE_CHUNK])
            .sum(dim=(2, 3)) for start in range(0, len(outputs), _VOTE_CHUNK)
        ])
    return votes @ summed.float().cpu()


def class_set_reading(votes: torch.Tensor, classes: Sequence[int], count: int = 10) -> torch.Tensor:
    """How much each unit votes for a set of classes, two ways: (2, units) from votes (classes, units).

    Row 0: the unit's votes standardized over all classes (minus their mean, over their standard deviation with
    n - 1; 0 for a unit whose votes never vary), averaged over ``classes``: how far above its typical class the unit
    puts the set. Row 1: the share of ``classes`` among the unit's ``count`` top-voted classes.
    """
    spread = votes.std(0)
    standardized = torch.where(spread > 0, (votes - votes.mean(0)) / spread.clamp_min(1e-30), torch.zeros_like(votes))
    chosen = torch.as_tensor(list(classes), dtype=torch.long)
    top = votes.topk(count, dim=0).indices  # (count, units)
    return torch.stack([standardized[chosen].mean(0), torch.isin(top, chosen).to(votes.dtype).mean(0)])


@dataclass(frozen=True)
class ClassSetCircuit:
    """The unit of a layer that votes most for a set of classes, and the units of the next layer it excites most."""

    classes: tuple[int, ...]  #: the set of classes
    count: int  #: how many top-voted classes a share counts
    unit: Unit
    votes: torch.Tensor  #: (classes, units of the unit's layer): :func:`class_votes`
    reading: torch.Tensor  #: (2, units of the unit's layer): :func:`class_set_reading` of every unit
    outputs: Connections  #: the unit's strongest excitatory connections into the next layer
    next_votes: torch.Tensor  #: (classes, units of the next layer)
    next_reading: torch.Tensor  #: (2, units of the next layer)

    @property
    def share(self) -> float:
        """The set's share among the unit's top-voted classes."""
        return float(self.reading[1, self.unit.channel])

    @property
    def receiver_votes(self) -> list[float]:
        """Each receiving unit's standardized vote for the set (compare with ``next_reading[0]``, the whole layer's)."""
        return [float(self.next_reading[0, c.unit.channel]) for c in self.outputs.excitatory]

    def receivers_above_median(self) -> int:
        """How many receiving units vote for the set more than the next layer's median unit (standardized votes)."""
        median = float(self.next_reading[0].median())
        return sum(vote > median for vote in self.receiver_votes)

    def passed_on(self, share: float = 0.5) -> bool:
        """Whether the set is passed on: at least ``share`` of the unit's top-voted classes are in the set, and all its
        receiving units but at most one vote for the set more than the next layer's median unit."""
        return self.share >= share and self.receivers_above_median() >= len(self.receiver_votes) - 1

    def receivers_summary(self) -> str:
        """The receiving units' standardized votes for the set against the next layer's median, and the unit's share."""
        return (f"standardized votes {', '.join(f'{z:+.2f}' for z in self.receiver_votes)} against the layer's median "
                f"{float(self.next_reading[0].median()):+.2f} ({self.receivers_above_median()} of "
                f"{len(self.receiver_votes)} above); the unit's share {self.share:.0%}")

    def describe(self, name: str, others: Mapping[str, Sequence[int]]) -> str:
        """Lines to print: the unit's share of the set (called ``name``, "car"), the receiving units' standardized votes
        against the next layer's, and each receiver's weight and shares of the set and of the ``others`` sets."""
        layer = self.next_reading[0]
        shares = {f"{name}s": self.receiver_shares()} | {other: self.receiver_shares(c) for other, c in others.items()}
        lines = [f"{name} unit {self.unit}: {self.share:.0%} of its top-{self.count} class votes are {name}s",
                 f"standardized {name} vote of the receiving units: {', '.join(f'{z:+.2f}' for z in self.receiver_votes)} "
                 f"(layer: median {float(layer.median()):+.2f}, 90th percentile {float(layer.quantile(0.9)):+.2f})"]
        for index, connection in enumerate(self.outputs.excitatory):
            read = ", ".join(f"{other} {values[index]:.0%}" for other, values in shares.items())
            lines.append(f"  -> {connection.unit}  weight {connection.strength:.3f}  {read} of its top-{self.count} votes")
        return "\n".join(lines)

    def receiver_shares(self, classes: Sequence[int] | None = None) -> list[float]:
        """The share of ``classes`` (default: the circuit's own set) among each receiving unit's top-voted classes."""
        reading = self.next_reading if classes is None else class_set_reading(self.next_votes, classes, self.count)
        return [float(reading[1, c.unit.channel]) for c in self.outputs.excitatory]


def class_set_circuit(model: CircuitModel, layer: str, classes: Sequence[int], *, receivers: int = 4,
                      count: int = 10) -> ClassSetCircuit:
    """The unit of ``layer`` with the highest standardized vote for ``classes`` and the ``receivers`` units of the next
    layer it excites most, each read by :func:`class_set_reading` (top ``count`` classes)."""
    if len(classes) == 0 or min(classes) < 0 or max(classes) >= len(model.labels):
        raise ValueError(f"classes must be class indices from 0 to {len(model.labels) - 1}, at least one.")
    if not 1 <= count <= len(model.labels):
        raise ValueError(f"count (how many top-voted classes a share counts) must be from 1 to {len(model.labels)}, "
                         f"not {count}.")
    votes = class_votes(model, layer)
    reading = class_set_reading(votes, classes, count)
    unit = model.unit(layer, int(reading[0].argmax()))
    outputs = strongest_outputs(model, unit, count=receivers, to_layer=next_layer(model, layer))
    next_votes = class_votes(model, outputs.other_layer)
    return ClassSetCircuit(tuple(int(c) for c in classes), count, unit, votes, reading, outputs, next_votes,
                           class_set_reading(next_votes, classes, count))
