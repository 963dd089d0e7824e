"""Universality: do different networks learn the same features? Measurements that compare models.

The paper's third claim is that analogous features and circuits form across models and tasks. This
module measures it four ways, on any :class:`~helpers.models.CircuitModel`:

- **Layers**, with linear CKA (centred kernel alignment, Kornblith et al. 2019): how similar two
  layers' representations of the same images are, up to rotation and scale
  (:func:`linear_cka`, :func:`cka_matrix`).
- **Units**, by maximum correlation (Li et al. 2015, "Convergent learning"): for each unit of one
  model, the unit of another whose responses over the same images correlate best
  (:func:`match_units`), against a baseline with the images shuffled (:func:`shuffled_match`).
- **First-layer filters**, sorted by measurable criteria into oriented (Gabor-like),
  colour-contrast, low-frequency and other (:func:`filter_properties`, :func:`classify_filters`), beside
  Gaussian random filters (:func:`random_filter_properties`).
- **Families of units** (curve, high-low frequency, colour contrast), with the screens of
  :mod:`helpers.families` run on every model with options that suit its input size
  (e.g. :func:`~helpers.families.high_low.high_low_screen_options`); ``family.summary(model)`` gives
  one row of the comparison table (:func:`format_table`).

Images are shared: each model sees the same pictures, resized to its own input size, and each
layer's map is average-pooled to the same ``grid`` x ``grid`` cells, so positions correspond
across models whatever their resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .activations import layer_vectors, stream
from .models import CircuitModel, ImageNormalize
from . import stats  # as a module: lesson 08 imports this module, and its exercises must not find the answers here

FILTER_TYPES = ("oriented", "colour contrast", "low frequency", "other")


# --- CKA -------------------------------------------------------------------------------------
def _as_matrix(features: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    features = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    if features.dim() < 2:
        raise ValueError(f"{name} must have one row per example, shape (N, features...), got {tuple(features.shape)}.")
    return features.detach().reshape(len(features), -1).to(torch.float64).cpu()


def gram_linear(features: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The linear kernel (Gram) matrix X Xᵀ of features with one row per example (N, N), in float64."""
    x = _as_matrix(features, "features")
    return x @ x.T


def _hsic(k: torch.Tensor, l: torch.Tensor, debiased: bool) -> torch.Tensor:
    n = k.shape[0]
    if not debiased:
        centring = torch.eye(n, dtype=k.dtype) - 1.0 / n
        return ((centring @ k @ centring) * (centring @ l @ centring)).sum()
    # Unbiased HSIC estimator of Song et al. (2012): zero the diagonals, then correct the cross terms.
    k = k - torch.diag(torch.diag(k))
    l = l - torch.diag(torch.diag(l))
    ones_k, ones_l = k.sum(1), l.sum(1)
    value = (k * l).sum() + ones_k.sum() * ones_l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (ones_k @ ones_l)
    return value / (n * (n - 3))


def cka_from_grams(gram_a: torch.Tensor, gram_b: torch.Tensor, *, debiased: bool = False) -> float:
    """CKA of two representations given as Gram matrices of the same N examples."""
    if gram_a.shape != gram_b.shape or gram_a.dim() != 2 or gram_a.shape[0] != gram_a.shape[1]:
        raise ValueError(f"Gram matrices must both be (N, N) for the same N, got {tuple(gram_a.shape)} and {tuple(gram_b.shape)}.")
    n = gram_a.shape[0]
    if n < (4 if debiased else 2):
        raise ValueError(f"CKA needs at least {4 if debiased else 2} examples{' when debiased' if debiased else ''}, got {n}.")
    cross = _hsic(gram_a, gram_b, debiased)
    norm = torch.sqrt(_hsic(gram_a, gram_a, debiased) * _hsic(gram_b, gram_b, debiased))
    if not torch.isfinite(norm) or norm <= 0:
        return 0.0  # a constant representation carries no information to align
    return float(cross / norm)


def linear_cka(features_a: torch.Tensor | np.ndarray, features_b: torch.Tensor | np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA between two representations of the same N examples, each (N, ...); 1 means identical up to rotation and scale.

    Plain CKA (``debiased=False``) is biased upward when there are few examples for many features:
    two independent random representations score above zero. ``debiased=True`` uses the unbiased
    HSIC estimator, whose expected value for independent representations is zero (it can go
    slightly negative).
    """
    a, b = _as_matrix(features_a, "features_a"), _as_matrix(features_b, "features_b")
    if len(a) != len(b):
        raise ValueError(f"Both representations must describe the same examples: got {len(a)} and {len(b)} rows.")
    for name, x in (("features_a", a), ("features_b", b)):
        finite = torch.isfinite(x)
        if not bool(finite.all()):
            rows = torch.nonzero(~finite.all(1)).flatten()
            raise ValueError(f"linear_cka: {name} holds NaN or infinite values ({int((~finite).sum())} entries, in "
                             f"{len(rows)} of {len(x)} rows, first row {int(rows[0])}); CKA would be meaningless. "
                             f"Find where they came from, or drop those rows from both representations.")
    return cka_from_grams(a @ a.T, b @ b.T, debiased=debiased)


# --- features on a shared image set ------------------------------------------------------------
def layer_features(
    model: CircuitModel,
    images: torch.Tensor,
    layers: Sequence[str],
    *,
    grid: int = 4,
    batch_size: int = 16,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Each layer's activations (N, C, grid, grid): the maps average-pooled to a grid, for images resized to the model's input size."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be a batch (N, 3, H, W) in [0, 1], got {tuple(images.shape)}.")
    if grid < 1:
        raise ValueError(f"grid must be at least 1, got {grid}.")
    layers = [model.layer(name).name for name in layers]
    pooled: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    for _, maps in stream(model, images, layers, batch_size=batch_size, size=model.input_size, progress=progress,
                          description=f"{model.name} activations"):
        for name in layers:
            pooled[name].append(F.adaptive_avg_pool2d(maps[name], grid))
    return {name: torch.cat(values) for name, values in pooled.items()}


@dataclass
class Representations:
    """What every chosen layer of one model does on a shared image set: pooled maps (N, C, grid, grid) per layer."""

    model: str
    layers: list[str]
    depths: np.ndarray  # (L,) relative depth of each layer, 0 = first interpretable layer
    features: dict[str, torch.Tensor]
    grid: int
    _grams: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def gram(self, layer: str) -> torch.Tensor:
        """The (N, N) linear Gram matrix of a layer's pooled maps, computed once."""
        if layer not in self.features:
            raise ValueError(f"Layer {layer!r} was not recorded for {self.model}; recorded: {', '.join(self.layers)}.")
        if layer not in self._grams:
            self._grams[layer] = gram_linear(self.features[layer])
        return self._grams[layer]

    def responses(self, layer: str) -> torch.Tensor:
        """Unit responses (N * grid * grid, C): one row per image and grid cell, one column per unit."""
        if layer not in self.features:
            raise ValueError(f"Layer {layer!r} was not recorded for {self.model}; recorded: {', '.join(self.layers)}.")
        return layer_vectors(self.features[layer])


def representations(
    model: CircuitModel,
    images: torch.Tensor,
    layers: Sequence[str] | None = None,
    *,
    grid: int = 4,
    progress: bool = False,
) -> Representations:
    """Record ``layers`` (all of them when None) of ``model`` on a shared image set, ready for CKA and unit matching."""
    layers = [model.layer(name).name for name in layers] if layers is not None else model.layer_names
    features = layer_features(model, images, layers, grid=grid, progress=progress)
    return Representations(model.name, layers, np.array([model.depth_fraction(name) for name in layers]), features, grid)


@dataclass
class CKAResult:
    """CKA between every layer of model A (rows) and every layer of model B (columns)."""

    matrix: np.ndarray
    model_a: str
    model_b: str
    layers_a: list[str]
    layers_b: list[str]
    depth_a: np.ndarray
    depth_b: np.ndarray
    debiased: bool

    def matched_vs_mismatched(self, tolerance: float = 0.15, far: float = 0.4) -> tuple[float, float]:
        """Mean CKA over layer pairs at about the same relative depth (|Δ| <= tolerance) and over pairs far apart (|Δ| >= far)."""
        return stats.depth_agreement(self.matrix, self.depth_a, self.depth_b, tolerance, far)[:2]

    def same_depth_partner(self, tolerance: float = 0.15, far: float = 0.4) -> float:
        """Share of A's layers whose most similar layer of B lies within ``tolerance`` of the same relative depth."""
        return stats.depth_agreement(self.matrix, self.depth_a, self.depth_b, tolerance, far)[2]


def cka_matrix(a: Representations, b: Representations, *, debiased: bool = False) -> CKAResult:
    """Linear CKA between every recorded layer of two models (or one model with itself) on the same images."""
    if a.features[a.layers[0]].shape[0] != b.features[b.layers[0]].shape[0]:
        raise ValueError(f"{a.model} and {b.model} were recorded on different numbers of images; use the same image set.")
    matrix = np.array([[cka_from_grams(a.gram(la), b.gram(lb), debiased=debiased) for lb in b.layers] for la in a.layers])
    return CKAResult(matrix, a.model, b.model, list(a.layers), list(b.layers), a.depths, b.depths, debiased)


# --- unit matching --------------------------------------------------------------------------------
def correlation_matrix(responses_a: torch.Tensor | np.ndarray, responses_b: torch.Tensor | np.ndarray) -> np.ndarray:
    """Pearson correlation (Ca, Cb) between every column of A and every column of B (rows = the same samples).

    A unit that never varies (e.g. dead on these images) correlates 0 with everything.
    """
    a, b = _as_matrix(responses_a, "responses_a"), _as_matrix(responses_b, "responses_b")
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"Both response sets need the same samples (at least 2); got {len(a)} and {len(b)} rows.")
    return stats.correlation_columns(a, b).numpy()


@dataclass
class UnitMatch:
    """For each unit of model A, its best-correlated unit of model B."""

    correlations: np.ndarray  # (Ca, Cb)
    best: np.ndarray  # (Ca,) index of the best unit of B
    best_correlation: np.ndarray  # (Ca,)

    @property
    def mean_best(self) -> float:
        """Mean over A's units of the best correlation found in B."""
        return float(self.best_correlation.mean())

    def one_to_one(self) -> np.ndarray:
        """Pairs (unit of A, unit of B), each unit used at most once, strongest first (:func:`helpers.stats.greedy_pairs`)."""
        return stats.greedy_pairs(self.correlations)


def match_units(responses_a: torch.Tensor | np.ndarray, responses_b: torch.Tensor | np.ndarray) -> UnitMatch:
    """Match every unit of A to the unit of B whose responses correlate most (responses: samples x units)."""
    correlations = correlation_matrix(responses_a, responses_b)
    best = correlations.argmax(1)
    return UnitMatch(correlations, best, correlations[np.arange(len(best)), best])


def shuffled_match(
    responses_a: torch.Tensor | np.ndarray,
    responses_b: torch.Tensor | np.ndarray,
    *,
    samples_per_image: int = 1,
    seed: int = 0,
) -> UnitMatch:
    """The same matching after shuffling which image B saw: the correlation expected from chance alone.

    Rows come in blocks of ``samples_per_image`` (grid cells of one image); whole blocks are
    shuffled, so positions within an image stay aligned and only the image correspondence breaks.
    """
    b = _as_matrix(responses_b, "responses_b")
    if len(b) % samples_per_image:
        raise ValueError(f"{len(b)} rows do not split into images of {samples_per_image} samples each.")
    order = np.random.default_rng(seed).permutation(len(b) // samples_per_image)
    shuffled = b.reshape(-1, samples_per_image, b.shape[1])[torch.from_numpy(order)].reshape(b.shape)
    return match_units(responses_a, shuffled)


def recurrence_by_layer(model_a: CircuitModel, model_b: CircuitModel, images: torch.Tensor, *, shuffled: bool = False,
                        grid: int = 4, seed: int = 0) -> dict[str, float]:
    """For every layer of ``model_a`` (which ``model_b`` must also name): the mean over A's units of the best
    correlation found among B's units on the same ``images`` (:func:`match_units`), or, when ``shuffled``, after
    shuffling which image B saw (:func:`shuffled_match`, the chance baseline). Lesson 09 compares two seeds' networks."""
    rep_a, rep_b = representations(model_a, images, grid=grid), representations(model_b, images, model_a.layer_names, grid=grid)
    return {layer: (shuffled_match(rep_a.responses(layer), rep_b.responses(layer), samples_per_image=grid ** 2, seed=seed)
                    if shuffled else match_units(rep_a.responses(layer), rep_b.responses(layer))).mean_best
            for layer in rep_a.layers}


# --- first-layer filters --------------------------------------------------------------------------
def first_conv(model: CircuitModel) -> tuple[str, nn.Conv2d]:
    """The first convolution that reads the RGB image: its module path and the module."""
    for path, module in model.module.named_modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3 and module.groups == 1:
            return path, module
    raise ValueError(f"{model.name} has no Conv2d with 3 input channels, so it has no first-layer RGB filters.")


def first_layer_filters(model: CircuitModel) -> torch.Tensor:
    """The first convolution's filters (C, 3, k, k) as they act on images in [0, 1] (the preprocessing's std folded in)."""
    _path, conv = first_conv(model)
    weights = conv.weight.detach().float().cpu().clone()
    if isinstance(model.preprocess, ImageNormalize):
        weights = weights / model.preprocess.std.detach().cpu().view(1, 3, 1, 1)
    return weights


@dataclass(frozen=True)
class FilterProperties:
    """Measurements of one RGB filter that decide its type."""

    colour_fraction: float  # share of the energy not explained by a grey (luminance) filter
    dc_fraction: float  # share of the luminance energy in its mean (a uniform blob)
    orientedness: float  # 0 (isotropic) .. 1 (all spectral power along one orientation)
    orientation: float  # degrees in [0, 180): direction of the stripes / edge the filter prefers
    kind: str


def _power_by_angle(pattern: np.ndarray, fft_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The power spectrum of a (k, k) pattern zero-padded to ``fft_size`` (0 outside the disk |f| <= 0.5 cycle/pixel,
    so the square grid's corners add no bias), and the angle atan2(fy, fx) of each frequency."""
    power = np.abs(np.fft.fft2(pattern, s=(fft_size, fft_size))) ** 2
    frequencies = np.fft.fftfreq(fft_size)
    fy, fx = np.meshgrid(frequencies, frequencies, indexing="ij")
    return np.where(fy**2 + fx**2 <= 0.25, power, 0.0), np.arctan2(fy, fx)


def filter_orientation(filter_rgb: torch.Tensor | np.ndarray, fft_size: int = 32) -> tuple[float, float]:
    """How strongly one (3, k, k) filter prefers one orientation, and which: ``(orientedness, orientation)``.

    What the filter classifier's "oriented" rule reads (a Gabor or an edge against a centre-surround). The grey
    filter (the channel mean) minus its mean, zero-padded to ``fft_size`` x ``fft_size``, has the power spectrum
    P(f); within the disk |f| <= 0.5 cycle/pixel (so the square grid's corners add no bias), with θ the angle of
    frequency f, R = Σ P e^{2iθ} / Σ P. ``orientedness`` = |R|, from 0 (isotropic) to 1 (all power along one line
    through the origin); ``orientation`` is the direction of the stripes or edge in degrees in [0, 180),
    counter-clockwise from horizontal: (-arg(R) / 2 in degrees + 90) mod 180. A filter with no pattern gets (0, 0).
    """
    w = np.asarray(filter_rgb.detach().cpu() if isinstance(filter_rgb, torch.Tensor) else filter_rgb, dtype=np.float64)
    if w.ndim != 3 or w.shape[0] != 3:
        raise ValueError(f"A filter must be (3, k, k) (RGB), got shape {w.shape}.")
    if fft_size < max(w.shape[1:]):
        raise ValueError(f"fft_size ({fft_size}) must be at least the filter size {w.shape[1:]}.")
    grey = w.mean(0)
    power, angle = _power_by_angle(grey - grey.mean(), fft_size)
    total = power.sum()
    if total <= 1e-20:
        return 0.0, 0.0
    resultant = (power * np.exp(2j * angle)).sum() / total
    # Power along frequency angle θ means stripes at θ + 90°; image rows grow downwards, so flip the sign.
    return float(abs(resultant)), float((-np.degrees(np.angle(resultant)) / 2 + 90) % 180)


def random_filter_properties(kernel: int, count: int = 2000, seed: int = 0) -> list[FilterProperties]:
    """Classify ``count`` Gaussian random RGB filters of size ``kernel``: what the classifier says about no learning."""
    return classify_filters(torch.randn(count, 3, kernel, kernel, generator=torch.Generator().manual_seed(seed)))


def filter_properties(
    filter_rgb: torch.Tensor | np.ndarray,
    *,
    colour_threshold: float = 0.9,
    dc_threshold: float = 0.5,
    oriented_threshold: float = 0.45,
    fft_size: int = 32,
) -> FilterProperties:
    """Measure one (3, k, k) filter and classify it as oriented, colour contrast, low frequency or other.

    - colour fraction: energy of ``w - grey(w)`` over energy of ``w``, where ``grey(w)`` repeats the
      channel mean; >= ``colour_threshold`` means **colour contrast**.
    - DC fraction: energy of the grey filter's mean over the grey filter's energy; >= ``dc_threshold``
      means **low frequency** (a blob of one sign).
    - orientedness: see :func:`filter_orientation`; >= ``oriented_threshold`` means **oriented**.
    - anything else is **other** (centre-surround, checkerboards, noise, dead filters).
    The rules are applied in that order.
    """
    w = np.asarray(filter_rgb.detach().cpu() if isinstance(filter_rgb, torch.Tensor) else filter_rgb, dtype=np.float64)
    if w.ndim != 3 or w.shape[0] != 3:
        raise ValueError(f"A filter must be (3, k, k) (RGB), got shape {w.shape}.")
    if fft_size < max(w.shape[1:]):
        raise ValueError(f"fft_size ({fft_size}) must be at least the filter size {w.shape[1:]}.")
    energy = float((w**2).sum())
    if energy <= 1e-20:
        return FilterProperties(0.0, 0.0, 0.0, 0.0, "other")
    grey = w.mean(0)
    colour_fraction = float(((w - grey) ** 2).sum() / energy)
    grey_energy = float((grey**2).sum())
    dc_fraction = float(grey.mean() ** 2 * grey.size / grey_energy) if grey_energy > 1e-20 else 0.0
    orientedness, orientation = filter_orientation(w, fft_size)
    if colour_fraction >= colour_threshold:
        kind = "colour contrast"
    elif dc_fraction >= dc_threshold:
        kind = "low frequency"
    elif orientedness >= oriented_threshold:
        kind = "oriented"
    else:
        kind = "other"
    return FilterProperties(colour_fraction, dc_fraction, orientedness, orientation, kind)


def classify_filters(filters: torch.Tensor | np.ndarray) -> list[FilterProperties]:
    """Measure and classify every filter of a (C, 3, k, k) stack."""
    return [filter_properties(f) for f in filters]


def filter_type_counts(properties: Sequence[FilterProperties]) -> dict[str, int]:
    """How many filters of each type (every type listed, zero included)."""
    return {kind: sum(p.kind == kind for p in properties) for kind in FILTER_TYPES}


def format_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of equal keys as an aligned text table, ready to print."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[str(row[k]) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in cells)


# --- several models ---------------------------------------------------------------------------------
