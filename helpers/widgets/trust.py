"""Lesson 11's widgets: a lab bench (one unit by four methods, each trick switchable) and the prediction game."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ..featurevis import accentuate, channel, make_param, objective_values, render
from ..featurevis.trust import GameRound, Scoreboard
from ..models import CircuitModel
from ..plotting import stretch_contrast
from ..plotting.trust import bench_images_figure, game_round_figure
from . import Explorer

METHODS = ("naive pixels", "fourier", "natural spectrum", "accentuation")
_PARAMS = {"naive pixels": "pixel", "fourier": "fourier", "natural spectrum": "natural"}


@dataclass
class BenchImage:
    """One unit rendered by one method with one set of tricks: the image, its activation and its contrast."""

    method: str
    image: torch.Tensor  # (3, S, S) in [0, 1]
    value: float  # the objective reached, measured without transforms and after the non-linearity
    std: float  # pixel standard deviation (contrast as displayed)


def bench_image(model: CircuitModel, layer: str, unit: int, method: str, photo: torch.Tensor, *, redirect: bool = True,
                transforms: bool = True, decorrelate: bool = True, steps: int = 64, seed: int = 0) -> BenchImage:
    """Render ``layer:unit`` by ``method`` (one of METHODS) with the chosen tricks (the lab bench's pure function)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}.")
    objective = channel(layer, unit)
    size = photo.shape[-1]
    chain = ("standard" if size >= 64 else "light") if transforms else "none"
    redirect_steps = 16 if redirect else 0
    if method == "accentuation":
        image = accentuate(model, objective, photo, steps=steps, transforms=chain, redirect_steps=redirect_steps,
                           decorrelate=decorrelate, seed=seed, progress=False).images[0]
    else:
        param = make_param(_PARAMS[method], size, 1, seed=seed, decorrelate=decorrelate)
        image = render(model, objective, steps=steps, size=size, param=param, transforms=chain,
                       redirect_steps=redirect_steps, seed=seed, progress=False).images[0]
    value = float(objective_values(model, objective, image.unsqueeze(0), pre_activation=False)[0])  # one scorer for all
    return BenchImage(method, image, value, float(image.std()))


def bench_figure(images: Sequence[BenchImage], title: str = "") -> Figure:
    """Draw bench images side by side, with activation and contrast."""
    return bench_images_figure({b.method: b.image for b in images}, {b.method: b.value for b in images}, title)


def lab_bench(model: CircuitModel, layer: str, units: Sequence[int], photo: torch.Tensor, *, steps: int = 64,
              seed: int = 0) -> Explorer:
    """A unit and method picker with switches for the redirected ReLU, transforms and colour decorrelation."""
    if not units:
        raise ValueError("lab_bench needs at least one unit.")
    controls = {
        "unit": widgets.Dropdown(options=list(units), value=units[0], description="unit"),
        "method": widgets.Dropdown(options=METHODS, value="fourier", description="method"),
        "redirect": widgets.Checkbox(value=True, description="redirected ReLU"),
        "transforms": widgets.Checkbox(value=True, description="transforms"),
        "decorrelate": widgets.Checkbox(value=True, description="decorrelated colour"),
    }

    @lru_cache(maxsize=32)
    def show(unit: int, method: str, redirect: bool, transforms: bool, decorrelate: bool) -> BenchImage:
        return bench_image(model, layer, unit, method, photo, redirect=redirect, transforms=transforms,
                           decorrelate=decorrelate, steps=steps, seed=seed)

    def view(**values: object) -> Figure:
        bench = show(**values)
        tricks = ", ".join(name for name in ("redirect", "transforms", "decorrelate") if values[name]) or "no tricks"
        return bench_figure([bench], f"{layer}:{values['unit']} ({tricks})")

    return Explorer(view, controls, title=f"{model.name}: the lab bench")


NOT_YET = "not yet"
CHOICES = (NOT_YET, "left", "right")


def game_figure(rounds: Sequence[GameRound], references: Mapping[int, Mapping[str, torch.Tensor]], scoreboard: Scoreboard,
              round_index: int, kind: str, choice: str) -> Figure:
    """Record ``choice`` for round ``round_index`` played with ``kind`` references, and draw the round (the game's pure function)."""
    if not 0 <= round_index < len(rounds):
        raise ValueError(f"round_index must be in 0..{len(rounds) - 1}, got {round_index}.")
    game = rounds[round_index]
    if choice != NOT_YET:
        scoreboard.record(round_index, kind, CHOICES.index(choice) - 1)
    scores = "; ".join(f"{k}: {share:.0%} of {n}" for k, (share, n) in scoreboard.accuracy(list(rounds)).items())
    title = f"round {round_index}: which photo drives unit {game.unit} more?  Your agreement with the model so far: {scores or 'none yet'}"
    if choice != NOT_YET:
        title += f"\nthe model's answer: {CHOICES[game.answer + 1]}"
    return game_round_figure(list(references[game.unit][kind]), f"{kind} references", game.photos, title)


def prediction_game(rounds: Sequence[GameRound], references: Mapping[int, Mapping[str, torch.Tensor]],
                    scoreboard: Scoreboard | None = None) -> Explorer:
    """A round slider, a reference-kind picker and a left/right choice; the score per kind builds up in ``scoreboard``."""
    if not rounds:
        raise ValueError("prediction_game needs at least one round.")
    kinds = list(next(iter(references.values())))
    board = Scoreboard() if scoreboard is None else scoreboard
    controls = {
        "round_index": widgets.IntSlider(value=0, min=0, max=len(rounds) - 1, description="round", continuous_update=False),
        "kind": widgets.Dropdown(options=kinds, value=kinds[0], description="references"),
        "choice": widgets.ToggleButtons(options=CHOICES, value=NOT_YET, description="fires more"),
    }

    def new_round(_change: dict) -> None:
        controls["choice"].value = NOT_YET  # a new round starts unanswered

    controls["round_index"].observe(new_round, names="value")  # registered before the explorer's own observer
    controls["kind"].observe(new_round, names="value")
    explorer = Explorer(lambda **values: game_figure(rounds, references, board, **values), controls,
                        title="Which photograph makes the unit fire more?")
    explorer.scoreboard = board  # type: ignore[attr-defined]
    return explorer


def game_references(units: Sequence[int], natural_spectrum: torch.Tensor, fourier: torch.Tensor,
                    natural: Mapping[int, torch.Tensor]) -> dict[int, dict[str, torch.Tensor]]:
    """The game's references per unit: "synthetic" (its natural-spectrum and its Fourier visualization, the Fourier one
    contrast-stretched for display; both (U, 3, S, S), one per unit), "natural" (its top photographs ``natural[unit]``)
    and "both" (the two synthetic images and the first two photographs)."""
    references = {}
    for i, unit in enumerate(units):
        synthetic = torch.stack([natural_spectrum[i], stretch_contrast(fourier[i:i + 1])[0]])
        references[unit] = {"synthetic": synthetic, "natural": natural[unit],
                            "both": torch.cat([synthetic, natural[unit][:2]])}
    return references
