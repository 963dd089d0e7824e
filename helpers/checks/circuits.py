"""Self-checks for the curve-circuits lesson's exercises (lesson 03).

Each check recomputes the right answer from the student's model (or comparison set); messages never give it away.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from ..cleanroom import ComparisonSet, CurveDetectorSettings, match_family
from ..models import CircuitModel, Unit
from ..weights import strongest_inputs, unit_weights
from . import exercise, expect, passed


@exercise
def check_strongest_input(model: CircuitModel, unit: str | Unit, answer: str | Unit) -> bool:
    """Exercise 1: the unit of the previous layer with the largest summed (net) expanded weight into ``unit``."""
    target = model.unit(unit)
    expect(isinstance(answer, (str, Unit)), f"Give the unit as 'layer:channel' (a string), not {type(answer).__name__}.")
    try:
        chosen = model.unit(answer)
    except (KeyError, ValueError, TypeError) as error:
        expect(False, f"{answer!r} is not a unit of {model.name}: {error}", "Write it as 'layer:channel'.")
    best = strongest_inputs(model, target, 1).excitatory[0]
    expect(chosen.layer == best.unit.layer,
           f"{chosen} is in layer {chosen.layer}, but {target} reads layer {best.unit.layer}.",
           "Use expanded_weights(model, previous_layer, unit_layer) and look at the row of your unit.")
    summed = float(unit_weights(model, chosen, target).sum())
    expect(chosen == best.unit,
           f"{chosen} sends a summed weight of {summed:+.3f}, but another unit sends {best.strength:+.3f}.",
           "Sum each input's k x k grid (weights[unit.channel].sum(dim=(1, 2))) and take the argmax.")
    return passed(f"{chosen} excites {target} most, with a summed weight of {best.strength:+.3f}.")


@exercise
def check_composed_weight(model: CircuitModel, from_unit: str | Unit, to_unit: str | Unit, answer: torch.Tensor) -> bool:
    """Exercise 2: a k x k expanded weight composed by hand equals the library's."""
    expect(isinstance(answer, torch.Tensor), f"Expected a torch.Tensor, got {type(answer).__name__}.")
    truth = unit_weights(model, from_unit, to_unit)
    expect(tuple(answer.shape) == tuple(truth.shape),
           f"Your grid has shape {tuple(answer.shape)}; the expanded weight is {tuple(truth.shape)}.",
           "The result is one k x k grid: the depthwise kernel of the output unit times one number.")
    error = float((answer.float() - truth).abs().max() / truth.abs().max().clamp(min=1e-12))
    if error > 1e-3 and float((answer.float() + truth).abs().max() / truth.abs().max().clamp(min=1e-12)) < 1e-3:
        expect(False, "Your grid has the right pattern but the opposite sign.", "Check the sign of each factor you multiplied.")
    expect(error < 1e-3, f"Your grid differs from the expanded weight by {error:.1%} of its largest value.",
           "Fold in every batch-norm scale (weight / sqrt(running_var + eps)), not the shifts, in the right order.")
    return passed(f"your composed weight matches expanded_weights to {error:.1e} of its largest value.")


@exercise
def check_inhibition_effect(comparison: ComparisonSet, base: CurveDetectorSettings, answer: float) -> bool:
    """Exercise 3: the mean correlation with the real family once both kinds of inhibition are switched off."""
    expect(isinstance(answer, (int, float, np.floating)) and math.isfinite(float(answer)),
           f"Expected a correlation (a number), got {answer!r}.")
    without = match_family(comparison, replace(base, inhibition=0.0, cross_inhibition=0.0))
    with_inhibition = match_family(comparison, base)
    if abs(float(answer) - without.mean) >= 1e-3 and abs(float(answer) - with_inhibition.mean) < 1e-3:
        expect(False, f"{float(answer):.3f} is the match *with* the default inhibition.",
               "Switch off both inhibition and cross_inhibition before calling match_family.")
    for kind in ("inhibition", "cross_inhibition"):
        half = match_family(comparison, replace(base, **{kind: 0.0}))
        if abs(float(answer) - without.mean) >= 1e-3 and abs(float(answer) - half.mean) < 1e-3:
            expect(False, f"{float(answer):.3f} is the match with only {kind} switched off.", "Switch off both kinds.")
    expect(abs(float(answer) - without.mean) < 1e-3,
           f"{float(answer):.3f} is not the mean correlation without inhibition on {comparison.name}.",
           "Set inhibition=0.0 and cross_inhibition=0.0 (dataclasses.replace(base, ...)) and call match_family(...).mean.")
    change = "drops" if without.mean < with_inhibition.mean else "rises"
    return passed(f"without inhibition the mean correlation {change} from {with_inhibition.mean:.2f} to {without.mean:.2f}.")
