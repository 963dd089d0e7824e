"""Feature visualization: optimize images that make units of a network fire.

``param`` (how images are parameterized; ``spectrum`` measures photographs' spectrum for the
natural-spectrum one), ``accentuate`` (the smallest change to a photo that drives a unit), ``transforms`` (random jitter/scale/rotation),
``objectives`` (what to maximize; compose with + - *), ``render`` (the batched optimizer).
Typical use::

    from helpers.featurevis import render, render_units, neuron, channel, diversity
    result = render_units(model, ["blocks.3.2:17", "blocks.3.2:40"], kind="channel", steps=128)
    result.images   # (2, 3, 128, 128) in [0, 1]
"""
from .objectives import (
    BatchedObjectives, Objective, channel, class_logit, custom, direction, diversity, neuron, objective_values,
    random_direction,
)
from .accentuate import Accentuation, accentuate
from .param import (
    FourierImage, ImageParam, NaturalSpectrumImage, PhotoImage, PixelImage, colour_matrix_from_images, imagenet_colour_matrix,
    make_param,
)
from .render import (
    BandedLocalResponseNorm, RedirectedReLU, RenderResult, faster_modules, redirected_relus, render, render_units,
)
from .transforms import Compose, Jitter, Pad, RandomRotate, RandomScale, get_transforms, light_transforms, standard_transforms

__all__ = [
    "BatchedObjectives", "Objective", "channel", "class_logit", "custom", "direction", "diversity", "neuron", "objective_values",
    "random_direction",
    "Accentuation", "accentuate",
    "FourierImage", "ImageParam", "NaturalSpectrumImage", "PhotoImage", "PixelImage", "colour_matrix_from_images", "imagenet_colour_matrix", "make_param",
    "BandedLocalResponseNorm", "RedirectedReLU", "RenderResult", "faster_modules", "redirected_relus", "render", "render_units",
    "Compose", "Jitter", "Pad", "RandomRotate", "RandomScale", "get_transforms", "light_transforms", "standard_transforms",
]
