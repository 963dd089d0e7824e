"""A census of families across models: the curve and high-low screens of lessons 02 and 04 run on any model.

Lesson 09 runs the same screens on its small networks (:func:`small_net_families`, :func:`small_net_census`).
Lesson 08 screens every model, and each model's random-weights copy, with the same options and stimuli, at the
layers chosen for the trained model of that name: the curve layer of lesson 02 (:func:`helpers.layers.curve_layer`)
and the layer nearest 30% of the network's depth for high-low detectors (the Circuits thread found them at 29-33%)
(:func:`census_with_controls`), and splits first-layer filters into almost pure colour and grey (:func:`filter_split`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .config import fast_or_full
from . import universality  # as a module: lesson 08's exercises withhold its filter functions, found only there
from .families import Family, curve_screen_options, find_curve_family, find_high_low_family, high_low_screen_options
from .layers import curve_layer, layer_at_depth
from .models import CircuitModel


def screen_families(model: CircuitModel, reference: CircuitModel) -> dict[str, Family]:
    """The curve and high-low families of ``model``, at the layers chosen for ``reference`` (the trained model of that
    name, so that a random-weights copy is screened where its trained network is): ``{"curve": ..., "high-low": ...}``."""
    curve = find_curve_family(model, curve_layer(reference), orientations=fast_or_full(8, 24), radii=(0.12, 0.2, 0.3))
    high_low = find_high_low_family(model, layer_at_depth(reference, 0.3), orientations=fast_or_full(8, 12),
                                    **high_low_screen_options(model))
    return {"curve": curve, "high-low": high_low}


def census_with_controls(models: Sequence[CircuitModel], controls: Mapping[str, CircuitModel]
                         ) -> tuple[dict[str, dict[str, Family]], list[dict[str, object]]]:
    """Lesson 08's census: every model, and then its random-weights copy ``controls[model.name]``, screened at the
    trained model's layers (:func:`screen_families`). Returns the families keyed by ``name`` and ``"name (random copy)"``,
    and the comparison table's rows (one per family, :meth:`~helpers.families.Family.summary`)."""
    census, rows = {}, []
    for model in models:
        for name, screened in ((model.name, model), (f"{model.name} (random copy)", controls[model.name])):
            census[name] = screen_families(screened, model)
            rows += [{"model": name, **{key: value for key, value in family.summary(screened).items() if key != "model"}}
                     for family in census[name].values()]
    return census, rows


#: Colour fraction above which a first-layer filter counts as almost pure colour, and below which almost pure grey.
PURE_COLOUR, PURE_GREY = 0.9, 0.3


def filter_split(properties: Sequence[universality.FilterProperties]) -> tuple[float, float, float, float]:
    """Shares of first-layer filters that are almost pure colour, almost pure grey (:data:`PURE_COLOUR`,
    :data:`PURE_GREY`), either of them, and classified oriented: what lesson 08's first-layer claims compare."""
    if not properties:
        raise ValueError("No filters to split.")
    fractions = np.array([p.colour_fraction for p in properties])
    colour, grey = fractions > PURE_COLOUR, fractions < PURE_GREY
    return (float(colour.mean()), float(grey.mean()), float((colour | grey).mean()),
            float(np.mean([p.kind == "oriented" for p in properties])))


def small_net_families(model: CircuitModel, layers: tuple[str, ...] = ("conv3", "conv4")) -> tuple[dict[str, Family], dict[str, Family]]:
    """The curve families (16 orientations, strokes suited to the model's input size: ``curve_screen_options``) and the
    high-low families (lesson 08's options) of ``layers`` of a small network, such as lesson 09's: (curves, high-low),
    each keyed by layer."""
    curves = {layer: find_curve_family(model, layer, orientations=16, **curve_screen_options(model)) for layer in layers}
    high_low = {layer: find_high_low_family(model, layer, **high_low_screen_options(model)) for layer in layers}
    return curves, high_low


def small_net_census(name: str, model: CircuitModel, accuracy: float) -> dict[str, object]:
    """One row of lesson 09's census table: the accuracy, the first-layer filter types, and the curve and high-low
    units of conv3 and conv4 (:func:`small_net_families`)."""
    curves, high_low = small_net_families(model)
    types = universality.filter_type_counts(universality.classify_filters(universality.first_layer_filters(model)))
    return {"variant": name, "accuracy": f"{accuracy:.0%}", "oriented": types["oriented"], "colour": types["colour contrast"],
            **{f"curves {layer}": len(family) for layer, family in curves.items()},
            **{f"high-low {layer}": len(family) for layer, family in high_low.items()}}
