"""A lesson's claims about the paper, checked on the active model and reported claim by claim.

A *claim* is something a network without the learned feature would fail. Each lesson collects its
claims in one :class:`Claims` object and reports them in its "What we verified" cell::

    claims = Claims("02_curve_detectors", model)

    @claims.claim("The family tiles the circle: no gap between preferred orientations wider than 75°")
    def _():
        gap = family.largest_gap()
        return gap <= 75, f"largest gap {gap:.0f}°"

    claims.check("Members prefer curves to lines on held-out stimuli", kept >= 0.6, f"{kept:.0%} of members")
    claims.report()

A claim that raises counts as failed (its error is the measurement), so a lesson never stops on a
scientific negative: ``report()`` prints the table and raises only in strict mode (``CIRCUITS_STRICT=1``,
which CI sets for the trained model), never for the random-weights control. When
``CIRCUITS_CLAIMS_LOG`` names a folder, ``report()`` also writes ``<lesson>.json`` there, so CI can
set each claim's result on the trained model beside its result on the control
(``scripts/claims_table.py``).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .config import is_fast, is_strict
from .files import write_atomically
from .models import CircuitModel


class ClaimsFailed(AssertionError):
    """Raised by :meth:`Claims.report` in strict mode when a claim fails on a trained model."""


@dataclass(frozen=True)
class Claim:
    """One claim's outcome: its statement, whether it held, what was measured.

    ``learned`` claims depend on the active model's learned weights, so the random-weights control
    must fail them; the others test something the lesson builds itself (a toy model trained live, a
    dictionary) and carry their own control inside the measurement.
    """

    statement: str
    passed: bool
    measured: str
    learned: bool = True


@dataclass
class Claims:
    """The claims of one lesson on one model, collected as they are checked and reported together."""

    lesson: str
    model: CircuitModel
    results: list[Claim] = field(default_factory=list)

    def check(self, statement: str, passed: bool, measured: str = "", *, learned: bool = True) -> bool:
        """Record a claim whose outcome is already computed; returns whether it held."""
        if any(claim.statement == statement for claim in self.results):
            raise ValueError(f"The claim {statement!r} was checked twice in {self.lesson}; give each claim its own statement.")
        self.results.append(Claim(statement, bool(passed), measured, learned))
        return bool(passed)

    def claim(self, statement: str, *, learned: bool = True) -> Callable[[Callable[[], "tuple[bool, str] | bool"]], bool]:
        """Decorator: run the function now and record its ``(passed, measured)``; an error counts as a failure."""

        def run(test: Callable[[], "tuple[bool, str] | bool"]) -> bool:
            try:
                outcome = test()
            except Exception as error:  # a claim that cannot even be measured on this model has failed
                return self.check(statement, False, f"could not be measured: {type(error).__name__}: {error}", learned=learned)
            passed, measured = outcome if isinstance(outcome, tuple) else (outcome, "")
            return self.check(statement, passed, measured, learned=learned)

        return run

    @property
    def failed(self) -> list[Claim]:
        """The claims that did not hold."""
        return [claim for claim in self.results if not claim.passed]

    def table(self) -> str:
        """The claims as a plain-text table: outcome, statement, measurement."""
        kind = "trained weights" if self.model.trained else "RANDOM weights (negative control)"
        lines = [f"Claims of {self.lesson} on {self.model.name}, {kind}, {'fast' if is_fast() else 'full'} mode:"]
        for claim in self.results:
            mark = "PASS" if claim.passed else "FAIL"
            lines.append(f"  [{mark}] {claim.statement}" + (f"\n         measured: {claim.measured}" if claim.measured else ""))
        held = len(self.results) - len(self.failed)
        lines.append(f"  {held} of {len(self.results)} claims hold.")
        if not self.model.trained:
            lines.append("  On random weights, claims about learned features are expected to FAIL: that is the control.")
        return "\n".join(lines)

    def report(self) -> "Claims":
        """Print the table, log it for CI when asked, and in strict mode raise if a claim failed on a trained model."""
        if not self.results:
            raise ValueError(f"{self.lesson} checked no claims: call claims.check(...) or @claims.claim(...) first.")
        print(self.table())
        self._write_log()
        if is_strict() and self.model.trained and self.failed:
            raise ClaimsFailed(f"{len(self.failed)} claim(s) of {self.lesson} failed on {self.model.name}: "
                               + "; ".join(f"{c.statement} ({c.measured})" for c in self.failed))
        return self

    def _write_log(self) -> None:
        folder = os.environ.get("CIRCUITS_CLAIMS_LOG", "").strip()
        if not folder:
            return
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        record = {"lesson": self.lesson, "model": self.model.name, "trained": self.model.trained, "fast": is_fast(),
                  "claims": [asdict(claim) for claim in self.results]}
        write_atomically(path / f"{self.lesson}.json",
                         lambda temporary: temporary.write_text(json.dumps(record, indent=1), encoding="utf-8"))
