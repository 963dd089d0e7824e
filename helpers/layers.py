"""Choosing layers: by position (the one before or after), by depth, or by role (the paper's counterpart).

The one home for picking a layer of any model:

- :func:`previous_layer`, :func:`next_layer`: a layer's direct neighbours among the interpretable layers.
- :func:`layer_at_depth`, :func:`layers_near_depth`: by relative depth (0 = first layer, 1 = last).
- :func:`equivalent_layer`: the layer that plays the role of an InceptionV1 layer (e.g. ``"mixed3b"``).
- :func:`curve_layer`: where the course studies a model's curve detectors.
"""
from __future__ import annotations

from .models import CircuitModel
from .paper import INCEPTIONV1_SHAPES


# --- by position -------------------------------------------------------------------------------
def previous_layer(model: CircuitModel, layer: str) -> str:
    """The interpretable layer just before ``layer`` (its direct inputs)."""
    depth = model.layer_depth(layer)
    if depth == 0:
        raise ValueError(f"{layer!r} is the first layer of {model.name}; it reads the image, not another layer.")
    return model.layer_names[depth - 1]


def next_layer(model: CircuitModel, layer: str) -> str:
    """The interpretable layer just after ``layer`` (its direct readers)."""
    depth = model.layer_depth(layer)
    if depth == len(model.layer_names) - 1:
        raise ValueError(f"{layer!r} is the last layer of {model.name}; no layer reads it.")
    return model.layer_names[depth + 1]


# --- by depth ----------------------------------------------------------------------------------
def layer_at_depth(model: CircuitModel, fraction: float) -> str:
    """The layer whose relative depth is closest to ``fraction`` (0 = first layer, 1 = last)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}.")
    return min(model.layer_names, key=lambda name: abs(model.depth_fraction(name) - fraction))


def layers_near_depth(model: CircuitModel, low: float, high: float) -> list[str]:
    """The layers whose relative depth (:meth:`CircuitModel.depth_fraction`) lies in [low, high]."""
    if not 0 <= low <= high <= 1:
        raise ValueError(f"Need 0 <= low <= high <= 1 for a depth range, got {low}, {high}.")
    return [name for name in model.layer_names if low <= model.depth_fraction(name) <= high]


# --- by role -----------------------------------------------------------------------------------
def _layers_by_stride(names: list[str], shapes: dict[str, tuple[int, int, int]], size: int) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = {}
    for name in names:
        groups.setdefault(round(size / shapes[name][1]), []).append(name)
    return groups


def equivalent_layer(model: CircuitModel, paper_layer: str) -> str:
    """The layer of ``model`` that plays the role of an InceptionV1 layer (e.g. ``"mixed3b"``).

    Layers are matched by spatial stride (how much the layer downsamples its input, which fixes how
    large a patch a unit sees), then by relative position among the layers of that stride.
    On InceptionV1 itself this returns ``paper_layer``.
    """
    if paper_layer not in INCEPTIONV1_SHAPES:
        raise ValueError(f"Unknown InceptionV1 layer {paper_layer!r}. Choose one of {', '.join(INCEPTIONV1_SHAPES)}.")
    if model.name == "inceptionv1":
        return paper_layer
    paper = _layers_by_stride(list(INCEPTIONV1_SHAPES), INCEPTIONV1_SHAPES, 224)
    stride = next(s for s, names in paper.items() if paper_layer in names)
    peers = paper[stride]
    fraction = peers.index(paper_layer) / max(1, len(peers) - 1)
    ours = _layers_by_stride(model.layer_names, model.layer_shapes(), model.input_size)
    candidates = ours[min(ours, key=lambda s: abs(s - stride))]
    return candidates[round(fraction * (len(candidates) - 1))]


#: Where the course studies each model's curve family: the paper's layer for InceptionV1; for the
#: EfficientNet-Lites the layer whose screened family covered the circle best (lesson 02 shows the
#: screen of the candidate layers).
CURVE_LAYERS: dict[str, str] = {
    "inceptionv1": "mixed3b",
    "efficientnet_lite0": "blocks.3.2",
    "efficientnet_lite1": "blocks.3.2",
    "efficientnet_lite2": "blocks.3.2",
    # the Lites' stride (16) and relative depth (0.44); of features.7-10 the family that covered the circle best
    "mobilenet_v2": "features.8",
}


def curve_layer(model: CircuitModel) -> str:
    """The layer in which to look for ``model``'s curve detectors (mixed3b's counterpart if not listed)."""
    return CURVE_LAYERS.get(model.name) or equivalent_layer(model, "mixed3b")
