"""Figures for the dog-head lesson: dog imagery, mirror-test scores, union weights and cross-path weights; section 7's
union read off the weights (printed and drawn in one call); and the lines that print a student's result beside the
lesson's (a line asking for the exercise while it is not written)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..union_weights import PairWeights, PathwayInhibition, pair_weights, pathway_inhibition, union_summary
from . import draw_weight_heatmap, images_figure

LABEL_COLOURS = {"left": "tab:blue", "right": "tab:red", "invariant": "tab:gray", "silent": "white"}


def mirror_scores_figure(groups: dict[str, "object"], threshold: float = 1 / 3) -> Figure:
    """Left scores of several mirror tests side by side (one panel per test, e.g. per layer), coloured by label."""
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3), squeeze=False, sharey=True)
    for ax, (title, test) in zip(axes[0], groups.items()):
        scores = test.left_score.numpy()
        colours = [LABEL_COLOURS[label] for label in test.labels]
        ax.bar(range(len(scores)), scores, color=colours, edgecolor="black", linewidth=0.5)
        ax.axhline(threshold, color="tab:blue", linestyle="--", linewidth=0.8)
        ax.axhline(-threshold, color="tab:red", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(scores)))
        ax.set_xticklabels([str(u.channel) for u in test.units], rotation=90, fontsize=7)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(title, fontsize=9)
    axes[0, 0].set_ylabel("left score  (+1 left only, -1 right only)")
    fig.tight_layout()
    return fig


def union_scatter_figure(left_net: np.ndarray, right_net: np.ndarray, highlight: Sequence[int] = (), title: str = "") -> Figure:
    """Net weight from the left-leaning units against net weight from the right-leaning ones, one dot per downstream unit."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.scatter(left_net, right_net, s=8, color="tab:gray", alpha=0.6)
    for index in highlight:
        ax.scatter([left_net[index]], [right_net[index]], s=40, color="tab:purple")
        ax.annotate(str(index), (left_net[index], right_net[index]), fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("net weight from left-leaning units")
    ax.set_ylabel("net weight from right-leaning units")
    ax.set_title(title or "union candidates: top right quadrant", fontsize=9)
    fig.tight_layout()
    return fig


def union_weights_figure(summary: "object") -> Figure:
    """The target's kernels from the left units and from the right units (summed over each set), on one colour scale."""
    fig, axes = plt.subplots(1, 2, figsize=(4.4, 2.4))
    vmax = float(torch.maximum(summary.left_map.abs().max(), summary.right_map.abs().max())) or 1.0
    draw_weight_heatmap(axes[0], summary.left_map, f"from left units\nnet {summary.left_net:+.2f}", vmax=vmax)
    draw_weight_heatmap(axes[1], summary.right_map, f"from right units\nnet {summary.right_net:+.2f}", vmax=vmax)
    fig.suptitle(f"into {summary.target}", fontsize=9)
    fig.tight_layout()
    return fig


def inhibition_figure(inhibition: "object") -> Figure:
    """The real same-side and cross weights between mirrored pathways against those of shuffled pairings."""
    fig, ax = plt.subplots(figsize=(6, 2.6))
    for values, real, colour, name in ((inhibition.shuffled_same, inhibition.same, "tab:blue", "same side"),
                                       (inhibition.shuffled_cross, inhibition.cross, "tab:red", "cross")):
        ax.hist(values, bins=30, color=colour, alpha=0.4, label=f"{name}, shuffled pairings")
        ax.axvline(real, color=colour, linewidth=2, label=f"{name}, mirror pairs")
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("mean net weight (units of the mean |net weight|)")
    ax.set_ylabel("pairings")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pair_pictures_figure(result: "object", count: int = 4) -> Figure:
    """The first ``count`` pairs of a :class:`~helpers.mirror.PairPictures`, one row of three per pair: A's picture,
    its mirror image (with B's response to it) and B's picture (with B's response to A's picture as given)."""
    panels, titles = [], []
    for (a, b), (on_mirror, on_image) in zip(result.pairs[:count], result.answers[::2].tolist()):
        panels += [result.pictures[a], result.pictures[a].flip(-1), result.pictures[b]]
        titles += [f"A = {a}", f"mirror(A's image)\nB answers {on_mirror:.2f}", f"B = {b}\n(A's image: {on_image:.2f})"]
    return images_figure(panels, titles, ncols=6, size=2.0, stretch=True)


def oriented_and_invariant_figure(test: "object", pictures: dict) -> Figure:
    """The most oriented and the most mirror-invariant unit of a :class:`~helpers.mirror.MirrorTest` of units on their
    own pictures (:func:`~helpers.mirror.own_image_test`), each with its picture, the mirror image, and its response
    to both (read from the test). Needs at least two units."""
    if len(test.units) < 2:
        raise ValueError(f"Need at least two units to compare, got {len(test.units)}.")
    order = torch.argsort(test.left_score.abs(), descending=True)
    panels, titles = [], []
    for row in (int(order[0]), int(order[-1])):
        unit = test.units[row]
        panels += [pictures[unit], pictures[unit].flip(-1)]
        titles += [f"{unit}\nas given: {float(test.on_left[row, 0]):.2f}", f"mirrored: {float(test.on_right[row, 0]):.2f}"]
    return images_figure(panels, titles, size=2.2, stretch=True)


def dog_imagery_figure(model: "object", visualizations: torch.Tensor, classes: Sequence[int]) -> Figure | None:
    """The dog-class visualizations titled with their class labels; None (no figure) when there are none."""
    if not len(visualizations):
        return None
    return images_figure(list(visualizations), [model.labels[i] for i in classes], size=2.0, stretch=True)


def union_report(model: "object", pairs: Sequence[tuple], targets: Sequence, layer: str) -> PairWeights | None:
    """Section 7 of lesson 05: print how many active mirror-invariant units ``layer`` has (``targets``), read the net
    weights from both members of each mirror pair into them (:func:`~helpers.union_weights.pair_weights`), print the
    median correlation between the weights from A and from B against A with another pair's B, and show the most even
    union (its kernels from A and B, and every pair's two weights into it). Returns the weights, or None (with a line
    saying so) when there are no pairs or no invariant units."""
    print(f"{layer}: {len(targets)} active mirror-invariant units")
    if not pairs or not targets:
        print("No pairs or no invariant units: no union to read.")
        return None
    weights = pair_weights(model, pairs, targets)
    symmetry, shuffled = weights.symmetry(), weights.symmetry(shuffled=True)
    print(f"correlation over {len(pairs)} pairs between the weight from A and from B: median {float(symmetry.median()):+.2f} "
          f"(A with another pair's B: {float(shuffled.median()):+.2f})")
    target, pair_index = weights.most_even()  # the largest weaker weight of a pair's two members
    union_unit, (a, b) = weights.targets[target], weights.pairs[pair_index]
    summary = union_summary(model, [a], [b], union_unit)
    print(f"Most even union: {union_unit} takes {summary.left_net:+.3f} from {a} and {summary.right_net:+.3f} from {b}")
    union_weights_figure(summary)
    union_scatter_figure(weights.from_a[target].numpy(), weights.from_b[target].numpy(), [pair_index],
                         title=f"{union_unit}: net weight from A (x) and from B (y), one dot per pair")
    return weights


def inhibition_report(model: "object", first: "object", second: "object", first_pairs: Sequence[tuple],
                      second_pairs: Sequence[tuple], *, draws: int) -> PathwayInhibition | None:
    """Section 8 of lesson 05: the same-side and cross weights between the mirror pairs of two layers against ``draws``
    shuffled pairings (:func:`~helpers.union_weights.pathway_inhibition`, on the mirror tests ``first`` and ``second``
    of every unit of each layer), printed and drawn. Returns the measurement, or None (with a line saying so) when a
    layer has no mirror pairs."""
    if not first_pairs or not second_pairs:
        print(f"Mirror pairs in {first.units[0].layer}: {len(first_pairs)}, in {second.units[0].layer}: "
              f"{len(second_pairs)}: no pathways to compare on this model.")
        return None
    inhibition = pathway_inhibition(model, first, second, first_pairs, second_pairs, draws=draws)
    print(f"{len(first_pairs)} pairs in {first.units[0].layer}, {len(second_pairs)} in {second.units[0].layer}: "
          f"{inhibition.describe()}")
    inhibition_figure(inhibition)
    return inhibition


# --- a student's result beside the lesson's ------------------------------------------------------------------------


def _unwritten(answer: object) -> bool:
    """Is the answer still the exercise's placeholder (None or ``...``)?"""
    return answer is None or answer is Ellipsis


def copies_beside_the_course(best: object, copies: "object", layer: str) -> None:
    """Exercise 6's follow-up: the share of units with a rotated copy (best r above 0.5) and the median best r from a
    student's ``best`` (one number per unit) beside section 9's :class:`~helpers.weights.equivariance.TransformedCopies`."""
    if _unwritten(best):
        print("Write my_transform_weights (exercise 3) and my_best_copy first; then this cell repeats section 9's rotation "
              "search with your two functions.")
        return
    best = torch.as_tensor(best, dtype=torch.float64).flatten()
    print(f"{layer}, a quarter turn: with your functions {float((best > 0.5).double().mean()):.0%} of the units have "
          f"a copy (median best r {float(best.median()):.2f}); section 9: {copies.share_with_copy(0.5):.0%} "
          f"(median {float(np.median(copies.copy)):.2f})")


def partner_answers_beside_the_course(mine: object, paired: "object", layer: str) -> None:
    """Exercise 7's follow-up: in how many directed pairs a student's (2P, 2) answers have the partner answer the mirror
    image more, beside section 6's :class:`~helpers.mirror.PairPictures` of ``layer``."""
    if not paired.pairs:
        print(f"No mirror pairs in {layer}: nothing to test with your function.")
    elif _unwritten(mine):
        print("Write my_partner_answers (exercise 7) to repeat section 6's test of the pairs with your own function.")
    else:
        mine = torch.as_tensor(mine, dtype=torch.float64).reshape(-1, 2)
        print(f"With your function the partner answers the mirror image more in {int((mine[:, 0] > mine[:, 1]).sum())} of "
              f"{len(mine)} directed pairs; section 6: {sum(paired.wins)} of {len(paired.wins)}")


def mirror_pairs_beside_the_course(mine: object, partners: "object", pairs: Sequence) -> None:
    """Exercise 8's follow-up: how many mutual mirror pairs a student's selection finds among ``partners``' units, and
    the share of units in one, beside section 6's ``pairs``."""
    if _unwritten(mine):
        print("Write my_mirror_pairs (exercise 8) to count section 6's mirror pairs with your own function.")
        return
    units = len(partners.units)
    print(f"{partners.layer}: with your function {len(mine)} mutual mirror pairs ({2 * len(mine) / units:.0%} of the "
          f"units); section 6: {len(pairs)} ({2 * len(pairs) / units:.0%})")


def union_reading_beside_the_course(mine: object, weights: PairWeights | None) -> None:
    """Exercise 9's follow-up: a student's (symmetry, shuffled, most even) read from section 7's weights, beside the
    lesson's medians and most even union; a line saying why not when there are no weights or no answer yet."""
    if weights is None:
        print("Section 7 found no pairs or no invariant units: no weights to read with your function.")
        return
    if _unwritten(mine) or any(_unwritten(part) for part in mine):
        print("Write my_union_reading (exercise 9) to read section 7's union with your own function.")
        return
    symmetry, shuffled, (target, pair) = mine
    print(f"With your function: median {float(torch.as_tensor(symmetry).median()):+.2f} (another pair's B: "
          f"{float(torch.as_tensor(shuffled).median()):+.2f}), most even union {weights.targets[int(target)]} with pair "
          f"{int(pair)}")
    course_target, course_pair = weights.most_even()
    print(f"Section 7:          median {float(weights.symmetry().median()):+.2f} (another pair's B: "
          f"{float(weights.symmetry(shuffled=True).median()):+.2f}), most even union {weights.targets[course_target]} "
          f"with pair {course_pair}")
