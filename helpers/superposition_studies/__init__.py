"""Lesson 07's measurements, one call each where the lesson shows the result rather than the procedure: the toy
models' middle regime and sticky fractions, the three tests of a sparse dictionary (a toy model's known directions
recovered, a real layer's dictionary against its units, a curve layer's directions against its neurons, each with
its controls), and a student's result printed beside the course's. Each of the lesson's claims is measured by one
``verdict`` returning ``(passed, detail)``: a method of these results, or a function of :mod:`.toy_models` for the toy
models. The procedures themselves live in :mod:`helpers.superposition`, :mod:`helpers.dictionary` and
:mod:`helpers.polysemanticity`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from ..dictionary import (
    PeakCodes, SparseDictionary, best_match, dictionary_account, random_directions, sample_positions, shuffle_units,
    spread_over_units, top_loading_share, train_sparse_dictionary,
)
from ..families import CurveFamily, curve_family
from ..polysemanticity import FeatureMaps, code_facet_scores
from ..superposition import (
    ToyModelSweep, feature_norms, held_out_toy_loss, represented_features, sample_features,
)
from ..tuning import largest_gap
from .toy_models import (
    antipodal_verdict, middle_model, neurons_verdict, pentagon_verdict, regime_ends, regime_verdict, sticky_summary,
    sticky_verdict,
)

__all__ = [  # the toy-model measurements and verdicts live in .toy_models; the lesson imports them from here
    "antipodal_verdict", "middle_model", "neurons_verdict", "pentagon_verdict", "regime_ends", "regime_verdict",
    "sticky_summary", "sticky_verdict", "ToyRecovery", "kept_feature_cosines", "toy_recovery", "LayerDictionary",
    "layer_dictionary", "FacetComparison", "facet_comparison", "CurveDirections", "curve_directions",
    "beside_the_course", "recovery_with_step", "units_beside_the_course", "partners_beside_the_course",
    "training_beside_the_course",
]


# --- a dictionary where the answer is known: a toy model's hidden activations ----------------------------------------

@dataclass
class ToyRecovery:
    """A sparse dictionary trained on a toy model's hidden activations, against the directions the model really uses.

    ``recovered`` is each kept feature's best cosine with a dictionary direction; ``baselines`` the same for the
    activations' principal axes (both signs) and for as many random directions as the dictionary has."""

    activations: torch.Tensor  # (N, m): what the toy model's hidden dimensions hold
    features: torch.Tensor  # (N, n): the true sparse features behind them
    dictionary: SparseDictionary
    kept_directions: torch.Tensor  # (kept, m): the represented features' directions (||W_i|| > 0.5)
    recovered: torch.Tensor  # (kept,)
    baselines: dict[str, torch.Tensor]

    def summary(self) -> str:
        """Two lines: the median best cosines of the dictionary and the baselines; sparsity and variance rebuilt."""
        medians = ", ".join(f"{name} {float(v.median()):.3f}" for name, v in self.baselines.items())
        return (f"{len(self.kept_directions)} features kept in {self.activations.shape[1]} dimensions; median best "
                f"cosine: dictionary {float(self.recovered.median()):.3f}, {medians}\n"
                f"{self.dictionary.active_per_input(self.activations):.2f} dictionary features active per input "
                f"({float((self.features > 0).sum(1).float().mean()):.2f} true features); "
                f"{self.dictionary.explained_variance(self.activations):.1%} of the variance rebuilt")

    def verdict(self, *, times: float = 2, min_cosine: float = 0.95, margin: float = 0.2) -> tuple[bool, str]:
        """The dictionary recovers more than ``times`` as many kept features as the model has dimensions (median best
        cosine above ``min_cosine``), beating every baseline's median by more than ``margin``; the detail is
        :meth:`summary`."""
        median = float(self.recovered.median())
        beats = all(median > float(v.median()) + margin for v in self.baselines.values())
        return len(self.kept_directions) > times * self.activations.shape[1] and median > min_cosine and beats, \
            self.summary()


def kept_feature_cosines(activations: torch.Tensor, directions: torch.Tensor, weights: torch.Tensor,
                         threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """How well a set of ``directions`` (k, m) (a dictionary's) finds a toy model's represented features (the columns
    of ``weights`` (m, n) longer than ``threshold``), against the principal axes of the model's hidden
    ``activations`` (N, m), centred, taken with both signs: per kept feature, its best cosine with a direction, and
    with a principal axis (two (kept,) tensors, 1 = found). What the toy test of :func:`toy_recovery` measures."""
    kept = weights.T[feature_norms(weights) > threshold]
    _, _, principal = torch.linalg.svd(activations - activations.mean(0), full_matrices=False)
    return best_match(directions, kept), best_match(torch.cat([principal, -principal]), kept)


def toy_recovery(weights: torch.Tensor, sparsity: float, *, features: int, l1: float, steps: int, lr: float = 1e-2,
                 count: int = 8192, seed: int = 0, progress: bool = True) -> ToyRecovery:
    """Train a dictionary of ``features`` directions on ``count`` hidden activations ``W x`` of a toy model (weights
    (m, n), inputs of ``sparsity``) and measure how well it finds the model's kept feature directions, against two
    baselines. Seeds: ``seed + 1`` draws the inputs, ``seed`` trains the dictionary, ``seed + 2`` the random
    directions."""
    true_features = sample_features(count, weights.shape[-1], [sparsity], torch.Generator().manual_seed(seed + 1))[0]
    activations = true_features @ weights.T
    dictionary = train_sparse_dictionary(activations, features, l1=l1, lr=lr, steps=steps,
                                         generator=torch.Generator().manual_seed(seed), progress=progress)
    kept = weights.T[feature_norms(weights) > 0.5]
    recovered, principal = kept_feature_cosines(activations, dictionary.directions, weights, 0.5)
    random = torch.randn(features, weights.shape[0], generator=torch.Generator().manual_seed(seed + 2))
    baselines = {"principal axes (±)": principal, "random directions": best_match(random, kept)}
    return ToyRecovery(activations, true_features, dictionary, kept, recovered, baselines)


# --- a dictionary of a real layer, against its units -----------------------------------------------------------------

@dataclass
class LayerDictionary:
    """A dictionary of a real layer's activation vectors, with the counts that say whether it is a sparse basis: the
    units and the features active at a typical position, the variance rebuilt of the vectors and of the same
    vectors shuffled unit by unit (the control: which units fire together is lost), and the dead features."""

    activations: torch.Tensor  # (N, units)
    dictionary: SparseDictionary
    codes: torch.Tensor  # (N, features)
    units_active: float
    features_active: float
    rebuilt: float
    rebuilt_shuffled: float
    dead_features: int  # active on fewer than 0.1% of the vectors

    def summary(self) -> str:
        """Two lines: the sizes, then the active counts and the variance rebuilt (of the vectors, of the shuffled)."""
        return (f"{len(self.activations)} activation vectors of {self.dictionary.units} units -> "
                f"{self.dictionary.features} dictionary features\n"
                f"active at a typical position: {self.units_active:.0f} units, {self.features_active:.1f} dictionary "
                f"features; {self.rebuilt:.1%} of the variance rebuilt ({self.rebuilt_shuffled:.1%} of shuffled "
                f"activations' variance); {self.dead_features} dead features (active on under 0.1% of the vectors)")

    def verdict(self, *, fewer: float = 10, min_rebuilt: float = 0.5, margin: float = 0.1) -> tuple[bool, str]:
        """Fewer than 1/``fewer`` as many features active as units, more than ``min_rebuilt`` of the variance rebuilt,
        and more than ``margin`` above the shuffled vectors' share; the detail is :meth:`summary`."""
        rebuilt = self.rebuilt
        return self.features_active < self.units_active / fewer and rebuilt > min_rebuilt and \
            rebuilt > self.rebuilt_shuffled + margin, self.summary()


def layer_dictionary(maps: torch.Tensor, *, per_image: int, l1: float, lr: float, steps: int, batch_size: int,
                     features: int | None = None, seed: int = 0, progress: bool = True) -> LayerDictionary:
    """Train a dictionary (as many features as units unless ``features``) on up to ``per_image`` positions drawn from
    each image's map of ``maps`` (images, units, H, W) (seed ``seed``), and measure it, against the same vectors
    shuffled unit by unit (seed ``seed + 1``)."""
    activations = sample_positions(maps, per_image=per_image, generator=torch.Generator().manual_seed(seed))
    dictionary = train_sparse_dictionary(activations, features or activations.shape[1], l1=l1, lr=lr, steps=steps,
                                         batch_size=batch_size, generator=torch.Generator().manual_seed(seed),
                                         progress=progress)
    shuffled = shuffle_units(activations, torch.Generator().manual_seed(seed + 1))
    features_active, rebuilt, dead = dictionary_account(activations, dictionary, min_share=1e-3)
    return LayerDictionary(activations, dictionary, dictionary.encode(activations),
                           float((activations > 0).sum(1).float().mean()), features_active, rebuilt,
                           dictionary_account(shuffled, dictionary)[1], dead)


@dataclass
class FacetComparison:
    """The facet scores of a layer's units and of a dictionary's features, each column scored from its ``count`` top
    images the same way (NaN: active on fewer images), so that the two distributions compare."""

    units: torch.Tensor  # (units,)
    features: torch.Tensor  # (features,)
    count: int

    def most_polysemantic(self) -> int:
        """The unit with the highest facet score (0 when none was scored)."""
        return int(self.units.nan_to_num(float("-inf")).argmax()) if bool(self.units.isfinite().any()) else 0

    def summary(self) -> str:
        """The two medians, and how many units and features were active on enough images to be scored."""
        return (f"median facet score: units {float(self.units.nanmedian()):.3f} ({int(self.units.isfinite().sum())} "
                f"active on at least {self.count} images), dictionary features {float(self.features.nanmedian()):.3f} "
                f"({int(self.features.isfinite().sum())} of {len(self.features)})")

    def verdict(self, *, margin: float = 0.1) -> tuple[bool, str]:
        """The features' median facet score is lower than the units' by more than ``margin`` (their top examples are
        more alike)."""
        units, feats = float(self.units.nanmedian()), float(self.features.nanmedian())
        return feats < units - margin, f"median facet score: features {feats:.3f}, units {units:.3f}"


def facet_comparison(peaks: dict[str, PeakCodes], features: FeatureMaps, count: int) -> FacetComparison:
    """:func:`helpers.polysemanticity.code_facet_scores` of ``peaks["units"]`` and ``peaks["features"]`` (from
    :func:`helpers.dictionary.peaks_of_maps`), each column from its ``count`` top images."""
    return FacetComparison(code_facet_scores(peaks["units"], features, count),
                           code_facet_scores(peaks["features"], features, count), count)


# --- directions of the curve layer, against its curve neurons --------------------------------------------------------

@dataclass
class CurveDirections:
    """Directions of a curve layer put through the curve neurons' screen: a dictionary's live directions and two
    controls (a dictionary of the same vectors shuffled unit by unit, and as many random directions)."""

    neurons: CurveFamily
    dictionary: SparseDictionary
    vectors: torch.Tensor
    direction_sets: dict[str, torch.Tensor]  # name -> (count, units)
    curve_like: dict[str, CurveFamily]  # name -> the curve-like directions among them (lesson 02's thresholds)

    @property
    def neuron_gap(self) -> float:
        """The curve neurons' largest orientation gap (degrees)."""
        return self.neurons.largest_gap()

    @property
    def pooled_gap(self) -> dict[str, float]:
        """Per set: the largest orientation gap of the curve neurons and the set's curve-like directions together."""
        return {name: largest_gap(list(self.neurons.orientations) + list(found.orientations))
                for name, found in self.curve_like.items()}

    def counts(self) -> dict[str, int]:
        """Per set: how many curve-like directions the screen found."""
        return {name: len(found) for name, found in self.curve_like.items()}

    def count_verdict(self, *, min_found: int = 10, times: float = 3) -> tuple[bool, str]:
        """The screen finds at least ``min_found`` curve-like dictionary directions, at least ``times`` as many as among
        the random directions (``times`` when those have none), and more than in the shuffled-data dictionary; the
        detail is :meth:`summary`."""
        counts = self.counts()
        found, control, chance = counts["dictionary"], counts["shuffled-data dictionary"], counts["random directions"]
        return found >= min_found and found >= times * max(chance, 1) and found > control, self.summary()

    def gap_verdict(self, *, margin: float = 5) -> tuple[bool, str]:
        """With two or more curve neurons, the curve-like dictionary directions shrink the neurons' largest orientation
        gap by more than ``margin`` degrees, and to less than the random directions do; the detail is
        :meth:`summary`."""
        ours, chance = self.pooled_gap["dictionary"], self.pooled_gap["random directions"]
        return len(self.neurons) >= 2 and ours < self.neuron_gap - margin and ours < chance, self.summary()

    def spread_verdict(self, *, min_median: float = 2) -> tuple[bool, str]:
        """The curve-like dictionary directions need ``min_median`` or more units (median) to hold half their squared
        length, and their largest loading is on a curve neuron more often than the random directions' is."""
        leaning = self.leaning(self.neurons.channels)  # per set: the share whose largest loading is on a curve neuron
        counts = self.spread(0.5)["dictionary"]
        median = float(counts.float().median()) if len(counts) else 0.0
        ours, chance = leaning["dictionary"], leaning["random directions"]
        return median >= min_median and ours > chance, (
            f"median units holding half: {median:.0f}; largest loading on a curve neuron: dictionary {ours:.0%}, "
            f"random directions {chance:.0%}, shuffled-data dictionary {leaning['shuffled-data dictionary']:.0%}")

    def leaning(self, channels: Iterable[int]) -> dict[str, float]:
        """Per set: the share of its curve-like directions whose largest loading is on one of ``channels`` (for
        example the curve neurons; :func:`helpers.dictionary.top_loading_share`)."""
        channels = set(channels)
        return {name: top_loading_share(self.direction_sets[name], found.channels, channels)
                for name, found in self.curve_like.items()}

    def spread(self, share: float = 0.5) -> dict[str, torch.Tensor]:
        """Per set: how many units hold ``share`` of each curve-like direction's squared length
        (:func:`helpers.dictionary.spread_over_units`)."""
        return {name: spread_over_units(self.direction_sets[name], found.channels, share)
                for name, found in self.curve_like.items()}

    def spread_summary(self, share: float = 0.5) -> str:
        """One line per set: the median count of units holding ``share`` of a curve-like direction, and how many need
        two or more."""
        lines = []
        for name, counts in self.spread(share).items():
            lines.append(f"{name:26s} units holding {share:.0%} of a curve-like direction: median "
                         f"{float(counts.float().median()):.0f}, {int((counts >= 2).sum())} of {len(counts)} need two "
                         "or more" if len(counts) else f"{name:26s} no curve-like direction")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line for the dictionary, one for the neurons' gap and one per set of directions."""
        lines = [f"dictionary: {self.dictionary.active_per_input(self.vectors):.1f} features active per position, "
                 f"{self.dictionary.explained_variance(self.vectors):.1%} of the variance rebuilt",
                 f"largest orientation gap of the {len(self.neurons)} curve neurons alone: {self.neuron_gap:.0f}°"]
        for name, found in self.curve_like.items():
            lines.append(f"{name:26s} {len(found):4d} curve-like of {len(self.direction_sets[name])} live directions "
                         f"{found.polarity_counts()}; largest gap with the neurons: {self.pooled_gap[name]:.0f}°")
        return "\n".join(lines)


def curve_directions(vectors: torch.Tensor, neurons: CurveFamily, *, features: int, l1: float, steps: int,
                     lr: float = 1e-3, batch_size: int = 256, seed: int = 0, progress: bool = True) -> CurveDirections:
    """Train a dictionary on a curve layer's activation ``vectors`` (N, units), and one on the same vectors shuffled
    unit by unit (seed ``seed + 1``); draw as many random directions (seed ``seed + 2``); screen the dictionaries' live
    directions and the random ones with the neurons' screen (``neurons.screen.along``, no forward pass) and keep the
    curve-like ones. The screen must have read the values the dictionary trains on (``pre_activation=False``)."""
    def train(data: torch.Tensor) -> SparseDictionary:
        return train_sparse_dictionary(data, features, l1=l1, lr=lr, steps=steps, batch_size=batch_size,
                                       generator=torch.Generator().manual_seed(seed), progress=progress)

    dictionary, shuffled = train(vectors), shuffle_units(vectors, torch.Generator().manual_seed(seed + 1))
    direction_sets = {  # live directions: features active on at least 0.1% of the vectors (the rest never learned)
        "dictionary": dictionary.live_directions(vectors),
        "shuffled-data dictionary": train(shuffled).live_directions(shuffled),
        "random directions": random_directions(features, vectors.shape[1], torch.Generator().manual_seed(seed + 2)),
    }
    curve_like = {name: curve_family(neurons.screen.along(directions)) for name, directions in direction_sets.items()}
    return CurveDirections(neurons, dictionary, vectors, direction_sets, curve_like)


# --- a student's result beside the course's --------------------------------------------------------------------------

def _shown(value: object, digits: int) -> object:
    """A result as printed beside the course's: tensors as lists, floats rounded to ``digits``."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_shown(item, digits) for item in value]
    return round(value, digits) if isinstance(value, float) else value


def beside_the_course(what: str, yours: object, course: object, *, exercise: int, digits: int = 3) -> None:
    """Print a student's result (``yours``) above the course's on the lesson's own data, or, while the answer is not
    written (None or ``...``, also inside a list), a line asking for exercise ``exercise`` first."""
    items = list(yours) if isinstance(yours, (list, tuple)) else [yours]
    if any(item is None or item is Ellipsis for item in items):
        print(f"Write exercise {exercise} above to see your {what} here.")
        return
    width = len(what) + 15
    print(f"{f'your {what}:':<{width}}{_shown(yours, digits)}")
    print(f"{f'the course' + chr(39) + f's {what}:':<{width}}{_shown(course, digits)}")


def recovery_with_step(toy: ToyRecovery, step: Callable[..., float], *, l1: float, steps: int, lr: float = 1e-2,
                       seed: int = 0, progress: bool = True) -> float | None:
    """The toy test again with a student's training ``step`` inside the course's loop (the same start and batches as
    :func:`toy_recovery` with ``seed``): print the median best cosine of its dictionary with the kept features beside
    the course's, and return it; None, with a line saying so, when the step is not written yet or fails."""
    try:
        yours = train_sparse_dictionary(toy.activations, toy.dictionary.features, l1=l1, lr=lr, steps=steps,
                                        generator=torch.Generator().manual_seed(seed), progress=progress, step=step)
    except Exception as error:  # the step is not written yet, or fails: say so and go on
        print(f"Training with your step stopped ({type(error).__name__}: {error}). Write my_dictionary_step above.")
        return None
    median = float(best_match(yours.directions, toy.kept_directions).median())
    print(f"median best cosine with the toy model's kept features: your dictionary {median:.3f}, the course's "
          f"{float(toy.recovered.median()):.3f}")
    return median


def units_beside_the_course(units_to_hold: Callable[[torch.Tensor, float], object], curve: CurveDirections,
                            share: float = 0.5) -> None:
    """Print a student's ``units_to_hold`` (exercise 7) on the curve-like dictionary directions of ``curve`` beside
    the course's counts (:meth:`CurveDirections.spread`), or a line when the dictionary has none."""
    found = curve.curve_like["dictionary"]
    if len(found) == 0:
        print("The dictionary has no curve-like direction on this model: nothing to count.")
        return
    beside_the_course("counts", units_to_hold(curve.direction_sets["dictionary"][found.channels], share),
                      curve.spread(share)["dictionary"], exercise=7)


def partners_beside_the_course(partners: object, sweep: ToyModelSweep, index: int, pairs: int) -> None:
    """Print a student's antipodal partners (per feature, -1 for none) in one model of a 5-in-2 sweep beside the pairs
    the lesson counted there, and the D_i of the features paired; a line asking for exercise 8 while unwritten."""
    if partners is None or partners is Ellipsis:
        print("Write my_antipodal_partners above to find the pairs yourself.")
        return
    partners = torch.as_tensor(partners)
    print(f"S = {float(sweep.sparsities[index]):.3f}: your partners {partners.tolist()}; {int((partners >= 0).sum())} "
          f"features with a partner, against the lesson's {pairs} antipodal pairs (two features each)")
    print("D_i of the features you paired:", [round(d, 3) for d in sweep.dimensionality[index][partners >= 0].tolist()])


def training_beside_the_course(yours: tuple[torch.Tensor, torch.Tensor] | None, sweep: ToyModelSweep, index: int,
                               seed: int = 9) -> None:
    """Print a student's trained toy model (weights, bias) beside the sweep's model ``index`` trained at the same
    sparsity: the features each keeps and its loss on the same fresh features (drawn with ``seed``)."""
    sparsity = float(sweep.sparsities[index])

    def readout(weights: torch.Tensor, bias: torch.Tensor) -> list:
        return [int(represented_features(weights)), held_out_toy_loss(weights, bias, sparsity, sweep.importance,
                                                                      torch.Generator().manual_seed(seed))]
    beside_the_course(f"features kept and loss at S = {sparsity:.3f}", yours and readout(*yours),
                      readout(sweep.weights[index], sweep.biases[index]), exercise=10, digits=5)
