"""Self-checks for lesson 09's exercises (interventions)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..interventions import ClientProbe, ablated, attribution, logits_of, prediction_change, probe_responses, response_damage
from ..models import CircuitModel, Unit
from . import expect, exercise, passed


@exercise
def check_strongest_member_ablation(model: CircuitModel, probe: ClientProbe, candidates: Sequence[Unit],
                                    means: torch.Tensor, answer: object) -> bool:
    """Exercise 1: the candidate member whose mean ablation alone changes the client's curve response most."""
    candidates = [model.unit(u) for u in candidates]
    expect(len(candidates) > 0 and len(probe.units) > 0,
           "This model has no curve family (or no client) to ablate, so there is nothing to find.",
           "On random weights that is expected; with trained weights, rerun the family cell.")
    expect(answer is not None, "Your answer is None: name one unit of candidates_1.")
    try:
        chosen = model.unit(answer)
    except (KeyError, ValueError, TypeError) as error:
        expect(False, f"{answer!r} is not a unit of {model.name}: {error}", "Answer with one element of candidates_1.")
    expect(chosen in candidates, f"{chosen} is not one of the candidates.", "Pick the answer among candidates_1.")
    intact = probe_responses(model, probe)
    changes = {u: response_damage(probe, intact, probe_responses(model, probe, ablate=[u], means=means))["curves"] for u in candidates}
    best = max(changes, key=changes.get)
    expect(chosen == best, f"Ablating {chosen} changes the client's curve response by {changes[chosen]:.3f}; another member "
           f"changes it more.", "Measure every candidate with response_damage(...)['curves'] and take the largest.")
    return passed(f"ablating {chosen} alone changes the client's curve response by {changes[chosen]:.3f}, more than any other candidate.")


@exercise
def check_prediction_kl(model: CircuitModel, units: Sequence[Unit], images: torch.Tensor, answer: object) -> bool:
    """Exercise 2: the mean KL(intact || zero-ablated) of the class distributions on ``images``, in nats."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = float(answer)
    expect(isinstance(answer, (int, float, np.floating, np.integer)) and not isinstance(answer, bool),
           f"Expected a number (nats), got {type(answer).__name__}.")
    value = float(answer)
    expect(math.isfinite(value) and value >= 0, f"{value} cannot be a KL divergence: it is never negative.")
    reference = logits_of(model, images)
    with ablated(model, list(units)):
        zeroed = logits_of(model, images)
    truth = prediction_change(reference, zeroed).kl
    expect(abs(value - truth) <= 1e-3 * truth + 1e-7,
           f"{value:.6f} nats is not the mean KL(intact || zero-ablated) on these images.",
           "Zero ablation is ablated(model, units) with no mode; KL(p || q) = sum p (log p - log q), averaged over images. "
           "Check the order (intact first) and that you average, not sum.")
    return passed(f"zero-ablating the units moves the predictions by {truth:.5f} nats on average.")


@exercise
def check_top_attribution(model: CircuitModel, unit: str | Unit, image: torch.Tensor, position: tuple[int, int], answer: object) -> bool:
    """Exercise 3: the input channel with the largest activation x weight contribution to ``unit`` at ``position``."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1 and not answer.is_floating_point():
        answer = int(answer)
    expect(isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
           f"Expected a channel number (int), got {type(answer).__name__}.",
           "Use int(...) on the argmax of the attribution's per_input row.")
    found = attribution(model, unit, image, [tuple(position)])
    row = found.per_input[0]
    channel = int(answer)
    expect(0 <= channel < row.numel(), f"{found.input_layer} has channels 0..{row.numel() - 1}; {channel} is not one of them.")
    best = int(row.argmax())
    expect(channel == best, f"{found.input_layer}:{channel} contributes {float(row[channel]):+.3f}; another input contributes more.",
           "Sum each input's map over positions (per_input) and take the largest, not the largest activation or weight alone.")
    return passed(f"{found.input_layer}:{channel} carries {float(row[channel]):+.3f} of {found.unit}'s input there.")
