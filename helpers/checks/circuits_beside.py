"""Lesson 03's follow-up cells: a student's answer run on the lesson's own family, printed beside the lesson's result.

Each function takes the student's function (``None``-returning placeholder included) and the lesson's objects, and
returns the lines to print: a sentence when the model has no family to read, "write it first" when the answer is not
written yet, otherwise the student's numbers beside the lesson's (the same when the function is right). They are not
checks (those are in :mod:`helpers.checks.circuits`); they save the student the plumbing of feeding the lesson's data.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..plotting.circuits import weight_grids_figure
from ..weights import expanded_weights


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def concentration_beside(my_client_concentration: Callable, model, family, layer: str, client_layer: str, readers,
                         sets: int) -> str:
    """Exercise 6's client test on the family's readers in ``client_layer``, beside section 6's ``readers``
    (:class:`helpers.weights.connections.FamilyClients`; its random sets were other draws: p may differ a little)."""
    if not len(family):
        return "No curve family on this model: no clients to test."
    grids = expanded_weights(model, layer, client_layer).numpy()
    mine = my_client_concentration(grids, list(family.channels), sets=sets, seed=0)
    if mine is None:
        return "Write my_client_concentration above (exercise 6) to run the test yourself."
    return (f"your test: concentration {mine[0]:.2f}, p = {mine[1]:.4f} | section 6: concentration "
            f"{readers.concentration:.2f}, p = {readers.p:.4f}")


def alignment_beside(my_curve_input_alignment: Callable, model, family, sources, source_layer: str, layer: str,
                     inputs) -> str:
    """Exercise 7's aligned and opposite curve inputs of the family (top 8), beside section 5's ``inputs``
    (:class:`helpers.weights.connections.InputSelectivity`)."""
    if not (len(family) and len(sources)):
        return "No curve units in both layers: nothing to read."
    net = expanded_weights(model, source_layer, layer).sum(dim=(2, 3)).numpy()  # (units, inputs)
    mine = my_curve_input_alignment(net, list(family.channels), family.orientations, sources.screen.preferred,
                                    list(sources.channels), count=8)
    if mine is None:
        return "Write my_curve_input_alignment above (exercise 7) to read the family yourself."
    return "\n".join(f"{kind} curve inputs: yours {len(yours)}, mean difference {_mean(yours):.0f}° | section 5: "
                     f"{len(inputs.aligned[kind])}, {_mean(inputs.aligned[kind]):.0f}°"
                     for kind, yours in zip(("excitatory", "inhibitory"), mine))


def profile_beside(my_weight_by_orientation_difference: Callable, model, family, sources, source_layer: str,
                   layer: str, wiring) -> str:
    """Exercise 8's curve-to-curve profile of the family, beside section 5's ``wiring``
    (:class:`helpers.weights.curve_wiring.CurveWiring`, ``None`` without curve units in both layers)."""
    if wiring is None:
        return "No curve units in both layers: no profile to draw."
    net = expanded_weights(model, source_layer, layer, to_channels=family.channels).sum(dim=(2, 3)).numpy()
    mine = my_weight_by_orientation_difference(net, family.orientations, list(sources.channels), sources.orientations,
                                               bin_width=wiring.bin_width)
    if mine is None:
        return "Write my_weight_by_orientation_difference above (exercise 8) to draw the profile yourself."
    return ("your profile:      " + "  ".join(f"{v:+.3f}" for v in mine) + "\n"
            "section 5's bars:  " + "  ".join(f"{v:+.3f}" for v in wiring.profile))


def equivariance_beside(my_pair_correlations: Callable, grids, family, equivariance: dict) -> str:
    """Exercise 9's rotated and unrotated correlations of the family's pairs (``grids`` (members, C_from, k, k), the
    closed-form expanded weights), beside section 5's per-input equivariance (``equivariance["per_input"]``)."""
    if "per_input" not in equivariance:
        return "Equivariance needs at least two members: nothing to compare."
    mine = my_pair_correlations(grids, list(family.orientations))
    if mine is None:
        return "Write my_pair_correlations above (exercise 9) to test the family's equivariance yourself."
    mine = np.asarray(mine, dtype=np.float64).reshape(-1, 2)
    real = equivariance["per_input"][0]
    return (f"yours: {len(mine)} pairs, rotated {mine[:, 0].mean():+.3f}, unrotated {mine[:, 1].mean():+.3f}, gain "
            f"{(mine[:, 0] - mine[:, 1]).mean():+.3f} | section 5: rotated {real.mean_rotated:+.3f}, unrotated "
            f"{real.mean_unrotated:+.3f}, gain {real.gain:+.3f}")


def pattern_beside(my_spatial_pattern: Callable, grids, pattern, member) -> None:
    """Exercise 5's pattern of section 5's unit ``member`` (``grids`` (C_from, k, k), ``None`` without a family),
    drawn beside the course's ``pattern``; prints why not when there is nothing to draw."""
    mine = None if grids is None else my_spatial_pattern(grids)
    if grids is None:
        print("No curve family with expanded weights on this model: nothing to draw.")
    elif mine is None:
        print("Write my_spatial_pattern above to draw the pattern yourself.")
    else:
        weight_grids_figure(torch.stack([torch.as_tensor(mine, dtype=torch.float32), pattern]),
                            ["your pattern", "the course's"], ncols=2, suptitle=f"{member}: one kernel for every input")
