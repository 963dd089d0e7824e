"""Lesson 09's ablation explorer: choose what to ablate and watch the clients' tuning curves change."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..interventions import ClientProbe, probe_responses, random_units
from ..models import CircuitModel, Unit
from ..plotting.interventions import tuning_figure
from . import Explorer

CHOICES = ("curve family", "random units", "one member")


def ablation_choice(model: CircuitModel, family_units: Sequence[Unit], layer: str, choice: str, member: int = 0, seed: int = 0) -> list[Unit]:
    """The units a choice names: the whole family, as many random units of the layer (drawn with ``seed``), or one member."""
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {CHOICES}, not {choice!r}.")
    family_units = list(family_units)
    if choice == "curve family":
        return family_units
    if choice == "one member":
        return [family_units[int(member) % len(family_units)]] if family_units else []
    return random_units(model, layer, max(1, len(family_units)), np.random.default_rng(int(seed)), [u.channel for u in family_units])


def ablation_tunings(model: CircuitModel, probe: ClientProbe, group: str, units: Sequence[Unit],
                     means: torch.Tensor | None = None, intact: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The probe units' evoked responses to one stimulus group, intact and with ``units`` mean-ablated: two (n, U) arrays."""
    intact = probe_responses(model, probe) if intact is None else intact
    changed = probe_responses(model, probe, ablate=list(units), means=means) if len(units) else intact
    return probe.evoked(intact, group), probe.evoked(changed, group)


def ablation_figure(model: CircuitModel, probe: ClientProbe, angles: np.ndarray, family_units: Sequence[Unit], layer: str,
                    choice: str, member: int = 0, seed: int = 0, means: torch.Tensor | None = None,
                    intact: np.ndarray | None = None, group: str = "curves") -> Figure:
    """The explorer's pure function: every client's tuning to curves, intact (black) and ablated (red)."""
    units = ablation_choice(model, family_units, layer, choice, member, seed)
    before, after = ablation_tunings(model, probe, group, units, means, intact)
    what = {"curve family": f"the curve family ({len(units)} units)", "random units": f"{len(units)} random units (draw {seed})",
            "one member": f"member {units[0]}" if units else "no member (empty family)"}[choice]
    return tuning_figure(np.asarray(angles), {"intact": before, "ablated": after}, [str(u) for u in probe.units],
                         title=f"clients' responses to curves with {what} ablated")


def ablation_explorer(model: CircuitModel, probe: ClientProbe, angles: np.ndarray, family_units: Sequence[Unit], layer: str,
                      means: torch.Tensor | None = None, intact: np.ndarray | None = None) -> Explorer:
    """A dropdown (what to ablate) and sliders (which member, which random draw); each change reruns the clients."""
    intact = probe_responses(model, probe) if intact is None else intact
    controls = {
        "choice": widgets.Dropdown(options=list(CHOICES), value=CHOICES[0], description="ablate"),
        "member": widgets.IntSlider(value=0, min=0, max=max(0, len(family_units) - 1), description="member", continuous_update=False),
        "seed": widgets.IntSlider(value=0, min=0, max=9, description="random draw", continuous_update=False),
    }
    return Explorer(
        lambda choice, member, seed: ablation_figure(model, probe, angles, family_units, layer, choice, member, seed, means, intact),
        controls,
        title=f"{model.name}: ablate units of {layer}, watch their clients",
    )
