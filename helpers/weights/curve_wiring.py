"""How a curve family is wired to the curve units of the layer below, by orientation (Curve Circuits' "aligned
excitation, opposite inhibition").

Two readings of the same (members, inputs) table of net weights (expanded weights summed over the window):

- :func:`curve_input_alignment`: among each member's few strongest excitatory and strongest inhibitory inputs,
  the curve units of the layer below, and how far their preferred orientation is from the member's;
- :func:`weight_by_orientation_difference`: every member's weight from every curve unit below, scaled to the
  member's strongest input and averaged in bands of orientation difference (0° = same orientation, 180° =
  opposite). If curves excite curves that face the same way and inhibit the opposite ones, the profile falls from
  positive to negative; a random network gives a flat profile around zero.

:func:`curve_to_curve_weights` reads the profile of a model's family (lesson 03).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..layers import previous_layer
from ..models import CircuitModel
from ..tuning import angle_difference
from .expanded import Method, expanded_weights


def curve_input_alignment(
    net_weights: np.ndarray, family_channels: Sequence[int], family_orientations: Sequence[float], preferred: np.ndarray,
    curve_channels: Sequence[int], count: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """(excitatory, inhibitory) orientation differences in [0, 180] between each family member and the curve units
    among its ``count`` strongest excitatory inputs (largest positive net weights) and its ``count`` strongest
    inhibitory ones (most negative), member by member, strongest first.

    ``net_weights`` (units, inputs) are expanded weights summed over space, ``preferred`` (inputs,) the input units'
    preferred orientations, ``curve_channels`` the inputs that are curve units. An input counts as excitatory only if
    its net weight is positive, as inhibitory only if it is negative."""
    net_weights, preferred = np.asarray(net_weights, dtype=np.float64), np.asarray(preferred, dtype=np.float64)
    if net_weights.ndim != 2 or preferred.shape != (net_weights.shape[1],) or count < 1:
        raise ValueError("Give net_weights (units, inputs), preferred (inputs,) and a count of at least 1.")
    is_curve = np.isin(np.arange(net_weights.shape[1]), np.asarray(curve_channels, dtype=int))
    found: dict[str, list[float]] = {"excitatory": [], "inhibitory": []}
    for channel, orientation in zip(family_channels, family_orientations):
        row = net_weights[int(channel)]
        for kind, sign in (("excitatory", 1.0), ("inhibitory", -1.0)):
            strongest = [i for i in np.argsort(-sign * row)[:count] if is_curve[i] and sign * row[i] > 0]
            found[kind] += list(angle_difference(preferred[strongest], orientation))
    return np.array(found["excitatory"]), np.array(found["inhibitory"])


def _band_count(bin_width: float) -> int:
    """How many bands of ``bin_width`` degrees cover 0..180 (the width must divide 180)."""
    bands = int(round(180 / bin_width))
    if bin_width <= 0 or abs(bands * bin_width - 180) > 1e-9:
        raise ValueError(f"bin_width must divide 180 degrees, not {bin_width}.")
    return bands


def weight_by_orientation_difference(
    net_weights: np.ndarray, member_orientations: Sequence[float], source_channels: Sequence[int],
    source_orientations: Sequence[float], bin_width: float = 45.0,
) -> np.ndarray:
    """(180 / bin_width,) the mean weight from a curve unit of the layer below to a member, by their orientation difference.

    ``net_weights`` (members, inputs) are each member's expanded weights summed over space, from *every* input unit;
    each member's row is divided by its largest absolute net weight (so that every member counts alike, and 1 is a
    member's strongest input). Then the columns of the curve units below (``source_channels``, preferring
    ``source_orientations``) are kept, and each (member, curve unit) pair falls in band ``difference // bin_width`` of
    its unsigned orientation difference in [0, 180] (180 itself in the last band). A band without pairs is NaN."""
    net_weights = np.asarray(net_weights, dtype=np.float64)
    members, sources = np.asarray(member_orientations, dtype=np.float64), np.asarray(source_orientations, dtype=np.float64)
    channels = np.asarray(source_channels, dtype=int)
    if net_weights.ndim != 2 or len(members) != len(net_weights) or len(channels) != len(sources):
        raise ValueError("Give net_weights (members, inputs), one orientation per member and one per source channel.")
    bands = _band_count(bin_width)
    scaled = net_weights / np.abs(net_weights).max(axis=1, keepdims=True)
    weights = scaled[:, channels]  # (members, curve units below)
    band = np.minimum((angle_difference(members[:, None], sources[None, :]) // bin_width).astype(int), bands - 1)
    return np.array([weights[band == b].mean() if (band == b).any() else np.nan for b in range(bands)])


@dataclass(frozen=True)
class CurveWiring:
    """A family's weights from the curve units of the layer below, by orientation difference (see the module).

    ``profile`` (bands,) the mean scaled weight in each band of ``bin_width`` degrees, ``pairs`` how many
    (member, curve unit) pairs fell in each."""

    from_layer: str
    bin_width: float
    profile: np.ndarray
    pairs: np.ndarray

    @property
    def band_edges(self) -> np.ndarray:
        """(bands + 1,) the edges of the bands in degrees, 0 to 180."""
        return np.arange(len(self.profile) + 1) * self.bin_width

    def summary(self) -> str:
        """One printed line per band: its orientation difference, mean weight and number of pairs."""
        edges = self.band_edges
        return "\n".join(f"orientation difference {lo:3.0f}-{hi:3.0f}°: mean weight {value:+.3f} of the member's strongest "
                         f"input ({n} pairs)" for lo, hi, value, n in zip(edges[:-1], edges[1:], self.profile, self.pairs))


def curve_to_curve_weights(
    model: CircuitModel, layer: str, family_channels: Sequence[int], family_orientations: Sequence[float],
    source_channels: Sequence[int], source_orientations: Sequence[float], *, from_layer: str | None = None,
    bin_width: float = 45.0, method: Method = "auto",
) -> CurveWiring:
    """The weight profile of ``layer``'s curve family from the curve units of ``from_layer`` (default: the layer
    before), by orientation difference: :func:`weight_by_orientation_difference` on the model's expanded weights."""
    from_layer = from_layer or previous_layer(model, layer)
    if not len(family_channels) or not len(source_channels):
        raise ValueError("Give at least one family member and one curve unit of the layer below.")
    net = expanded_weights(model, from_layer, layer, method=method, to_channels=list(family_channels)).sum(dim=(2, 3))
    profile = weight_by_orientation_difference(net.numpy(), family_orientations, source_channels, source_orientations,
                                               bin_width)
    bands = _band_count(bin_width)
    difference = angle_difference(np.asarray(family_orientations, dtype=np.float64)[:, None],
                                  np.asarray(source_orientations, dtype=np.float64)[None, :])
    pairs = np.bincount(np.minimum((difference // bin_width).astype(int), bands - 1).ravel(), minlength=bands)
    return CurveWiring(from_layer, float(bin_width), profile, pairs)
