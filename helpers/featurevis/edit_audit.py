"""Did an edit change what a unit does on natural images? The audit that catches (or misses) a fooled unit.

A unit edited to fool its feature visualization (lesson 11, :func:`helpers.featurevis.trust.fooled_copy`) should
still answer photographs as before. Two numbers say whether it does: the correlation of its responses to the same
photographs before and after the edit, and how many of its top photographs it keeps (its dataset examples).
:func:`natural_agreement` computes both from two response vectors; :func:`audit_edit` measures the responses of an
original and an edited model and applies it to held-out photographs (correlation) and to the scanned ones (top-``count`` overlap).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models import CircuitModel, Unit
from .trust import unit_means


def natural_agreement(before: torch.Tensor, after: torch.Tensor, count: int) -> tuple[float, int]:
    """(Pearson correlation of ``before`` and ``after``, number of indices shared by their top-``count`` values).

    ``before`` and ``after`` are one unit's responses (N,) to the same N images, before and after an edit.
    """
    if before.shape != after.shape or before.dim() != 1 or not 0 < count <= before.shape[0]:
        raise ValueError(f"natural_agreement needs two (N,) responses and 0 < count <= N, got {tuple(before.shape)}, "
                         f"{tuple(after.shape)}, count={count}.")
    correlation = float(torch.corrcoef(torch.stack([before, after]))[0, 1])
    top_before = set(torch.topk(before, count).indices.tolist())
    return correlation, len(top_before & set(torch.topk(after, count).indices.tolist()))


@dataclass
class EditAudit:
    """What an edit did to a unit on natural images: ``correlation`` on held-out photographs, ``shared`` of the
    ``count`` top scanned photographs kept, and the edited unit's responses to the scanned photographs (``scan_after``)."""

    correlation: float
    shared: int
    count: int
    scan_before: torch.Tensor
    scan_after: torch.Tensor

    def describe(self, likeness: dict[str, float], latch: float) -> str:
        """Lesson 11's report of a fooled unit: this audit's two numbers, each visualization's ``likeness`` to the
        chosen picture (by name) and the likeness above which the edit's gate ``latch``-es open."""
        return "\n".join([
            f"held-out photographs: correlation of the unit's responses before and after the edit {self.correlation:.4f}",
            f"likeness of each visualization to the smiley: {({k: round(v, 2) for k, v in likeness.items()})}",
            f"the latch opens above likeness {latch:.2f} (the most smiley-like scanned photograph plus the margin)",
            f"top-{self.count} natural examples shared by the original and the edited unit: {self.shared} of {self.count}"])


def audit_edit(model: CircuitModel, edited: CircuitModel, unit: Unit, held: torch.Tensor, scan: torch.Tensor,
               count: int = 8) -> EditAudit:
    """Compare ``unit`` in ``model`` and in ``edited``: response correlation on ``held`` and top-``count`` overlap on ``scan``."""
    correlation, _ = natural_agreement(unit_means(model, unit, held), unit_means(edited, unit, held), count)
    scan_before, scan_after = unit_means(model, unit, scan), unit_means(edited, unit, scan)
    _, shared = natural_agreement(scan_before, scan_after, count)
    return EditAudit(correlation, shared, count, scan_before, scan_after)
