"""Ablation experiments: what silencing units does to a layer's clients and to the network's predictions."""
from __future__ import annotations

from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import torch

from ..activations import capture
from ..arguments import whole_number
from ..models import CircuitModel, Unit
from . import edits
from .edits import ablated

if TYPE_CHECKING:
    from ..dataset_examples import DatasetExamples
    from ..images import ImageSource


@dataclass(frozen=True)
class ClientProbe:
    """Stimuli in named groups (e.g. curves, lines, natural patches) and the units whose responses we follow.

    The last image is the blank image: responses are taken relative to it ("evoked"), so an
    intervention that only shifts a client's resting level does not count as changing what it sees.
    """

    units: list[Unit]
    images: torch.Tensor  # (N, 3, H, W), the blank image last
    groups: dict[str, tuple[int, int]]  # name -> (start, stop) rows of images
    pre_activation: bool = True

    def evoked(self, responses: np.ndarray, group: str) -> np.ndarray:
        """Responses (n, U) to one group of stimuli minus the response to the blank image."""
        start, stop = self.groups[group]
        return responses[start:stop] - responses[-1]


def make_probe(units: Sequence[Unit], groups: dict[str, torch.Tensor], blank: torch.Tensor, *, pre_activation: bool = True) -> ClientProbe:
    """A :class:`ClientProbe` from named groups of images (each (n, 3, H, W)) and the blank image (3, H, W)."""
    rows, start = {}, 0
    for name, images in groups.items():
        rows[name] = (start, start + len(images))
        start += len(images)
    images = torch.cat([*groups.values(), blank[None] if blank.dim() == 3 else blank])
    return ClientProbe(list(units), images, rows, pre_activation)


def probe_responses(model: CircuitModel, probe: ClientProbe, *, ablate: Sequence[str | Unit] = (), mode: Literal["zero", "mean"] = "mean",
                    means: torch.Tensor | dict[str, torch.Tensor] | None = None) -> np.ndarray:
    """The probe units' responses (N, U) at the centre of their maps, with ``ablate`` ablated (none: intact)."""
    from ..probing import unit_responses

    if not probe.units:
        return np.zeros((len(probe.images), 0))
    with ablated(model, list(ablate), mode=mode, means=means if len(ablate) else None) if len(ablate) else ExitStack():
        return unit_responses(model, probe.units, probe.images, pre_activation=probe.pre_activation).numpy().astype(np.float64)


def ablation_reference(model: CircuitModel, probe: ClientProbe, layer: str, images: "torch.Tensor | ImageSource"
                       ) -> tuple[torch.Tensor, np.ndarray]:
    """What every mean ablation of ``layer`` is measured against: the layer's per-unit means (C,) over ``images`` (the
    values a mean ablation holds units at, :func:`~helpers.interventions.layer_means`) and the probe's intact responses."""
    return edits.layer_means(model, layer, images), probe_responses(model, probe)


def relative_change(intact: np.ndarray, changed: np.ndarray) -> float:
    """How much an intervention changed the units' evoked responses to a group of stimuli (lesson 10, exercise 7).

    ``intact`` and ``changed``: responses (n + 1, U) of U units to n stimuli and, in the last row, to the blank
    image, without and with the intervention. Each unit's evoked response (a row minus the blank row) changes by
    ||changed - intact|| / ||intact|| over the stimuli; the mean over the units that respond at all (nan if none).
    0: nothing the stimuli evoke changed; 1: a change as large as the evoked response itself.
    """
    before, after = intact[:-1] - intact[-1], changed[:-1] - changed[-1]
    norms = np.linalg.norm(before, axis=0)
    keep = norms > 1e-9
    return float(np.mean(np.linalg.norm(after - before, axis=0)[keep] / norms[keep])) if keep.any() else float("nan")


def response_damage(probe: ClientProbe, intact: np.ndarray, changed: np.ndarray) -> dict[str, float]:
    """Per group of the probe: :func:`relative_change` of the units' evoked responses, intact against changed.

    0: the intervention changed nothing the stimuli evoke; 1: a change as large as the evoked response itself.
    """
    damage = {}
    for group, (start, stop) in probe.groups.items():
        rows = [*range(start, stop), len(intact) - 1]  # the group's stimuli, then the blank image
        damage[group] = relative_change(intact[rows], changed[rows])
    return damage


def probe_damage(model: CircuitModel, probe: ClientProbe, intact: np.ndarray, *, ablate: Sequence[str | Unit] = (),
                 means: torch.Tensor | dict[str, torch.Tensor] | None = None,
                 edit: AbstractContextManager | None = None) -> tuple[dict[str, float], np.ndarray]:
    """Run the probe with ``ablate`` mean-ablated (``means``) and inside ``edit`` (a ``with``-block intervention such as
    :func:`~helpers.interventions.cleanroom_spliced`), and measure the change per group against the ``intact``
    responses (:func:`response_damage`). Returns the damage per group and the changed responses (N, U)."""
    with edit if edit is not None else ExitStack():
        changed = probe_responses(model, probe, ablate=ablate, means=means)
    return response_damage(probe, intact, changed), changed


def random_units(model: CircuitModel, layer: str, count: int, generator: np.random.Generator, exclude: Sequence[int] = ()) -> list[Unit]:
    """``count`` distinct random units of ``layer``, none of them in ``exclude``."""
    pool = np.setdiff1d(np.arange(model.channels(layer)), np.asarray(list(exclude), dtype=int))
    count = min(whole_number(count, "count", minimum=0), len(pool))
    return model.units(layer, sorted(int(c) for c in generator.choice(pool, count, replace=False)))


def excited_clients(model: CircuitModel, units: Sequence[str | Unit], client_layer: str, stimuli: torch.Tensor,
                    blank: torch.Tensor, count: int, *, candidates: int = 40) -> tuple[list[Unit], np.ndarray]:
    """The clients of a family ``units`` in ``client_layer``: of the ``candidates`` units that read the family most
    (:func:`helpers.weights.family_usage`, the norm of their weights from it), strongest first, the first ``count``
    that some of the ``stimuli`` (n, 3, H, W) excite at all (an evoked response above the ``blank`` image's).
    A client the stimuli leave silent cannot lose a response to them. Returns the clients and the usage (one number
    per channel of ``client_layer``)."""
    from ..weights import family_usage

    usage = family_usage(model, units, to_layer=client_layer).numpy()
    pool = model.units(client_layer, np.argsort(-usage)[:candidates])
    probe = make_probe(pool, {"stimuli": stimuli}, blank)
    evoked = probe.evoked(probe_responses(model, probe), "stimuli")
    return [u for u, best in zip(pool, evoked.max(0)) if best > 0][:count], usage


def top_example_values(model: CircuitModel, units: Sequence[Unit], scan: "DatasetExamples", per_unit: int, *,
                       ablate: Sequence[str | Unit] = (), means: torch.Tensor | None = None) -> np.ndarray:
    """Per unit: its value summed over its ``per_unit`` top dataset examples of ``scan`` (a scan of the units' layer),
    each read at the position where it fired most, with the ``ablate`` units mean-ablated (``means``, see
    :func:`~helpers.interventions.layer_means`; none: the intact network).

    Do the units' own favourite images still drive them once a circuit is cut?
    """
    values = []
    with ablated(model, list(ablate), mode="mean", means=means if len(ablate) else None):
        for unit in units:
            unit = model.unit(unit)
            images = scan.top_images(unit.channel, per_unit)
            positions = scan.top_positions(unit.channel, per_unit)
            maps = capture(model, images, unit.layer)[unit.layer][:, unit.channel]
            values.append(float(sum(maps[i, r, c] for i, (r, c) in enumerate(positions.tolist()))))
    return np.array(values)


def evoked_strength(model: CircuitModel, layer: str, stimuli: torch.Tensor, blank: torch.Tensor) -> np.ndarray:
    """Per channel of ``layer``: the norm over the ``stimuli`` (n, 3, H, W) of the unit's evoked response (its response
    at the centre minus its response to the ``blank`` image): how strongly the stimuli drive it, whichever way."""
    probe = make_probe(model.units(layer, range(model.channels(layer))), {"stimuli": stimuli}, blank)
    return np.linalg.norm(probe.evoked(probe_responses(model, probe), "stimuli"), axis=0)


def share_lost(intact: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Per unit: the share of its response an intervention removed, 1 - changed / intact (nan where intact is 0)."""
    safe = np.where(np.abs(intact) > 1e-9, intact, np.nan)
    return 1 - changed / safe


def matched_channels(key: np.ndarray, members: Sequence[int], generator: np.random.Generator, *, pool: int = 5) -> list[int]:
    """One weight-matched control for ``members``: for each member in order, a different non-member channel drawn with
    ``generator.choice`` among the ``pool`` free channels closest to it in ``key`` (one number per channel; ties: the
    lower channel first). The control the lesson's every ablation is compared with (:func:`random_ablation_damage`)."""
    key = np.asarray(key, dtype=np.float64)
    members = [int(m) for m in members]
    others = np.setdiff1d(np.arange(len(key)), np.asarray(members, dtype=int))
    chosen: list[int] = []
    for member in members:
        free = others[~np.isin(others, chosen)]
        if not len(free):
            break
        nearest = free[np.argsort(np.abs(key[free] - key[member]), kind="stable")[:pool]]
        chosen.append(int(generator.choice(nearest)))
    return chosen


def matched_units(model: CircuitModel, layer: str, members: Sequence[int], key: np.ndarray, generator: np.random.Generator, *,
                  pool: int = 5) -> list[Unit]:
    """For each member channel, a different non-member unit of ``layer`` drawn among the ``pool`` closest to it in ``key``
    (:func:`matched_channels`).

    ``key`` has one number per channel of ``layer`` (e.g. :func:`input_strength` onto some clients, or the
    response to a stimulus): the drawn units match the members on it, so a difference between ablating the
    members and ablating the drawn units cannot come from that number.
    """
    return model.units(layer, matched_channels(key, members, generator, pool=pool))  # key: one number per channel of layer


def input_strength(model: CircuitModel, layer: str, clients: Sequence[str | Unit]) -> np.ndarray:
    """How strongly each unit of ``layer`` feeds ``clients``: the L2 norm of its expanded weights to all of them."""
    from ..weights import expanded_weights

    clients = [model.unit(u) for u in clients]
    if not clients:
        return np.zeros(model.channels(layer))
    to_layer = clients[0].layer
    weights = expanded_weights(model, layer, to_layer)[[u.channel for u in clients]]  # (clients, inputs, kh, kw)
    return weights.transpose(0, 1).flatten(1).norm(dim=1).numpy().astype(np.float64)


def random_ablation_damage(model: CircuitModel, probe: ClientProbe, intact: np.ndarray, layer: str, count: int, draws: int, *,
                           exclude: Sequence[int] = (), means: torch.Tensor | None = None, mode: Literal["zero", "mean"] = "mean",
                           seed: int = 0, matched_on: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """:func:`response_damage` for ``draws`` ablations of ``count`` random units of ``layer`` each: a distribution per group.

    With ``matched_on`` (one number per channel), each draw is :func:`matched_units` of the ``exclude`` channels
    (the members) instead: as many units, each as close as possible to one member on that number.
    """
    generator = np.random.default_rng(seed)
    results: dict[str, list[float]] = {group: [] for group in probe.groups}
    for _ in range(draws):
        if matched_on is None:
            units = random_units(model, layer, count, generator, exclude)
        else:
            units = matched_units(model, layer, exclude, matched_on, generator)
        damage = response_damage(probe, intact, probe_responses(model, probe, ablate=units, mode=mode, means=means))
        for group, value in damage.items():
            results[group].append(value)
    return {group: np.asarray(values) for group, values in results.items()}


@dataclass(frozen=True)
class PredictionChange:
    """How an intervention changes the network's output on unlabelled images."""

    kl: float  # mean KL(intact || changed) of the class distributions, nats
    agreement: float  # share of images whose top-1 class is unchanged


def logits_of(model: CircuitModel, images: torch.Tensor, *, batch_size: int = 32) -> torch.Tensor:
    """Class logits (N, classes) in batches, without gradients."""
    with torch.inference_mode():
        return torch.cat([model(batch.to(model.device)).float().cpu() for batch in images.split(batch_size)])


def prediction_change(intact_logits: torch.Tensor, changed_logits: torch.Tensor) -> PredictionChange:
    """KL divergence and top-1 agreement between the intact network's predictions and the changed one's."""
    log_p, log_q = intact_logits.log_softmax(-1), changed_logits.log_softmax(-1)
    kl = float((log_p.exp() * (log_p - log_q)).sum(-1).mean())
    agreement = float((intact_logits.argmax(-1) == changed_logits.argmax(-1)).float().mean())
    return PredictionChange(kl, agreement)


def ablation_prediction_change(model: CircuitModel, images: torch.Tensor, units: Sequence[str | Unit], *,
                               means: torch.Tensor | dict[str, torch.Tensor] | None = None,
                               mode: Literal["zero", "mean"] = "mean", intact: torch.Tensor | None = None,
                               batch_size: int = 32) -> PredictionChange:
    """What ablating ``units`` does to the network's predictions on ``images``: :func:`prediction_change` of the
    ablated network's logits against the intact network's.

    For lesson 10's question "does the whole network notice?": one call per ablation (the family, each random
    draw). ``intact``: the intact network's logits on ``images`` (:func:`logits_of`), when several ablations share
    them; computed when not given. ``means`` as for :func:`~helpers.interventions.ablated` (needed for
    ``mode="mean"`` unless ``units`` is empty: an empty ablation changes nothing, KL 0 and agreement 1).
    """
    units = list(units)
    if intact is None:
        intact = logits_of(model, images, batch_size=batch_size)
    with ablated(model, units, mode=mode, means=means if units else None):
        changed = logits_of(model, images, batch_size=batch_size)
    return prediction_change(intact, changed)


@dataclass(frozen=True)
class MatchedComparison:
    """One ablation's change of a group of responses beside the same measure for several control ablations (draws)."""

    value: float
    spread: np.ndarray  # one value per control draw

    @property
    def limit(self) -> float:
        """What the value must exceed to stand out: the largest draw, and at least the draws' mean + 2 sd."""
        spread = np.asarray(self.spread, dtype=np.float64)
        return float(max(spread.max(), spread.mean() + 2 * spread.std())) if len(spread) else float("nan")

    @property
    def beyond(self) -> bool:
        """True when the value exceeds :attr:`limit` (False when either is not a number)."""
        return bool(self.value > self.limit)

    @property
    def ratio(self) -> float:
        """The value over the draws' mean: how many times a control's change (nan without draws)."""
        mean = float(np.mean(self.spread)) if len(self.spread) else float("nan")
        return float(self.value) / mean if mean else float("nan")

    def __str__(self) -> str:
        spread = np.asarray(self.spread, dtype=np.float64)
        if not len(spread):
            return f"{self.value:.3f}; no control draws"
        return (f"{self.value:.3f}; weight-matched mean {spread.mean():.3f}, sd {spread.std():.3f}, max {spread.max():.3f} "
                f"({len(spread)} draws)")


def matched_comparison(model: CircuitModel, probe: ClientProbe, intact: np.ndarray, units: Sequence[str | Unit], draws: int, *,
                       means: torch.Tensor, matched_on: np.ndarray, group: str = "curves", seed: int = 0) -> MatchedComparison:
    """Mean-ablating ``units`` (of one layer) against ``draws`` ablations of units matched to them on ``matched_on``
    (:func:`random_ablation_damage`), both measured by :func:`response_damage` on one ``group`` of the probe."""
    units = [model.unit(u) for u in units]
    if not units:
        raise ValueError("matched_comparison needs at least one unit to ablate.")
    layer = units[0].layer
    value = probe_damage(model, probe, intact, ablate=units, means=means)[0][group]
    spread = random_ablation_damage(model, probe, intact, layer, len(units), draws, exclude=[u.channel for u in units],
                                    means=means, seed=seed, matched_on=matched_on)[group]
    return MatchedComparison(float(value), spread)


def listed_units_comparison(model: CircuitModel, probe: ClientProbe, intact: np.ndarray, units: Sequence[str | Unit],
                            draws: int, *, family: Sequence[str | Unit], means: torch.Tensor, matched_on: np.ndarray,
                            seed: int = 0) -> tuple[MatchedComparison | None, int]:
    """Units listed elsewhere (an article's curve detectors) tested as a family is: their mean ablation against
    ``draws`` weight-matched ablations (:func:`matched_comparison` on the probe's curves; None when the probe has no
    clients to measure), and how many of them are among ``family``'s units."""
    units, members = [model.unit(u) for u in units], {model.unit(u) for u in family}
    found = matched_comparison(model, probe, intact, units, draws, means=means, matched_on=matched_on, seed=seed) \
        if probe.units else None
    return found, sum(unit in members for unit in units)


def family_stimuli(family: "object", angles: Sequence[float], *, natural: int, seed: int = 1
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The probe's stimuli for a curve family, drawn as its screen drew them (placement, stroke length and width):
    (curves at ``angles`` and the members' median best radius, straight lines at the first half of ``angles``,
    ``natural`` photograph patches, the blank image), dark strokes on white."""
    from ..images import offline_patches
    from ..stimuli.curves import blank, curve, line

    screen = family.screen
    placement = screen.placement
    radius = float(np.median(screen.best_radius[family.channels])) if len(family) else float(np.median(screen.radii))
    style = {"length": float(screen.style["length"]), "width": float(screen.style["width"]), "foreground": 0.0,
             "background": 1.0}
    curves = torch.stack([curve(placement.size, orientation=float(a), radius=radius, center=placement.center, **style)
                          for a in angles])
    lines = torch.stack([line(placement.size, angle=float(a), center=placement.center, **style)
                         for a in list(angles)[:len(angles) // 2]])
    patches = torch.cat(list(offline_patches(count=natural, size=placement.size, seed=seed)))
    return curves, lines, patches, blank(placement.size, 1.0)


def random_prediction_changes(model: CircuitModel, images: torch.Tensor, layer: str, count: int, draws: int, *,
                              exclude: Sequence[int] = (), means: torch.Tensor | None = None,
                              intact: torch.Tensor | None = None, seed: int = 1) -> list[PredictionChange]:
    """:func:`ablation_prediction_change` for ``draws`` mean ablations of ``count`` random units of ``layer`` (none of
    ``exclude``) each: the control beside one family's change of the network's predictions."""
    generator = np.random.default_rng(seed)
    if intact is None:
        intact = logits_of(model, images)
    return [ablation_prediction_change(model, images, random_units(model, layer, count, generator, exclude), means=means,
                                       intact=intact) for _ in range(draws)]
