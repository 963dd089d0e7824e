"""A small network whose units are built by hand: eight curve detectors (arcs every 45 degrees), four line
detectors and four random filters. Several test modules screen it, because its answers are known."""
import torch
from torch import nn

from helpers.wrapping import wrap_model
from helpers.stimuli.curves import curve, line

KERNEL = 21
CURVE_ORIENTATIONS = [0, 45, 90, 135, 180, 225, 270, 315]
LINE_ANGLES = [0, 45, 90, 135]
NOISE_UNITS = 4
SIZE = 64


def template(image: torch.Tensor) -> torch.Tensor:
    """A zero-mean filter matching dark ink on a white background, for each RGB channel."""
    ink = 1.0 - image.mean(0)
    ink = ink - ink.mean()
    return (-ink / ink.norm()).expand(3, -1, -1) / 3


def build_handmade_network():
    """Channels 0-7: arcs at 0, 45, ..., 315 degrees; 8-11: straight lines; 12-15: random filters.

    Like real detectors, the arc and line units are thresholded templates: a first convolution
    matches the template, a ReLU with a bias of minus half the perfect match removes weak partial
    matches, and an identity 1x1 convolution + ReLU is the layer the finder screens.
    """
    stimuli = [curve(KERNEL, orientation=o, radius=6, length=14, width=2) for o in CURVE_ORIENTATIONS]
    stimuli += [line(KERNEL, angle=a, length=14, width=2) for a in LINE_ANGLES]
    filters = [template(image) for image in stimuli]
    generator = torch.Generator().manual_seed(0)
    filters += [torch.randn(3, KERNEL, KERNEL, generator=generator) * 0.05 for _ in range(NOISE_UNITS)]
    match = nn.Conv2d(3, len(filters), KERNEL, padding=KERNEL // 2)
    combine = nn.Conv2d(len(filters), len(filters), 1)
    with torch.no_grad():
        match.weight.copy_(torch.stack(filters))
        perfect = torch.stack([(f * image).sum() for f, image in zip(filters, stimuli)])  # template . its own drawing
        match.bias.zero_()
        match.bias[: len(stimuli)] = -0.5 * perfect
        combine.weight.copy_(torch.eye(len(filters))[:, :, None, None])
        combine.bias.fill_(-0.1)  # silent parts give a negative pre-activation
    module = nn.Sequential(match, nn.ReLU(), combine, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"detectors": "3"}, name="handmade", input_size=SIZE)


def build_mixed_polarity_network():
    """The hand-built network with unit 6 (the 270° arc) turned round: it answers light arcs on a dark ground only."""
    model = build_handmade_network()
    with torch.no_grad():
        model.module[0].weight[6].neg_()  # the zero-mean template of a light arc is minus the dark one's
    return model


#: Screen options that suit the hand-built network's size.
SCREEN = dict(orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)

