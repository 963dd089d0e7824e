"""Sparse dictionaries: read a layer as more features than it has units, each active on few inputs.

Superposition (lesson 07) says a layer of ``d`` units can store more than ``d`` features as
*directions* in its activation space, which makes single units polysemantic. A sparse dictionary
(a one-layer sparse autoencoder, as Bricken et al. 2023 used on language models and Gorton 2024 on
InceptionV1) tries to recover those directions from activations alone:

- codes ``c = ReLU(E (x - centre) / scale + e)``: ``n > d`` non-negative numbers per input;
- reconstruction ``x' = centre + scale * (c @ D)``, where the rows of ``D`` are unit-length feature
  directions;
- loss: squared reconstruction error plus ``l1`` times the sum of the codes, which keeps few codes
  active for each input.

Activations are divided by their root-mean-square norm before training, so one ``l1`` value means
the same thing on any layer. The centre is learned, starting at zero rather than at the mean: an
input with no feature active is the zero vector, and subtracting the mean would make every input
need several features to cancel it. :func:`train_sparse_dictionary` is deterministic under a
seed; :func:`best_match` scores recovered directions against known ones (the toy models' check).

Feature directions can be screened like units: the course's curve screen of a layer
(``find_curve_family(...).screen``) re-scores itself for any linear read-outs of that layer with
:meth:`helpers.families.CurveScreen.along` (dictionary directions, random directions; the identity
gives back the units' own screen), with no new forward pass. :func:`units_to_hold` says over how
many units a direction is spread (:func:`spread_over_units` for chosen rows), and :func:`shuffle_units`
makes the shuffled-data control (each unit's values permuted on their own, so that no direction shared
by several units survives).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from tqdm.auto import tqdm

from .activations import layer_vectors, stream
from .images import ImageSource
from .models import CircuitModel


@dataclass
class SparseDictionary:
    """A trained dictionary: ``features`` directions (rows of ``directions``) in a ``d``-unit space."""

    encoder: torch.Tensor  # (n, d)
    encoder_bias: torch.Tensor  # (n,)
    directions: torch.Tensor  # (n, d), unit rows
    centre: torch.Tensor  # (d,)
    scale: float
    l1: float

    @property
    def features(self) -> int:
        """Number of dictionary features n."""
        return self.directions.shape[0]

    @property
    def units(self) -> int:
        """Dimension d of the activation space (the layer's units)."""
        return self.directions.shape[1]

    def _check(self, vectors: torch.Tensor) -> torch.Tensor:
        if vectors.ndim != 2 or vectors.shape[1] != self.units:
            raise ValueError(f"expected activation vectors of shape (N, {self.units}), got {tuple(vectors.shape)}")
        return vectors.float()

    def encode(self, vectors: torch.Tensor) -> torch.Tensor:
        """Codes (N, n) of activation vectors (N, d): how much of each feature every input holds."""
        scaled = (self._check(vectors) - self.centre) / self.scale
        return torch.relu(scaled @ self.encoder.T + self.encoder_bias)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Activation vectors (N, d) rebuilt from codes (N, n)."""
        return self.centre + self.scale * (codes @ self.directions)

    def explained_variance(self, vectors: torch.Tensor) -> float:
        """Fraction of the vectors' variance (around their mean) that the reconstruction keeps: 1 is perfect."""
        return dictionary_account(vectors, self)[1]

    def active_per_input(self, vectors: torch.Tensor) -> float:
        """Mean number of non-zero codes per input vector."""
        return dictionary_account(vectors, self)[0]

    def live_directions(self, vectors: torch.Tensor, min_share: float = 1e-3) -> torch.Tensor:
        """The directions (rows) of the features active on at least ``min_share`` of the vectors: the others never
        learned anything and still point where their random start put them."""
        return self.directions[feature_density(self.encode(vectors)) >= min_share]

    def loadings(self, unit: int) -> torch.Tensor:
        """How strongly each feature's direction writes onto one unit (n,): the unit's column of ``directions``."""
        if not 0 <= unit < self.units:
            raise ValueError(f"unit must be in 0..{self.units - 1}, got {unit}")
        return self.directions[:, unit]

    def contributions(self, vectors: torch.Tensor, unit: int, *, codes: torch.Tensor | None = None) -> torch.Tensor:
        """What each feature adds to one unit's rebuilt activation, averaged over ``vectors`` (n,):
        the features that account for the unit's activity have the largest values. Pass ``codes``
        (``self.encode(vectors)``) when they are already computed."""
        codes = self.encode(vectors) if codes is None else codes
        return codes.mean(0) * self.loadings(unit) * self.scale


def feature_density(codes: torch.Tensor) -> torch.Tensor:
    """Each feature's density (n,): the share of the inputs whose code (N, n) for it is above 0."""
    return (codes > 0).float().mean(0)


def dictionary_account(vectors: torch.Tensor, dictionary: SparseDictionary,
                       min_share: float = 1e-3) -> tuple[float, float, int]:
    """How well ``dictionary`` describes activation vectors (N, d), the three numbers that say whether it is a sparse
    basis: the mean number of features active per vector, the fraction of the vectors' variance (around their mean,
    pooled over units) that its reconstruction keeps, and how many features are dead (active on fewer than
    ``min_share`` of the vectors). :func:`helpers.superposition_studies.layer_dictionary` reports them."""
    vectors = dictionary._check(vectors)
    codes = dictionary.encode(vectors)
    error = (vectors - dictionary.decode(codes)).square().sum()
    kept = 1 - error / (vectors - vectors.mean(0)).square().sum()
    dead = int((feature_density(codes) < min_share).sum())
    return float((codes > 0).sum(1).float().mean()), float(kept), dead


def sampled_vectors(
    model: CircuitModel,
    source: ImageSource,
    layer: str,
    *,
    per_image: int,
    pre_activation: bool = False,
    generator: torch.Generator,
    progress: bool = True,
) -> torch.Tensor:
    """Activation vectors (N * per_image, C) of ``layer``: ``per_image`` positions drawn at random (without
    repeats) from each image's map, one pass over ``source`` that stops at ``layer``. Memory grows with
    ``per_image``, not with the map's size: the way to train a dictionary on a layer with large maps."""
    if per_image < 1:
        raise ValueError(f"per_image must be at least 1 position, got {per_image}")
    layer = model.layer(layer).name
    chunks = [sample_positions(captured[layer], per_image=per_image, generator=generator)
              for _, captured in stream(model, source, layer, pre_activation=pre_activation, progress=progress,
                                        description=f"vectors {layer}")]
    if not chunks:
        raise ValueError("The image source gave no images.")
    return torch.cat(chunks)


def sample_positions(maps: torch.Tensor, *, per_image: int, generator: torch.Generator) -> torch.Tensor:
    """Activation vectors (N * per_image, C) from maps (N, C, h, w) already held: ``per_image`` positions drawn at
    random (without repeats, all of them when the map is smaller) from each image's map, image by image.

    What :func:`sampled_vectors` does to each batch it streams; call it directly on maps that another pass kept
    (``feature_maps_of``), so that one pass over the images serves both."""
    if maps.ndim != 4:
        raise ValueError(f"expected activation maps of shape (N, C, h, w), got {tuple(maps.shape)}")
    if per_image < 1:
        raise ValueError(f"per_image must be at least 1 position, got {per_image}")
    flat = maps.flatten(2)  # (N, C, h*w)
    count = min(per_image, flat.shape[2])
    picks = torch.argsort(torch.rand(flat.shape[0], flat.shape[2], generator=generator), dim=1)[:, :count]
    return (torch.gather(flat, 2, picks[:, None, :].to(flat.device).expand(-1, flat.shape[1], -1))
            .permute(0, 2, 1).reshape(-1, flat.shape[1]))


@dataclass
class PeakCodes:
    """Each image's strongest value of every column (units or dictionary features) and where it peaked.

    ``values`` (N, n): the largest value over the image's map positions; ``where`` (N, n): that position as
    ``row * width + column`` of a map of ``map_size``. Enough to find every column's top images (:meth:`top`)
    without keeping a value for every position of every image.
    """

    values: torch.Tensor
    where: torch.Tensor
    map_size: tuple[int, int]

    def top(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each column's ``count`` strongest images and where in them it peaked: image indices (n, count) and map
        positions (n, count, 2), strongest first; a column never active gets index -1."""
        if not 1 <= count <= self.values.shape[0]:
            raise ValueError(f"count={count} must lie between 1 and the {self.values.shape[0]} images scanned")
        values, images = self.values.T.topk(count, dim=1)  # (n, count)
        flat = self.where.T.gather(1, images)
        images = images.masked_fill(values <= 0, -1)
        cols = self.map_size[1]
        return images, torch.stack([flat // cols, flat % cols], dim=-1)


def peak_codes(codes: torch.Tensor, map_size: tuple[int, int]) -> PeakCodes:
    """The per-image peaks of codes (N*h*w, n) laid out like :func:`~helpers.activations.layer_vectors` (image-major)."""
    rows, cols = map_size
    if codes.ndim != 2 or codes.shape[0] % (rows * cols):
        raise ValueError(f"expected codes of shape (N*{rows}*{cols}, n), got {tuple(codes.shape)}")
    values, where = codes.reshape(-1, rows * cols, codes.shape[1]).max(1)  # (N, n)
    return PeakCodes(values, where, (rows, cols))


Encoders = dict[str, Callable[[torch.Tensor], torch.Tensor] | None]


def _batch_peaks(maps: torch.Tensor, encoders: Encoders) -> dict[str, PeakCodes]:
    """One batch of maps (B, C, h, w) read through each encoder (None: the units themselves), per image only its peaks."""
    vectors = layer_vectors(maps)
    return {name: peak_codes(vectors if encode is None else encode(vectors), tuple(maps.shape[2:]))
            for name, encode in encoders.items()}


def _joined(found: dict[str, list[PeakCodes]], order: torch.Tensor, images: int) -> dict[str, PeakCodes]:
    """Batches' peaks as one :class:`PeakCodes` per encoder, row i for image i (unread images stay zero: never top)."""
    result = {}
    for name, parts in found.items():
        values, where = torch.cat([p.values for p in parts]), torch.cat([p.where for p in parts])
        placed_values = torch.zeros((images, values.shape[1]), device=values.device)  # where the maps were
        placed_where = torch.zeros((images, values.shape[1]), dtype=torch.long, device=values.device)
        placed_values[order.to(values.device)], placed_where[order.to(values.device)] = values, where
        result[name] = PeakCodes(placed_values, placed_where, parts[0].map_size)
    return result


def _require_encoders(encoders: Encoders) -> None:
    """Refuse an empty set of encoders before any work: there would be nothing to read."""
    if not encoders:
        raise ValueError("Name at least one encoder (None reads the units themselves).")


def scan_peaks(
    model: CircuitModel,
    source: ImageSource,
    layer: str,
    encoders: Encoders,
    *,
    pre_activation: bool = False,
    progress: bool = True,
) -> dict[str, PeakCodes]:
    """:class:`PeakCodes` of ``layer`` read through each encoder (``dictionary.encode``, or None for the units
    themselves), in one streaming pass over ``source``: only one batch's maps are held at a time. When the
    layer's maps are held already, :func:`peaks_of_maps` gives the same without a pass."""
    _require_encoders(encoders)
    found: dict[str, list[PeakCodes]] = {name: [] for name in encoders}
    order = []
    layer = model.layer(layer).name
    for indices, captured in stream(model, source, layer, pre_activation=pre_activation, progress=progress,
                                    description=f"vectors {layer}"):
        for name, peaks in _batch_peaks(captured[layer], encoders).items():
            found[name].append(peaks)
        order.append(indices)
    if not order:
        raise ValueError("The image source gave no images.")
    return _joined(found, torch.cat(order).long(), len(source))


def peaks_of_maps(maps: torch.Tensor, encoders: Encoders, *, batch_size: int = 64) -> dict[str, PeakCodes]:
    """:func:`scan_peaks` of maps (N, C, h, w) kept from an earlier pass (for example
    :func:`helpers.polysemanticity.feature_maps_of`): the same peaks, no forward pass, ``batch_size`` images'
    codes at a time."""
    _require_encoders(encoders)
    if maps.ndim != 4 or len(maps) == 0:
        raise ValueError(f"expected maps of shape (N, C, h, w) with N >= 1, got {tuple(maps.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    found: dict[str, list[PeakCodes]] = {name: [] for name in encoders}
    for start in range(0, len(maps), batch_size):
        for name, peaks in _batch_peaks(maps[start:start + batch_size], encoders).items():
            found[name].append(peaks)
    return _joined(found, torch.arange(len(maps)), len(maps))


def dictionary_loss(batch: torch.Tensor, *, encoder: torch.Tensor, encoder_bias: torch.Tensor, directions: torch.Tensor,
                    centre: torch.Tensor, l1: float) -> torch.Tensor:
    """A sparse dictionary's training loss on a batch (B, d): mean squared reconstruction error per input
    (summed over units) plus ``l1`` times the mean sum of the codes."""
    codes = torch.relu((batch - centre) @ encoder.T + encoder_bias)
    return (centre + codes @ directions - batch).square().sum(1).mean() + l1 * codes.sum(1).mean()


def dictionary_step(batch: torch.Tensor, encoder: torch.Tensor, encoder_bias: torch.Tensor, directions: torch.Tensor,
                    centre: torch.Tensor, optimizer: torch.optim.Optimizer, l1: float) -> float:
    """One training step of a sparse dictionary on a batch (B, d); returns the loss before the step.

    The optimizer holds the four parameters. After its step the directions are scaled back to unit length,
    so that the L1 price on the codes cannot be dodged by shrinking codes and growing directions.
    """
    loss = dictionary_loss(batch, encoder=encoder, encoder_bias=encoder_bias, directions=directions, centre=centre,
                           l1=l1)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        directions.copy_(torch.nn.functional.normalize(directions, dim=1))
    return float(loss.detach())


def train_sparse_dictionary(
    vectors: torch.Tensor,
    features: int,
    *,
    l1: float = 0.05,
    steps: int = 1000,
    batch_size: int = 512,
    lr: float = 2e-3,
    generator: torch.Generator,
    progress: bool = True,
    step: Callable[..., float] | None = None,
) -> SparseDictionary:
    """Learn ``features`` unit-length directions whose sparse non-negative combinations rebuild ``vectors`` (N, d).

    Adam on minibatches drawn with ``generator`` (the same generator state gives the same dictionary),
    one :func:`dictionary_step` each. Larger ``l1``: fewer active features per input, worse reconstruction.
    ``step`` replaces :func:`dictionary_step` (lesson 07 trains with the student's own); it is called as
    ``step(batch, encoder, encoder_bias, directions, centre, optimizer, l1)`` and must return the loss.
    """
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError(f"expected at least two activation vectors of shape (N, d), got {tuple(vectors.shape)}")
    if features < 1 or steps < 1 or batch_size < 1 or l1 < 0:
        raise ValueError(f"features, steps and batch_size must be positive and l1 >= 0; got {features}, {steps}, "
                         f"{batch_size}, {l1}")
    if step is not None and not callable(step):
        raise ValueError(f"step must be a function like dictionary_step, got {type(step).__name__}")
    vectors = vectors.detach().float()
    scale = float(vectors.square().sum(1).mean().sqrt().clamp_min(1e-8))
    data = vectors / scale
    directions = torch.nn.functional.normalize(torch.randn(features, data.shape[1], generator=generator), dim=1)
    directions.requires_grad_(True)
    encoder = directions.detach().clone().requires_grad_(True)
    encoder_bias = torch.zeros(features, requires_grad=True)
    centre = torch.zeros(data.shape[1], requires_grad=True)
    optimizer = torch.optim.Adam([encoder, encoder_bias, directions, centre], lr=lr)
    for _ in tqdm(range(steps), desc="sparse dictionary", disable=not progress):
        batch = data[torch.randint(len(data), (min(batch_size, len(data)),), generator=generator)]
        loss = (step or dictionary_step)(batch, encoder, encoder_bias, directions, centre, optimizer, l1)
        if not isinstance(loss, (float, torch.Tensor)):
            raise ValueError(f"the step function should return the batch's loss as a number; it returned {loss!r}")
    return SparseDictionary(encoder.detach(), encoder_bias.detach(), directions.detach(), centre.detach() * scale,
                            scale, l1)


def best_match(found: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """For each known direction (k, d), the largest cosine similarity with any found direction (n, d): 1 = recovered."""
    if found.ndim != 2 or known.ndim != 2 or found.shape[1] != known.shape[1]:
        raise ValueError(f"expected (n, d) and (k, d) directions with the same d, got {tuple(found.shape)} and "
                         f"{tuple(known.shape)}")
    unit = torch.nn.functional.normalize
    return (unit(known, dim=1) @ unit(found, dim=1).T).max(1).values


def top_examples(codes: torch.Tensor, map_size: tuple[int, int], count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each feature's ``count`` strongest images and where in them it peaked, from codes (N*h*w, n) laid out
    like :func:`~helpers.activations.layer_vectors`: image indices (n, count) and map positions (n, count, 2), strongest first.
    A feature never active gets index -1."""
    return peak_codes(codes, map_size).top(count)


# --- directions read like units ---------------------------------------------------------------

def shuffle_units(vectors: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each unit's values (column) permuted on its own across the N vectors (N, d): every unit keeps its
    distribution, but which units are active *together* is destroyed (the control for directions)."""
    if vectors.ndim != 2:
        raise ValueError(f"expected activation vectors of shape (N, d), got {tuple(vectors.shape)}")
    order = torch.argsort(torch.rand(vectors.shape, generator=generator), dim=0)
    return torch.gather(vectors, 0, order)


def random_directions(count: int, units: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random unit-length directions (count, units), uniform on the sphere."""
    if count < 1 or units < 1:
        raise ValueError(f"count and units must be positive, got {count} and {units}")
    return torch.nn.functional.normalize(torch.randn(count, units, generator=generator), dim=1)



def units_to_hold(directions: torch.Tensor, share: float = 0.5) -> torch.Tensor:
    """How many units (largest loadings first) it takes to hold ``share`` of each direction's squared length (n,)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must lie in (0, 1], got {share}")
    squared = torch.as_tensor(directions, dtype=torch.float32).square()
    if squared.ndim != 2:
        raise ValueError(f"expected directions of shape (n, d), got {tuple(squared.shape)}")
    cumulative = squared.sort(1, descending=True).values.cumsum(1) / squared.sum(1, keepdim=True).clamp_min(1e-12)
    return (cumulative < share - 1e-6).sum(1) + 1


def spread_over_units(directions: torch.Tensor, rows: Sequence[int], share: float = 0.5) -> torch.Tensor:
    """:func:`units_to_hold` of the chosen ``rows`` of ``directions`` (an empty count when none is chosen): over how
    many units each chosen feature (a curve-like one, say) is spread."""
    if not len(rows):
        return torch.zeros(0, dtype=torch.long)
    return units_to_hold(directions[list(rows)], share)


def top_loading_share(directions: torch.Tensor, rows: Sequence[int], channels: Iterable[int]) -> float:
    """Among the chosen ``rows`` of ``directions`` (n, d), the share whose largest loading (in absolute value) falls
    on one of ``channels`` (units of the layer: the curve neurons, say); 0 when no row is chosen. Do curve-like
    dictionary features lean on the curve neurons more often than random directions do?"""
    if not len(rows):
        return 0.0
    chosen = set(int(channel) for channel in channels)
    top = torch.as_tensor(directions)[list(rows)].abs().argmax(1).tolist()
    return sum(t in chosen for t in top) / len(top)
