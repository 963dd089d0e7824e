"""Facts from the Circuits papers about InceptionV1: its layers' shapes and the articles' units.

The unit lists come from the articles' figures and data (Curve Detectors, Curve Circuits, High-Low
Frequency Detectors, Zoom In); the architecture facts from ``data/reference/inceptionv1.json``.
Notebooks use the units only when the active model is InceptionV1; :func:`helpers.layers.equivalent_layer`
finds the same place in another model.
"""
from __future__ import annotations

import json

from .config import REPO_ROOT

#: Facts about Lucid's InceptionV1 graph: state-dict names and shapes, padding, layer shapes, labels.
INCEPTIONV1_REFERENCE = REPO_ROOT / "data" / "reference" / "inceptionv1.json"

#: InceptionV1 layer output shapes (channels, height, width) at 224 px.
INCEPTIONV1_SHAPES: dict[str, tuple[int, int, int]] = {
    name: tuple(shape) for name, shape in json.loads(INCEPTIONV1_REFERENCE.read_text())["layers_output_shape_at_224"].items()
}

#: Curve Detectors (Cammarata et al., 2020): the families, in the article's order.
CURVE_FAMILIES: dict[str, tuple[int, ...]] = {
    "conv2d2": (32, 171, 111, 80, 140, 180, 39, 130, 63, 182, 117),
    "mixed3a": (81, 104, 92, 145, 95, 163, 171, 71, 147, 189, 137),
    "mixed3b": (379, 406, 385, 343, 342, 388, 324, 340, 330, 349),
    "mixed4a": (26, 50, 58, 62, 95, 168, 403, 406, 407, 415, 424, 428, 436, 437),
}

#: High-Low Frequency Detectors (Schubert et al., 2021): the mixed3a family shown in the article.
HIGH_LOW_MIXED3A: tuple[int, ...] = (136, 108, 132, 88, 110, 180, 153, 186, 86, 117, 112, 70, 106, 113)


def article_family(kind: str, layer: str) -> tuple[int, ...] | None:
    """The units an article lists for a family of ``kind`` ("curve", "high-low") in an InceptionV1 layer, or None."""
    return {"curve": CURVE_FAMILIES, "high-low": {"mixed3a": HIGH_LOW_MIXED3A}}.get(kind, {}).get(layer)


#: Zoom In's oriented dog-head circuit, by layer (which ones face left or right is for the mirror test).
DOG_HEAD_UNITS: dict[str, tuple[int, ...]] = {
    "mixed3b": (303, 404),
    "mixed4a": (222, 234, 235, 308, 325),
    "mixed4b": (384, 409, 418, 429, 431, 443),
    "mixed4c": (254, 407),
}
#: Of those, the units the article shows as oriented (one facing) and as mirror-invariant (the union).
DOG_HEAD_ORIENTED: tuple[str, ...] = ("mixed4a:222", "mixed4a:308", "mixed4b:429", "mixed4b:443")
DOG_HEAD_INVARIANT: tuple[str, ...] = ("mixed4b:409", "mixed4b:418")

#: Zoom In's polysemantic example and its car-into-dogs superposition example.
POLYSEMANTIC_UNIT = "mixed4e:55"
CAR_UNIT = "mixed4c:447"
CAR_INTO_DOG_UNITS = ("mixed4d:241", "mixed4d:277", "mixed4d:417")


