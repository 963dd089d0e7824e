"""Lesson 08's measurements in one call each: the unit-matching table and the numbers behind each universality claim.

* :func:`unit_matches_with_controls`: section 4's best matches of the active model's units in every other network, at
  several relative depths, beside three baselines (B's images shuffled, B's random-weights copy, both random copies),
  and the printed table of their means.
* :func:`model_roster`: section 1's list of the networks compared.
* :func:`filter_split_table` and :func:`cka_depth_table`: section 2's and section 5's printed tables.
* The ``*_verdict`` functions: what each claim of lesson 08 compares, as ``(passed, measured)`` for
  :meth:`helpers.claims.Claims.check`. The thresholds are the claims': a trained network against its random copy.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from . import universality  # as a module: lesson 08's exercise 4 withholds shuffled_match while the student's runs
from .census import filter_split
from .families import Family
from .layers import layer_at_depth
from .models import CircuitModel

#: Section 4's matchings of one pair of layers: trained A with trained B, with B's images shuffled, with B's random
#: copy, and A's random copy with B's random copy.
MatchRow = tuple[universality.UnitMatch, universality.UnitMatch, universality.UnitMatch, universality.UnitMatch]


def unit_matches_with_controls(model: CircuitModel, others: Sequence[CircuitModel],
                               recorded: Mapping[str, universality.Representations],
                               recorded_control: Mapping[str, universality.Representations],
                               depths: Sequence[float]) -> tuple[dict[tuple[str, float], MatchRow], str]:
    """Best matches of ``model``'s units in each of ``others`` at each relative depth, with the three baselines.

    ``recorded`` and ``recorded_control`` hold every network's (and every random copy's) responses to the same images,
    keyed by network name. Returns ``{(other name, depth): (trained, shuffled, B random, both random)}`` and the table
    of their mean best correlations, one line per pair of layers.
    """
    cells = recorded[model.name].grid ** 2
    matches: dict[tuple[str, float], MatchRow] = {}
    lines = [f"{'':<46}{'trained':>9}{'shuffled':>10}{'B random':>10}{'both random':>13}"]
    for other in others:
        for depth in depths:
            layer_a, layer_b = layer_at_depth(model, depth), layer_at_depth(other, depth)
            a, b = recorded[model.name].responses(layer_a), recorded[other.name].responses(layer_b)
            a_random = recorded_control[model.name].responses(layer_a)
            b_random = recorded_control[other.name].responses(layer_b)
            matches[other.name, depth] = (universality.match_units(a, b),
                                          universality.shuffled_match(a, b, samples_per_image=cells, seed=0),
                                          universality.match_units(a, b_random),
                                          universality.match_units(a_random, b_random))
            lines.append(f"{model.name}:{layer_a} -> {other.name}:{layer_b}".ljust(46)
                         + "".join(f"{m.mean_best:>{w}.2f}" for m, w in zip(matches[other.name, depth], (9, 10, 10, 13))))
    return matches, "\n".join(lines)


def model_roster(models: Sequence[CircuitModel], active: CircuitModel, present: Sequence[str]) -> str:
    """Section 1's list: the optional models found on disk (``present``), then one line per model (layers, input
    size, trained or random weights), the ``active`` one marked."""
    lines = [f"Optional models with weights on disk: {list(present) or 'none (run `make weights` online to add them)'}"]
    for m in models:
        lines.append(f"{m.name:<20} {len(m.layers):>3} layers, {m.input_size} px input, "
                     f"{'trained' if m.trained else 'RANDOM'} weights{'   <- the active model' if m is active else ''}")
    return "\n".join(lines)


def filter_split_table(properties: Mapping[str, Sequence[universality.FilterProperties]]) -> str:
    """Section 2's table: for each named set of first-layer filters, the shares :func:`~helpers.census.filter_split`
    gives (almost pure colour, almost pure grey, either, oriented)."""
    lines = [f"{'':<34}{'pure colour':>12}{'pure grey':>11}{'either':>8}{'oriented':>10}"]
    for name, props in properties.items():
        lines.append(f"{name:<34}" + "".join(f"{value:>{width}.0%}" for value, width in zip(filter_split(props), (12, 11, 8, 10))))
    return "\n".join(lines)


def cka_depth_table(name: str, trained: Mapping[str, universality.CKAResult],
                    random_copies: Mapping[str, universality.CKAResult]) -> str:
    """Section 5's lines: model ``name`` against each other network (``trained``, keyed by name) and its random copy
    (``random_copies``): the same-depth and distant-depth CKA and the share of layers whose partner is at their depth."""
    lines = []
    for other in trained:
        for label, result in (("trained", trained[other]), ("random copy", random_copies[other])):
            matched, distant = result.matched_vs_mismatched()
            lines.append(f"{name} vs {other:<18} {label:<12} CKA at the same depth {matched:.2f}, at distant depths "
                         f"{distant:.2f}; same-depth partner for {result.same_depth_partner():.0%} of layers")
    return "\n".join(lines)


def colour_split_verdict(trained: Sequence[universality.FilterProperties],
                         random_copy: Sequence[universality.FilterProperties]) -> tuple[bool, str]:
    """Does the trained stem hold almost pure colour or grey filters far more often than its random copy (at least
    three times as often, and 25 points more)?"""
    trained_split, random_split = filter_split(trained), filter_split(random_copy)
    return (trained_split[2] >= max(3 * random_split[2], random_split[2] + 0.25),
            f"almost pure colour or grey: {trained_split[2]:.0%} of filters, random copy {random_split[2]:.0%}")


def curve_family_verdict(curve: Family, curve_random: Family) -> tuple[bool, str]:
    """A curve family that covers the circle (no gap over 90°) with at least 5 members and three times its random
    copy's."""
    return (len(curve) >= max(3 * len(curve_random), 5) and curve.largest_gap() <= 90,
            f"{len(curve)} members at {curve.layer} (largest gap {curve.largest_gap():.0f}°); random copy {len(curve_random)}")


def high_low_family_verdict(high_low: Family, high_low_random: Family) -> tuple[bool, str]:
    """A high-low family with at least 5 members and three times its random copy's."""
    return (len(high_low) >= max(3 * len(high_low_random), 5),
            f"{len(high_low)} members at {high_low.layer}; random copy {len(high_low_random)}")


def same_depth_cka_verdict(trained: universality.CKAResult, random_copy: universality.CKAResult) -> tuple[bool, str]:
    """Is the same-depth CKA with the trained network at least 0.2 above the same-depth CKA with its random copy?"""
    matched, matched_random = trained.matched_vs_mismatched()[0], random_copy.matched_vs_mismatched()[0]
    return matched >= matched_random + 0.2, f"same-depth CKA {matched:.2f}, with the random copy {matched_random:.2f}"


def depth_partner_verdict(trained: universality.CKAResult, random_copy: universality.CKAResult) -> tuple[bool, str]:
    """Do at least 80% of the layers find their most similar layer of the trained network at the same depth?"""
    return (trained.same_depth_partner() >= 0.8,
            f"{trained.same_depth_partner():.0%} of layers (random copy: {random_copy.same_depth_partner():.0%})")


def match_gain_verdict(matches: Mapping[float, MatchRow]) -> tuple[bool, str]:
    """At every depth (``{depth: a row of unit_matches_with_controls}``), is the mean best match with the trained
    network at least 0.1 above the mean best match with its random copy?"""
    gains = {depth: row[0].mean_best - row[2].mean_best for depth, row in matches.items()}
    return min(gains.values()) >= 0.1, "best-match gain over the random copy: " + ", ".join(
        f"{gain:+.2f} at {depth:.0%}" for depth, gain in gains.items())


def oriented_verdict(trained: Sequence[universality.FilterProperties],
                     random_copy: Sequence[universality.FilterProperties]) -> tuple[bool, str]:
    """Are the trained stem's filters classified oriented at least 20 points more often than its random copy's?"""
    oriented, oriented_random = filter_split(trained)[3], filter_split(random_copy)[3]
    return oriented >= oriented_random + 0.2, f"oriented: {oriented:.0%} of filters, random copy {oriented_random:.0%}"


def curve_layer_verdict(curve: Family, curve_random: Family, layer: str) -> tuple[bool, str]:
    """A curve family at ``layer`` with at least 5 members and three times its random copy's."""
    return (curve.layer == layer and len(curve) >= max(5, 3 * len(curve_random)),
            f"{len(curve)} members, random copy {len(curve_random)}")
