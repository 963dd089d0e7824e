"""Sparse dictionaries: read a layer as more features than it has units, each active on few inputs.

Superposition (lesson 06) says a layer of ``d`` units can store more than ``d`` features as
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
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm


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
        vectors = self._check(vectors)
        error = (vectors - self.decode(self.encode(vectors))).square().sum()
        return float(1 - error / (vectors - vectors.mean(0)).square().sum())

    def active_per_input(self, vectors: torch.Tensor) -> float:
        """Mean number of non-zero codes per input vector."""
        return float((self.encode(vectors) > 0).sum(1).float().mean())

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


def layer_vectors(maps: torch.Tensor) -> torch.Tensor:
    """One activation vector per image and position: maps (N, C, h, w) -> (N*h*w, C), image-major."""
    if maps.ndim != 4:
        raise ValueError(f"expected activation maps of shape (N, C, h, w), got {tuple(maps.shape)}")
    return maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1]).float()


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
) -> SparseDictionary:
    """Learn ``features`` unit-length directions whose sparse non-negative combinations rebuild ``vectors`` (N, d).

    Adam on minibatches drawn with ``generator`` (the same generator state gives the same dictionary);
    the directions are renormalized after every step so that ``l1`` cannot be dodged by shrinking
    codes and growing directions. Larger ``l1``: fewer active features per input, worse reconstruction.
    """
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError(f"expected at least two activation vectors of shape (N, d), got {tuple(vectors.shape)}")
    if features < 1 or steps < 1 or batch_size < 1 or l1 < 0:
        raise ValueError(f"features, steps and batch_size must be positive and l1 >= 0; got {features}, {steps}, "
                         f"{batch_size}, {l1}")
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
        codes = torch.relu((batch - centre) @ encoder.T + encoder_bias)
        loss = (centre + codes @ directions - batch).square().sum(1).mean() + l1 * codes.sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            directions.copy_(torch.nn.functional.normalize(directions, dim=1))
    return SparseDictionary(encoder.detach(), encoder_bias.detach(), directions.detach(), centre.detach() * scale,
                            scale, l1)


def best_match(found: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """For each known direction (k, d), the largest cosine similarity with any found direction (n, d): 1 = recovered."""
    if found.ndim != 2 or known.ndim != 2 or found.shape[1] != known.shape[1]:
        raise ValueError(f"expected (n, d) and (k, d) directions with the same d, got {tuple(found.shape)} and "
                         f"{tuple(known.shape)}")
    unit = torch.nn.functional.normalize
    return (unit(known, dim=1) @ unit(found, dim=1).T).max(1).values


def top_inputs(codes: torch.Tensor, map_size: tuple[int, int], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each feature's ``k`` strongest images and where in them it peaked, from codes (N*h*w, n) laid out
    like :func:`layer_vectors`: image indices (n, k) and map positions (n, k, 2), strongest first.
    A feature never active gets index -1."""
    rows, cols = map_size
    per_image = codes.reshape(-1, rows * cols, codes.shape[1])  # (N, h*w, n)
    if k > per_image.shape[0]:
        raise ValueError(f"k={k} is more than the {per_image.shape[0]} images scanned")
    peak, where = per_image.max(1)  # (N, n)
    values, images = peak.T.topk(k, dim=1)  # (n, k)
    flat = where.T.gather(1, images)
    images = images.masked_fill(values <= 0, -1)
    return images, torch.stack([flat // cols, flat % cols], dim=-1)
