"""The dog-head lesson's mirror-pair explorer: pick a head unit, see its picture, the mirror image, and its partner."""
from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..mirror import MirrorPartners
from ..models import CircuitModel, Unit
from ..plotting import stretch_for_display, to_numpy_image
from ..probing import unit_responses
from . import Explorer


def mirror_pair_responses(model: CircuitModel, unit: str | Unit, partner: str | Unit, image: torch.Tensor) -> dict[str, float]:
    """The unit and its partner (largest value over positions) on the unit's (3, H, W) picture and on its mirror image."""
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"Give one (3, H, W) picture of the unit, got shape {tuple(image.shape)}.")
    units = [model.unit(unit), model.unit(partner)]
    responses = unit_responses(model, units, torch.stack([image, image.flip(-1)]), at="max")  # (2 images, 2 units)
    return {"unit on picture": float(responses[0, 0]), "unit on mirror": float(responses[1, 0]),
            "partner on picture": float(responses[0, 1]), "partner on mirror": float(responses[1, 1])}


def mirror_pair_figure(model: CircuitModel, unit: str | Unit, partners: MirrorPartners,
                       pictures: Mapping[Unit, torch.Tensor]) -> Figure:
    """A unit's picture, its mirror image, its mirror partner's picture (if rendered) and the four responses (``fig.responses``)."""
    unit = model.unit(unit)
    if unit not in pictures:
        raise ValueError(f"No picture of {unit}: give one of {sorted(str(u) for u in pictures)}.")
    if unit not in partners.units:
        raise ValueError(f"{unit} is not in the partners' layer {partners.layer}.")
    partner = partners.units[int(partners.partner[partners.units.index(unit)])]
    correlation = float(partners.partner_correlation[partners.units.index(unit)])
    responses = mirror_pair_responses(model, unit, partner, pictures[unit])
    panels = [(pictures[unit], f"{unit}"), (pictures[unit].flip(-1), "mirror image")]
    if partner in pictures:
        panels.append((pictures[partner], f"partner {partner}"))
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(2.4 * (len(panels) + 1) + 1, 2.6))
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(to_numpy_image(stretch_for_display(image)))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    names = list(responses)
    axes[-1].barh(names, [responses[n] for n in names], color=["tab:blue", "tab:cyan", "tab:red", "tab:orange"])
    axes[-1].invert_yaxis()
    axes[-1].set_xlabel("response (max over positions)", fontsize=8)
    axes[-1].set_title(f"partner follows under mirroring: r = {correlation:+.2f}", fontsize=8)
    fig.tight_layout()
    fig.responses, fig.partner = responses, partner  # what the figure shows, for tests and readers
    return fig


def mirror_pair_explorer(model: CircuitModel, units: Sequence[str | Unit], partners: MirrorPartners,
                         pictures: Mapping[Unit, torch.Tensor]) -> Explorer:
    """A unit menu; each choice shows the unit's picture, its mirror image, its partner and their responses."""
    units = [model.unit(u) for u in units]
    if not units:
        raise ValueError("Give at least one unit to explore.")
    controls = {"unit": widgets.Dropdown(options=[str(u) for u in units], value=str(units[0]), description="unit")}
    return Explorer(lambda unit: mirror_pair_figure(model, unit, partners, pictures), controls,
                    title="A head unit, its mirror image and its mirror partner")
