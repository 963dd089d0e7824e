"""Lesson 09's measurements, one call each where the lesson shows the result rather than the procedure: the first
layer's filter types beside the untrained twin's, a unit's strongest images as training went on, the screens' counts,
the recurrence of units across seeds with its baselines, the banding table and the band profile's gaps, the curve
family's branch census on the active model, and the lines that print a student's result beside the course's. The
procedures themselves live in :mod:`helpers.universality`, :mod:`helpers.weights.banding`, :mod:`helpers.branches`,
:mod:`helpers.census` and :mod:`helpers.training`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .activations import capture
from .branches import BranchCensus, branch_census
from .families import Family, find_curve_family
from .layers import curve_layer
from .models import CircuitModel
from .training import NORMALIZE_MEAN, NORMALIZE_STD, TrainingResult
from .training.evaluation import ClassAccuracy
from .universality import classify_filters, filter_type_counts, first_layer_filters, format_table, recurrence_by_layer


def against_twin(mine: float, twins: float, bar: float) -> tuple[bool, str]:
    """A claim's verdict and evidence: passes when your network reaches the bar and the untrained twin does not."""
    return mine >= bar and twins < bar, f"your network {mine:.2f}, untrained twin {twins:.2f}, bar {bar:.2f}"


# --- sections 2-5: the network beside its twin -----------------------------------------------------------------------

def most_frequent_mistake(confusion: object, classes: Sequence[str]) -> str:
    """One line: the most frequent (true, predicted) pair off the diagonal of a confusion matrix (rows: true class)."""
    counts = torch.as_tensor(np.asarray(confusion)).clone()
    right = counts.diagonal().clone()
    wrong = counts.fill_diagonal_(0)
    truth, guess = divmod(int(wrong.argmax()), len(classes))
    return (f"The most frequent mistake on fresh shapes: {classes[truth]} taken for {classes[guess]} "
            f"({int(wrong.max())} of {int(wrong[truth].sum() + right[truth])} images).")


def accuracy_summary(accuracy: Mapping[str, ClassAccuracy], classes: Sequence[str], chance: float) -> str:
    """One line per network: its mean accuracy beside chance, and its hardest class with that class's interval."""
    lines = []
    for name, result in accuracy.items():
        hard = result.hardest()
        lines.append(f"{name:15s} mean accuracy {result.mean():.0%} (chance {chance:.0%}); hardest class: {classes[hard]} "
                     f"({result.values[hard]:.0%}, 95% interval {result.low[hard]:.0%}-{result.high[hard]:.0%} over "
                     f"{result.counts[hard]} images)")
    return "\n".join(lines)


def intervals_beside(yours: Sequence[object], ours: ClassAccuracy, classes: Sequence[str]) -> str:
    """One line per class: a student's (accuracy, low, high) beside the course's, with the class's image count."""
    accuracy, low, high = (np.asarray(values, dtype=float) for values in yours)
    return "\n".join(f"{name:9s} yours {accuracy[c]:.1%} [{low[c]:.1%}, {high[c]:.1%}]; the course's {ours.values[c]:.1%} "
                     f"[{ours.low[c]:.1%}, {ours.high[c]:.1%}] over {ours.counts[c]} images" for c, name in enumerate(classes))


def first_layer_counts(networks: Mapping[str, CircuitModel]) -> dict[str, dict[str, int]]:
    """Per network, how many of its first-layer filters are of each type (lesson 08's classifier)."""
    return {name: filter_type_counts(classify_filters(first_layer_filters(net))) for name, net in networks.items()}


def filter_counts_summary(counts: Mapping[str, Mapping[str, int]], mine: str = "your network",
                          control: str = "untrained twin") -> str:
    """The filter-type table, then the oriented and colour-contrast counts of ``mine`` beside the ``control``'s."""
    ours, theirs = counts[mine], counts[control]
    lines = [format_table([{"network": name, **values} for name, values in counts.items()]),
             f"Oriented filters: {ours['oriented']} in {mine}, {theirs['oriented']} in the {control}; colour contrast: "
             f"{ours['colour contrast']} and {theirs['colour contrast']}."]
    if dict(ours) == dict(theirs):
        lines.append("The counts are the same as for random filters: at this size, the first layer's filters do not "
                     "tell training apart.")
    return "\n".join(lines)


def purity_summary(purity: Mapping[str, np.ndarray]) -> str:
    """One line per network: how many units fire, and their mean class purity."""
    lines = []
    for name, values in purity.items():
        alive = np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))]
        lines.append(f"{name:15s} {len(alive)} units fire; mean share {alive.mean() if len(alive) else float('nan'):.2f}")
    return "\n".join(lines)


def peaks_by_stage(result: TrainingResult, twin: CircuitModel, images: torch.Tensor, layer: str) -> dict[str, torch.Tensor]:
    """Every unit's peak (over positions) on each image, (images, units), in the network after its first epoch, half-way,
    at the end, and in the untrained twin: what the unit explorer shows."""
    epochs = len(result.checkpoints)
    stages = {f"after epoch {e}": result.after_epoch(e) for e in sorted({1, (epochs + 1) // 2}) if e < epochs}
    networks = {**stages, f"your network (epoch {epochs})": result.model, "untrained twin": twin}
    with torch.no_grad():
        return {name: capture(net, images, layer)[layer].amax(dim=(2, 3)) for name, net in networks.items()}


# --- sections 6-7: screens and recurrence ----------------------------------------------------------------------------

def screen_table(screens: Mapping[str, tuple[Mapping[str, Family], Mapping[str, Family]]]) -> str:
    """One row per network: the size of its curve and high-low families per layer (``small_net_families``'s output)."""
    return format_table([{"network": name, **{f"curves {layer}": len(f) for layer, f in curves.items()},
                          **{f"high-low {layer}": len(f) for layer, f in high_low.items()}}
                         for name, (curves, high_low) in screens.items()])


def describe_family(family: Family) -> str:
    """The family's table when it has two members or more, else a line saying there is no family to plot."""
    if len(family) >= 2:
        return family.table()
    return f"No curve family to plot: the largest has {len(family)} member(s), in {family.layer}."


def seed_recurrence(pairs: Mapping[str, tuple[CircuitModel, CircuitModel]], images: torch.Tensor,
                    shuffled_label: str = "trained, images shuffled") -> dict[str, dict[str, float]]:
    """Per pair of networks, each layer's mean best-match correlation (lesson 08's matching), then, under
    ``shuffled_label``, the first pair's after shuffling which image the second network saw (the chance baseline)."""
    recurrence = {name: recurrence_by_layer(a, b, images) for name, (a, b) in pairs.items()}
    recurrence[shuffled_label] = recurrence_by_layer(*next(iter(pairs.values())), images, shuffled=True)
    return recurrence


def recurrence_table(recurrence: Mapping[str, Mapping[str, float]]) -> str:
    """One row per pair (or baseline): its mean best-match correlation per layer."""
    return format_table([{"pair": name, **{layer: f"{value:.2f}" for layer, value in values.items()}}
                         for name, values in recurrence.items()])


def layers_gained(trained: Mapping[str, float], untrained: Mapping[str, float], margin: float) -> list[str]:
    """The layers whose trained pair matches better than the untrained pair by more than ``margin``."""
    return [layer for layer in trained if trained[layer] > untrained[layer] + margin]


def recurrence_summary(recurrence: Mapping[str, Mapping[str, float]], margin: float = 0.1,
                       trained: str = "trained seeds 0 / 1", untrained: str = "untrained seeds 0 / 1") -> str:
    """:func:`recurrence_table`, then a line naming the layers where the ``trained`` pair matches better than the
    ``untrained`` pair by more than ``margin`` (:func:`layers_gained`)."""
    gained = layers_gained(recurrence[trained], recurrence[untrained], margin)
    return (f"{recurrence_table(recurrence)}\nLayers where trained seeds match clearly better (by more than {margin}) than "
            f"untrained ones: {', '.join(gained) or 'none'}")


# --- section 8: weight banding ---------------------------------------------------------------------------------------

def banding_table(banding: Mapping[str, tuple[float, float]], chance: float) -> str:
    """One row per network: its horizontal and vertical band shares and their gap, then chance's share."""
    table = format_table([{"network": name, "horizontal": f"{h:.3f}", "vertical": f"{v:.3f}",
                           "horizontal - vertical": f"{h - v:+.3f}"} for name, (h, v) in banding.items()])
    return f"{table}\nchance for random kernels of this size: {chance:.3f} each"


@dataclass
class ProfileGaps:
    """The horizontal minus vertical band shares that section 8's claim on the active model reads from two profiles."""

    last_path: str
    last: float  #: the trained network's last spatial convolution
    random: float  #: the same convolution in the random-weights copy
    middle: float  #: the largest gap among the trained network's middle convolutions (neither first nor last); NaN if none
    horizontal: float
    vertical: float

    def describe(self, model_name: str) -> str:
        return (f"{model_name}'s last spatial convolution {self.last_path}: horizontal {self.horizontal:.3f}, vertical "
                f"{self.vertical:.3f} (gap {self.last:+.3f}); random-weights copy gap {self.random:+.3f}; largest gap "
                f"among the middle layers {self.middle:+.3f}")


def profile_gaps(trained: Sequence[tuple[str, float, float]], random: Sequence[tuple[str, float, float]]) -> ProfileGaps:
    """The gaps of two band profiles (``band_profile`` of the trained network and of its random-weights copy)."""
    path, horizontal, vertical = trained[-1]
    middle = [h - v for _, h, v in trained[1:-1]]
    _, random_h, random_v = random[-1]
    return ProfileGaps(path, horizontal - vertical, random_h - random_v, max(middle, default=float("nan")), horizontal,
                       vertical)


def band_profiles(model: CircuitModel) -> tuple[dict[str, list[tuple[str, float, float]]], ProfileGaps]:
    """The band profile (``band_profile``) of ``model`` and of its random-weights copy, and their gaps
    (:func:`profile_gaps`: horizontal - vertical of the last spatial convolution, of the copy's, of the middle ones)."""
    from .weights.banding import band_profile
    from .zoo import load_model

    random_copy = load_model(model.name, weights="random", verbose=False)
    profiles = {"trained": band_profile(model), "random-weights copy": band_profile(random_copy)}
    return profiles, profile_gaps(profiles["trained"], profiles["random-weights copy"])


# --- section 9 and exercise 10: the active model's census, the twin recalibrated --------------------------------------

def curve_family_census(model: CircuitModel) -> BranchCensus | None:
    """Where the curve family that lesson 02's screen finds in the model's curve layer sits among that layer's
    branches; None for a model without a branched layer."""
    if not any(layer.branches for layer in model.layers):
        return None
    family = find_curve_family(model, curve_layer(model), progress=False)
    return branch_census(model.layer(curve_layer(model)), family.channels)


def censuses_table(censuses: Mapping[str, BranchCensus]) -> str:
    """One line per family census: its label, then :meth:`BranchCensus.describe`."""
    return "\n".join(f"{label:18s} {census.describe()}" for label, census in censuses.items())


def census_line(model_name: str, census: BranchCensus | None) -> str:
    """The active model's curve-family census in one line (:func:`curve_family_census`), or why there is none."""
    if census is None:
        return f"{model_name} has no branched layer (one path through every block): no branch census on this model."
    return f"{model_name} {census.layer}, the curve units the screen finds: {census.describe()}"


def twin_agreement(module: nn.Module, twin: CircuitModel, images: torch.Tensor) -> float:
    """The share of ``images`` (in [0, 1]) to which a plain module (taking the small networks' normalized images) gives
    the class the wrapped ``twin`` gives."""
    mean = torch.tensor(NORMALIZE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(NORMALIZE_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        mine = module((images.cpu() - mean) / std).argmax(1)
        theirs = twin(images).argmax(1).cpu()
    return float((mine == theirs).float().mean())


# --- what we verified ------------------------------------------------------------------------------------------------

def own_model_verdicts(accuracy: Mapping[str, ClassAccuracy], chance: float, purity: Mapping[str, np.ndarray],
                       recurrence: Mapping[str, Mapping[str, float]], banding: Mapping[str, tuple[float, float]],
                       active_bands: ProfileGaps, model_name: str, census: BranchCensus | None) -> dict[str, tuple[bool, str]]:
    """Lesson 09's claims measured, each (passed, detail): ``"learned"`` (accuracy against four times ``chance``),
    ``"purity"`` (conv4's class purity against 0.5), ``"recurrence"`` (conv4's best-match correlation across seeds
    against 0.6), each :func:`against_twin`; ``"banding"`` (conv4's horizontal - vertical gap of 0.03 or more on upright
    shapes only), ``"active bands"`` (the active model's last spatial convolution against its random-weights copy, gap
    0.1) and, for a model with a census, ``"census"`` (a branch holding 80% of five units or more, p < 0.01)."""
    gap = {name: h - v for name, (h, v) in banding.items()}  # horizontal - vertical share of conv4
    verdicts = {
        "learned": against_twin(accuracy["your network"].mean(), accuracy["untrained twin"].mean(), 4 * chance),
        "purity": against_twin(float(np.nanmean(purity["your network"])), float(np.nanmean(purity["untrained twin"])), 0.5),
        "recurrence": against_twin(recurrence["trained seeds 0 / 1"]["conv4"], recurrence["untrained seeds 0 / 1"]["conv4"], 0.6),
        "banding": (gap["upright shapes"] >= 0.03 and gap["upright shapes, flatten head"] < 0.03 and gap["untrained twin"] < 0.03,
                    "horizontal - vertical: " + ", ".join(f"{name} {value:+.3f}" for name, value in gap.items())),
        "active bands": (active_bands.last >= 0.1 and active_bands.random < 0.1, active_bands.describe(model_name)),
    }
    if census is not None:
        enriched = census.most_enriched
        verdicts["census"] = (census.size >= 5 and census.share(enriched.branch) >= 0.8 and census.p_value < 0.01,
                              f"{census.size} units; {enriched.branch} holds {census.share(enriched.branch):.0%} "
                              f"({enriched.expected:.1f} expected by chance); p = {census.p_value:.1e}")
    return verdicts
