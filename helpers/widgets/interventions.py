"""Lesson 09's ablation explorer: choose what to ablate and watch the clients' tuning curves change."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..interventions import ClientProbe, matched_units, probe_responses, random_units
from ..models import CircuitModel, Unit
from ..plotting.interventions import tuning_figure
from . import Explorer

CHOICES = ("one member", "curve family")


def ablation_choice(family_units: Sequence[Unit], choice: str, member: int = 0) -> list[Unit]:
    """The units a choice names: one member of the family (by index) or the whole family."""
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {CHOICES}, not {choice!r}.")
    family_units = list(family_units)
    if choice == "curve family":
        return family_units
    return [family_units[int(member) % len(family_units)]] if family_units else []


def ablation_tunings(model: CircuitModel, probe: ClientProbe, group: str, units: Sequence[Unit],
                     means: torch.Tensor | None = None, intact: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The probe units' evoked responses to one stimulus group, intact and with ``units`` mean-ablated: two (n, U) arrays."""
    intact = probe_responses(model, probe) if intact is None else intact
    changed = probe_responses(model, probe, ablate=list(units), means=means) if len(units) else intact
    return probe.evoked(intact, group), probe.evoked(changed, group)


def ablation_figure(model: CircuitModel, probe: ClientProbe, angles: np.ndarray, family_units: Sequence[Unit], layer: str,
                    choice: str, member: int = 0, seed: int = 0, means: torch.Tensor | None = None,
                    intact: np.ndarray | None = None, group: str = "curves", matched_on: np.ndarray | None = None) -> Figure:
    """The explorer's pure function: every client's tuning to curves, intact (black), with the chosen units ablated
    (red), and with as many random units of the layer ablated (draw ``seed``, blue): the control beside every choice.

    With ``matched_on`` (one number per channel of ``layer``, e.g. ``input_strength`` onto the clients) the control
    units are :func:`~helpers.interventions.matched_units` of the chosen ones instead of random units."""
    units = ablation_choice(family_units, choice, member)
    before, after = ablation_tunings(model, probe, group, units, means, intact)
    rng = np.random.default_rng(int(seed))
    if matched_on is None or not units:
        control, kind = random_units(model, layer, max(1, len(units)), rng, [u.channel for u in family_units]), "random"
    else:
        control, kind = matched_units(model, layer, [u.channel for u in units], matched_on, rng), "weight-matched"
    _, after_random = ablation_tunings(model, probe, group, control, means, intact)
    what = {"curve family": f"the curve family ({len(units)} units)",
            "one member": f"member {units[0]}" if units else "no member (empty family)"}[choice]
    return tuning_figure(np.asarray(angles),
                         {"intact": before, "ablated": after, f"{len(control)} {kind} units (draw {seed})": after_random},
                         [str(u) for u in probe.units], title=f"clients' responses to curves with {what} ablated")


def ablation_explorer(model: CircuitModel, probe: ClientProbe, angles: np.ndarray, family_units: Sequence[Unit], layer: str,
                      means: torch.Tensor | None = None, intact: np.ndarray | None = None,
                      matched_on: np.ndarray | None = None) -> Explorer:
    """A dropdown (one member or the whole family) and sliders (which member, which random draw for the control);
    each change reruns the clients."""
    intact = probe_responses(model, probe) if intact is None else intact
    controls = {
        "choice": widgets.Dropdown(options=list(CHOICES), value=CHOICES[0], description="ablate"),
        "member": widgets.IntSlider(value=0, min=0, max=max(0, len(family_units) - 1), description="member", continuous_update=False),
        "seed": widgets.IntSlider(value=0, min=0, max=9, description="random draw", continuous_update=False),
    }
    return Explorer(
        lambda choice, member, seed: ablation_figure(model, probe, angles, family_units, layer, choice, member, seed, means, intact,
                                                           matched_on=matched_on),
        controls,
        title=f"{model.name}: ablate units of {layer}, watch their clients",
    )
