"""What every family of units shares: a :class:`Screen` of a whole layer and the :class:`Family` picked from it.

A family is a set of units of one layer that answer one kind of stimulus, each preferring one
orientation around the circle: curve detectors, high-low frequency detectors, colour-contrast
detectors. Every family module follows the same three steps:

1. ``screen_<kind>(model, layer, ...)``: every unit of the layer against the family's stimuli and
   controls, in one batched pass, scored unit by unit (a :class:`Screen`);
2. ``<kind>_family(screen, ...)``: the units that pass the family's thresholds (no new forward pass);
3. ``find_<kind>_family(model, layer, ...)``: both at once.

A subclass of :class:`Screen` adds the family's own measurements and says which one is its
``selectivity``; a subclass of :class:`Family` lists, with :func:`member_field`, the per-unit numbers
its members carry and, with :class:`Threshold`, the rules a member passes. Everything else (pick,
tuning, table, spread, strongest, responses, subset, summary) works the same for every family, and
:func:`find_family` sends each option of ``find_<kind>_family`` to the screen or to the pick.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence, TypeVar

import numpy as np
import torch

from ..arguments import whole_number
from ..config import paper_families
from ..models import CircuitModel, Unit
from ..paper import article_family
from ..probing import Placement, unit_responses
from ..tuning import largest_gap

FamilyT = TypeVar("FamilyT", bound="Family")


@dataclass(frozen=True)
class Threshold:
    """One of a family's membership rules: a unit's ``attribute`` on the screen must reach the threshold (exceed it
    when ``strict``). It is set with the option ``name`` (default ``min_<attribute>``), else it is ``default``.
    A flag (e.g. ``every_seed``) is a threshold of ``False``: ``True`` asks every member to have it."""

    attribute: str
    default: float | bool
    strict: bool = False
    name: str = ""

    @property
    def option(self) -> str:
        """The keyword that sets this threshold, e.g. ``min_curve_selectivity``."""
        return self.name or f"min_{self.attribute}"

    def passes(self, screen: "Screen", value: float | bool) -> np.ndarray:
        """(C,) whether each unit of the screen passes this rule at ``value``."""
        values = np.asarray(getattr(screen, self.attribute))
        return values > value if self.strict else values >= value


def member_field(**options: Any) -> Any:
    """A per-member field of a :class:`Family` subclass: an array with one entry per member, copied from the
    screen's array of the same name for the chosen units (and kept in step by :meth:`Family.subset`)."""
    return field(metadata={"per_member": True}, **options)


@dataclass(kw_only=True)
class Screen:
    """Every unit of one layer measured against one family's stimuli: per-unit arrays of shape (C,).

    ``orientations`` are the stimulus orientations (O,), degrees; ``preferred`` each unit's preferred
    orientation; ``score`` how well it fits the family (0 for units that do not fire).
    """

    layer: str
    placement: Placement
    pre_activation: bool
    orientations: np.ndarray  # (O,)
    orientation_selectivity: np.ndarray  # (C,)
    preferred: np.ndarray  # (C,) degrees
    score: np.ndarray  # (C,)

    #: The name of the family's defining selectivity (an attribute of the screen), e.g. "curve_selectivity".
    selectivity_name: ClassVar[str] = ""

    @property
    def selectivity(self) -> np.ndarray:
        """(C,) the family's defining selectivity (``selectivity_name``), in [-1, 1]."""
        return getattr(self, self.selectivity_name)

    @property
    def channels(self) -> int:
        """The number of units screened (the layer's channels)."""
        return len(self.score)

    def tuning(self) -> np.ndarray:
        """Orientation tuning curves (O, C) of every unit over ``orientations``."""
        raise NotImplementedError

    def baseline(self) -> np.ndarray:
        """(C,) the response every measurement is relative to (the blank image's, or 0 for raw responses)."""
        return np.zeros(self.channels)

    def chosen(self, passes: np.ndarray, max_units: int | None = None) -> np.ndarray:
        """The channels that pass (a (C,) mask): the best ``max_units`` by score, then sorted by preferred orientation."""
        picked = np.flatnonzero(passes)
        picked = picked[np.argsort(-self.score[picked], kind="stable")][:max_units]
        return picked[np.argsort(self.preferred[picked], kind="stable")]


@dataclass(kw_only=True)
class Family:
    """A layer's units of one kind, sorted by preferred orientation (counter-clockwise from 0 = right).

    ``units``, ``orientations`` (each member's preferred orientation, degrees),
    ``orientation_selectivity`` and ``score`` are shared by every family; subclasses add their own
    per-member numbers with :func:`member_field`.
    """

    layer: str
    units: list[Unit]
    orientations: np.ndarray = member_field()  # (F,) degrees
    orientation_selectivity: np.ndarray = member_field()  # (F,)
    score: np.ndarray = member_field()  # (F,)
    screen: Screen = field(repr=False)

    #: What the family is called in tables ("curve", "high-low", ...).
    kind: ClassVar[str] = ""
    #: The membership rules (each set by its option, e.g. ``min_curve_selectivity=0.6``); see :meth:`pick`.
    thresholds: ClassVar[tuple[Threshold, ...]] = ()
    #: Extra table columns: (header, attribute, format) for per-member numbers beyond orientation and scores.
    columns: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    @classmethod
    def pick(cls: type[FamilyT], screen: Screen, max_units: int | None = None, **thresholds: float | bool) -> FamilyT:
        """The family picked from a finished screen (no new forward pass): the units that pass every rule of
        :attr:`thresholds` (each at its default unless given here), at most ``max_units`` of them by score."""
        if max_units is not None:
            max_units = whole_number(max_units, "max_units", minimum=1)
        passes = cls.passes(screen, **thresholds)  # checks the thresholds before the screen is read
        return cls.from_screen(screen, screen.chosen(passes, max_units))

    @classmethod
    def passes(cls, screen: Screen, **thresholds: float | bool) -> np.ndarray:
        """(C,) whether each unit of ``screen`` passes every rule of :attr:`thresholds` (each at its default unless given)."""
        unknown = set(thresholds) - cls.threshold_options()
        if unknown:
            raise TypeError(f"Unknown threshold(s) {', '.join(sorted(unknown))} for a {cls.kind} family; "
                            f"allowed: {', '.join(sorted(cls.threshold_options()))} and max_units.")
        nan = [name for name, value in thresholds.items() if isinstance(value, float) and not math.isfinite(value)]
        if nan:
            raise ValueError(f"Threshold(s) {', '.join(nan)} must be finite numbers, got "
                             f"{', '.join(repr(thresholds[n]) for n in nan)}: NaN fails every comparison.")
        passes = np.ones(screen.channels, dtype=bool)
        for rule in cls.thresholds:
            passes &= rule.passes(screen, thresholds.get(rule.option, rule.default))
        return passes

    @classmethod
    def threshold_options(cls) -> set[str]:
        """The keywords that set the family's thresholds."""
        return {rule.option for rule in cls.thresholds}

    @classmethod
    def from_screen(cls: type[FamilyT], screen: Screen, channels: Sequence[int]) -> FamilyT:
        """The family of the given channels of a finished screen, every per-member number read from the screen."""
        channels = np.asarray(channels, dtype=int)
        values = {f.name: np.asarray(getattr(screen, f.name))[channels] for f in cls._member_fields() if f.name != "orientations"}
        return cls(layer=screen.layer, units=[Unit(screen.layer, int(c)) for c in channels],
                   orientations=np.asarray(screen.preferred)[channels], screen=screen, **values)

    @classmethod
    def _member_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.metadata.get("per_member")]

    def __len__(self) -> int:
        return len(self.units)

    @property
    def channels(self) -> list[int]:
        """The members' channel indices, in family order."""
        return [u.channel for u in self.units]

    @property
    def selectivity(self) -> np.ndarray:
        """(F,) each member's value of the family's defining selectivity (see :attr:`Screen.selectivity`)."""
        return self.screen.selectivity[self.channels]

    @property
    def fraction(self) -> float:
        """The share of the layer's units that are members."""
        return len(self.units) / self.screen.channels

    def largest_gap(self) -> float:
        """The widest arc of orientations (degrees) that no member prefers."""
        return largest_gap(self.orientations)

    def tuning(self) -> np.ndarray:
        """The members' orientation tuning curves (O, F) over ``screen.orientations``."""
        return self.screen.tuning()[:, self.channels]

    def responses(self, model: CircuitModel, images: torch.Tensor) -> np.ndarray:
        """The members' responses (N, F) to images drawn at the screen's placement, relative to the screen's baseline."""
        values = unit_responses(model, self.units, images, pre_activation=self.screen.pre_activation)
        return values.numpy().astype(np.float64) - self.screen.baseline()[self.channels]

    def subset(self: FamilyT, indices: Sequence[int]) -> FamilyT:
        """The members at ``indices`` (positions in this family), in that order, as a family."""
        keep = [int(i) for i in indices]
        values = {f.name: np.asarray(getattr(self, f.name))[keep] for f in self._member_fields()}
        return dataclasses.replace(self, units=[self.units[i] for i in keep], **values)

    def strongest(self, count: int) -> list[Unit]:
        """The ``count`` members with the highest score, best first."""
        return [self.units[i] for i in np.argsort(-self.score, kind="stable")[:count]]

    def spread(self: FamilyT, count: int) -> FamilyT:
        """At most ``count`` members spread around the circle: the best-scoring one in each of ``count`` equal sectors."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}.")
        sectors = np.floor((self.orientations % 360) / (360 / count)).astype(int)
        keep = [int(np.flatnonzero(sectors == s)[np.argmax(self.score[sectors == s])]) for s in np.unique(sectors)]
        return self.subset(keep)

    def table(self) -> str:
        """One line per member: unit, preferred orientation, the family's selectivities, ready to print."""
        header = f"{'unit':<16} {'orientation':>11} {self.screen.selectivity_name.replace('_', ' '):>22} {'orient. sel.':>12}"
        header += "".join(f" {name:>{max(len(name), 8)}}" for name, _, _ in self.columns)
        rows = [header]
        for i, unit in enumerate(self.units):
            row = f"{str(unit):<16} {self.orientations[i]:>10.0f}° {self.selectivity[i]:>22.2f} {self.orientation_selectivity[i]:>12.2f}"
            row += "".join(f" {format(getattr(self, attribute)[i], spec):>{max(len(name), 8)}}" for name, attribute, spec in self.columns)
            rows.append(row)
        if not self.units:
            rows.append("(no member: no unit passed the screen's thresholds)")
        return "\n".join(rows)

    def summary(self, model: CircuitModel) -> dict[str, object]:
        """One row for a table comparing families across models: size, coverage of the circle, mean selectivity."""
        return {
            "model": model.name, "family": self.kind, "layer": self.layer, "depth": round(model.depth_fraction(self.layer), 2),
            "units": len(self), "of": model.channels(self.layer), "largest gap": round(self.largest_gap()),
            "selectivity": round(float(np.mean(self.selectivity)), 2) if len(self) else float("nan"),
        }


def find_family(
    model: CircuitModel,
    layer: str,
    screen: Callable[..., Screen],
    family: type[FamilyT],
    options: dict[str, object],
    *,
    drawing: type | None = None,
) -> FamilyT:
    """Run a family's screen on ``layer`` and pick its members: what every ``find_<kind>_family`` does.

    Each option goes where it is named: into the screen's ``drawing`` settings (a frozen dataclass, when the
    family has one) if it is one of its fields, else to ``screen`` if its signature has it (what is drawn and
    read), to :meth:`Family.pick` if it is one of the family's thresholds or ``max_units`` (to both when both
    name it; a screen that takes ``thresholds`` gets them all as a dict); an option none knows raises an
    error that lists the allowed ones. Under ``CIRCUITS_PAPER_FAMILIES=1`` (time estimates), an InceptionV1
    layer's family is the article's units (:func:`helpers.config.paper_families`).
    """
    drawing_names = {f.name for f in dataclasses.fields(drawing)} if drawing else set()
    screen_names = set(inspect.signature(screen).parameters) - {"model", "layer", "drawing", "thresholds"}
    pick_names = family.threshold_options() | {"max_units"}
    unknown = set(options) - drawing_names - screen_names - pick_names
    if unknown:
        raise TypeError(f"Unknown option(s) {', '.join(sorted(unknown))} for {screen.__name__} / a {family.kind} family; "
                        f"allowed: {', '.join(sorted(drawing_names | screen_names | pick_names))}.")
    thresholds = {k: v for k, v in options.items() if k in family.threshold_options()}
    extra: dict[str, object] = {k: v for k, v in options.items() if k in screen_names}
    if drawing:
        extra["drawing"] = drawing(**{k: v for k, v in options.items() if k in drawing_names})
    if "thresholds" in inspect.signature(screen).parameters:
        extra["thresholds"] = thresholds
    finished = screen(model, layer, **extra)
    listed = article_family(family.kind, layer) if paper_families() and model.name == "inceptionv1" else None
    if listed:  # a time estimate at the article's family size (CIRCUITS_PAPER_FAMILIES=1), whatever the screen found
        channels = np.asarray(listed)
        return family.from_screen(finished, channels[np.argsort(np.asarray(finished.preferred)[channels], kind="stable")])
    return family.pick(finished, **{k: v for k, v in options.items() if k in pick_names})
