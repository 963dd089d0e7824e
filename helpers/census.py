"""A census of families across models: the curve and high-low screens of lessons 02 and 04 run on any model.

Lesson 08 screens every model, and each model's random-weights copy, with the same options and stimuli, at the
layers chosen for the trained model of that name: the curve layer of lesson 02 (:func:`helpers.layers.curve_layer`)
and the layer nearest 30% of the network's depth for high-low detectors (the Circuits thread found them at 29-33%).
"""
from __future__ import annotations

from .config import fast_or_full
from .families import Family, find_curve_family, find_high_low_family, high_low_screen_options
from .layers import curve_layer, layer_at_depth
from .models import CircuitModel


def screen_families(model: CircuitModel, reference: CircuitModel) -> dict[str, Family]:
    """The curve and high-low families of ``model``, at the layers chosen for ``reference`` (the trained model of that
    name, so that a random-weights copy is screened where its trained network is): ``{"curve": ..., "high-low": ...}``."""
    curve = find_curve_family(model, curve_layer(reference), orientations=fast_or_full(8, 24), radii=(0.12, 0.2, 0.3))
    high_low = find_high_low_family(model, layer_at_depth(reference, 0.3), orientations=fast_or_full(8, 12),
                                    **high_low_screen_options(model))
    return {"curve": curve, "high-low": high_low}
