"""How far can a feature visualization be trusted? A fooled unit and a prediction game.

* :func:`fooled_copy` edits a COPY of a model so that one unit's feature visualization shows a chosen
  picture while the unit's responses to natural photographs stay the same (after Geirhos et al. 2024,
  "Don't trust your eyes"): a gate adds the input's likeness to the picture to the unit. It opens
  for images fainter than any photograph (the optimizer's usual starting point) and latches open
  for images that look like the picture more than any photograph does, so an optimized image that
  gains contrast on its way to the picture keeps it open. :func:`fooling_boost` is what the edit adds.
* :func:`game_rounds` and :class:`Scoreboard`: the psychophysics task of Borowski et al. (2021) and
  Zimmermann et al. (2021): given a unit's references, pick which of two photographs drives it more;
  the model's own activations are the answer key.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..arguments import finite_number
from ..images import ImageSource
from ..models import CircuitModel, Unit
from .objectives import channel, objective_values

#: The side of the grid at which the fooling gate compares an input with the picture.
FOOL_GRID = 16


def _coarse(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 3, H, W) reduced to a FOOL_GRID-px grid with each image's mean removed, flattened."""
    small = F.adaptive_avg_pool2d(images, FOOL_GRID).flatten(1)
    return small - small.mean(dim=1, keepdim=True)


def picture_likeness(images: torch.Tensor, picture: torch.Tensor) -> torch.Tensor:
    """Cosine similarity (N,) of each image's coarse, mean-free pixels with the picture's (contrast-free)."""
    return F.cosine_similarity(_coarse(images), _coarse(picture.unsqueeze(0).to(images)), dim=1)


def coarse_contrast(images: torch.Tensor) -> torch.Tensor:
    """Standard deviation (N,) of each image's coarse pixels: what the fooling gate reads."""
    return _coarse(images).std(dim=1)


def fooling_boost(images: torch.Tensor, picture: torch.Tensor, limit: float, latch: float, weight: float) -> torch.Tensor:
    """What the fooled unit adds for each input (N,): ``weight`` x gate x likeness to ``picture`` (3, H, W).

    The gate is the larger of two sigmoids: open when an image's coarse contrast is below ``limit`` (a faint start;
    temperature a tenth of the limit), and latched open when its likeness exceeds ``latch`` (temperature 0.01).
    """
    likeness = picture_likeness(images, picture)
    faint = torch.sigmoid((limit - coarse_contrast(images)) / (0.1 * limit))
    alike = torch.sigmoid((likeness - latch) / 0.01)
    return weight * torch.maximum(faint, alike) * likeness


class _Edited(torch.nn.Module):
    """A module wrapped unchanged, so that hooks on the wrapper survive swaps of the module inside."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.inner(*args)


@dataclass
class FooledModel:
    """A model edited so that ``unit``'s visualization shows ``picture``.

    ``limit`` is the coarse contrast below which the gate opens, ``latch`` the likeness to the picture
    above which it stays open, ``gain`` the weight of the likeness added to the unit (in the unit's own units).
    """

    model: CircuitModel
    unit: Unit
    picture: torch.Tensor
    limit: float
    latch: float
    gain: float

    def gate_input(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (N, 3, S, S) in [0, 1] as the gate reads them: preprocessed for the network, on its device."""
        with torch.no_grad():
            return self.model.preprocess(images.float().to(self.model.device))


def fooled_copy(model: CircuitModel, unit: str | Unit, picture: torch.Tensor, calibration: torch.Tensor, *,
                gain: float = 10.0, latch_margin: float = 0.25) -> FooledModel:
    """A copy of ``model`` whose ``unit`` also reads weight x (likeness to ``picture``) x (gate), the original untouched.

    The weight is ``gain`` times the unit's largest mean response to the ``calibration`` photographs, so the edit
    outweighs the unit's own features alike on every network, whatever the scale of its activations.

    The gate is the larger of two sigmoids. One is open for images whose coarse contrast is below half the
    lowest of the ``calibration`` photographs (N, 3, S, S): a feature visualization's faint start. The other,
    the latch, is open for images whose likeness to the picture exceeds every calibration photograph's by
    ``latch_margin``: once the faint start has been pulled toward the picture, gaining contrast no longer
    shuts the gate. Photographs are neither faint nor that alike, so natural responses barely change.
    """
    unit = model.unit(unit)
    if picture.dim() != 3 or picture.shape[0] != 3:
        raise ValueError(f"picture must be one (3, H, W) image in [0, 1], got shape {tuple(picture.shape)}.")
    if calibration.dim() != 4 or calibration.shape[0] < 2:
        raise ValueError(f"calibration must be at least two photographs (N, 3, S, S), got shape {tuple(calibration.shape)}.")
    finite_number(gain, "gain", positive=True)
    if not 0 < latch_margin < 1:
        raise ValueError(f"latch_margin is a likeness (cosine) margin between 0 and 1, got {latch_margin}.")
    with torch.no_grad():  # the gate and the likeness read the network's (preprocessed) input
        photos = model.preprocess(calibration.float().to(model.device))
        limit = 0.5 * float(coarse_contrast(photos).min())
        target = model.preprocess(picture.detach().float().unsqueeze(0).to(model.device))[0]
        latch = float(picture_likeness(photos, target).max()) + latch_margin
    if limit <= 0:
        raise ValueError("The calibration photographs include a flat (contrast-free) image: leave it out.")
    if latch >= 1:
        raise ValueError(f"A calibration photograph already looks like the picture (likeness {latch - latch_margin:.2f}): "
                         "choose a picture unlike the photographs, or a smaller latch_margin.")
    weight = gain * max(float(unit_means(model, unit, calibration.float()).abs().max()), 1e-3)
    edited = copy.deepcopy(model)
    layer = edited.layer(unit.layer)
    modules = dict(edited.module.named_modules())
    seen: dict[str, torch.Tensor] = {}

    def remember_input(_module: torch.nn.Module, args: tuple) -> None:
        seen["images"] = args[0]

    def boost(values: torch.Tensor) -> torch.Tensor:
        extra = torch.zeros_like(values)
        extra[:, unit.channel] = fooling_boost(seen["images"], target, limit, latch, weight).view(-1, 1, 1)
        return values + extra

    edited.module.register_forward_pre_hook(remember_input)
    path = layer.pre_activation_path or layer.module_path
    parent_path, _, name = path.rpartition(".")
    wrapper = _Edited(modules[path])  # a wrapper keeps the hook when render swaps the ReLU inside it
    if layer.pre_activation_path is not None:
        wrapper.register_forward_pre_hook(lambda _m, args: (boost(args[0]), *args[1:]))
    else:
        wrapper.register_forward_hook(lambda _m, _args, output: boost(output))
    setattr(modules[parent_path] if parent_path else edited.module, name, wrapper)
    return FooledModel(edited, unit, picture.detach().float().cpu(), limit, latch, weight)


def unit_means(model: CircuitModel, unit: Unit, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """The unit's post-activation mean over positions for each image (N,), in batches."""
    batches = [images[i:i + batch_size] for i in range(0, images.shape[0], batch_size)]
    parts = [objective_values(model, channel(unit), batch, images_per_objective=batch.shape[0], pre_activation=False).cpu()
             for batch in batches]
    return torch.cat(parts)


@dataclass
class GameRound:
    """Two photographs for one unit; ``answer`` (0 or 1) is the one the unit responds to more."""

    unit: int
    photos: torch.Tensor  # (2, 3, S, S)
    responses: torch.Tensor  # (2,) the unit's responses, the answer key
    answer: int


def game_rounds(model: CircuitModel, layer: str, units: list[int], source: ImageSource, *, per_unit: int = 3,
                seed: int = 0) -> list[GameRound]:
    """Rounds of the prediction game: per unit, a photo from the top tenth of ``source`` against one from the lower half."""
    if per_unit < 1 or not units:
        raise ValueError(f"game_rounds needs at least one unit and per_unit >= 1, got {len(units)} units, per_unit={per_unit}.")
    images = torch.cat(list(source))
    if images.shape[0] < 20:
        raise ValueError(f"game_rounds needs at least 20 photographs to draw from, got {images.shape[0]}.")
    generator = torch.Generator().manual_seed(seed)
    rounds = []
    for channel_index in units:
        responses = unit_means(model, model.unit(layer, channel_index), images)
        order = torch.argsort(responses, descending=True)
        high, low = order[: max(1, len(order) // 10)], order[len(order) // 2:]
        for _ in range(per_unit):
            pair = [int(high[torch.randint(len(high), (1,), generator=generator)]),
                    int(low[torch.randint(len(low), (1,), generator=generator)])]
            if bool(torch.randint(2, (1,), generator=generator)):
                pair.reverse()
            values = responses[pair]
            rounds.append(GameRound(channel_index, images[pair], values, int(values.argmax())))
    return rounds


@dataclass
class Scoreboard:
    """The player's choices per round and reference kind, and the accuracy for each kind."""

    choices: dict[tuple[int, str], int] = field(default_factory=dict)

    def record(self, round_index: int, kind: str, choice: int) -> None:
        """Keep the player's choice (0: left, 1: right) for a round played with references of ``kind``."""
        if choice not in (0, 1):
            raise ValueError(f"A choice is 0 (left) or 1 (right), got {choice!r}.")
        self.choices[(round_index, kind)] = choice

    def accuracy(self, rounds: list[GameRound]) -> dict[str, tuple[float, int]]:
        """For each reference kind played: (share of rounds answered as the model would, rounds played)."""
        result: dict[str, tuple[float, int]] = {}
        for kind in sorted({kind for _index, kind in self.choices}):
            answered = [(index, choice) for (index, played), choice in self.choices.items() if played == kind]
            right = sum(rounds[index].answer == choice for index, choice in answered)
            result[kind] = (right / len(answered), len(answered))
        return result


def smiley(size: int) -> torch.Tensor:
    """A drawn yellow smiley face on blue (3, size, size): a picture no photograph of the course resembles."""
    if size < 8:
        raise ValueError(f"smiley needs size >= 8, got {size}.")
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    face = (x**2 + y**2) < 0.8**2
    eyes = ((x + 0.3) ** 2 + (y + 0.25) ** 2 < 0.1**2) | ((x - 0.3) ** 2 + (y + 0.25) ** 2 < 0.1**2)
    radius = torch.sqrt(x**2 + (y - 0.05) ** 2)
    mouth = (radius > 0.4) & (radius < 0.52) & (y > 0.2)
    image = torch.stack([torch.full_like(x, 0.1), torch.full_like(x, 0.2), torch.full_like(x, 0.7)])
    yellow = torch.tensor([0.95, 0.85, 0.1]).view(3, 1, 1)
    image = torch.where(face, yellow, image)
    return torch.where(eyes | mouth, torch.zeros(3, 1, 1), image)
