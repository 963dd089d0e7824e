"""Dataset examples: the images that make each unit of a layer fire, found in one streaming pass.

:func:`scan_layer` runs a layer over an :class:`~helpers.images.ImageSource` once and keeps, for
*every* unit of the layer at the same time (:func:`scan_layers` does several layers in the same pass):

- the ``top_k`` images with the largest activation (the unit's maximum over positions), with the
  position of that maximum;
- a *band* of moderately activating images (by default between the 50th and 90th percentile of the
  per-image maximum): what the unit does on ordinary inputs, not only on its favourite ones;
- a histogram of its activation over all positions, its mean and standard deviation, and the
  fraction of positions where it fires (value > 0, i.e. non-zero after the ReLU).

Memory stays fixed however many images stream past:

- top-k: a (units, k) table merged with each batch;
- band: one *reservoir sample* (Vitter's algorithm R) of ``reservoir`` images shared by all units,
  storing each unit's maximum and its position on those images. At the end the percentiles are
  read from the reservoir (exact while the source has at most ``reservoir`` images, otherwise a
  uniform random sample's estimate, within about ``1/sqrt(reservoir)`` in rank) and the band
  members are reservoir images whose value lies between them, spread evenly over the band;
- histogram: ``bins`` fixed-width bins per unit starting at ``min(0, first value)``; when a value
  falls past the top, the range doubles and neighbouring bins merge in pairs (so the counts stay
  exactly those of binning every value with the final edges); likewise at the bottom.

Only image indices and positions are stored, never pixels: ``source[i]`` reads an image again, and
the patches are cropped to the unit's receptive field around the position of its maximum.
Results are cached in ``data/cache/`` keyed by the model (name and a fingerprint of its weights),
layer, source and every setting.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .activations import capture, receptive_field
from .config import CACHE_DIR
from .images import ImageSource
from .models import CircuitModel

#: Bump when the stored layout or the algorithm changes, so old caches are never read.
FORMAT_VERSION = 1

#: The largest input size tried when looking for a receptive field that does not touch the border.
MAX_FIELD_SEARCH_SIZE = 1024


@dataclass(frozen=True)
class FieldGeometry:
    """Where a unit at map position (row, col) looks in the input: a box of ``height`` x ``width`` pixels.

    Its top-left corner is ``(offset_y + row * stride, offset_x + col * stride)``; the box may run
    past the image's border (deep layers see more than the image).
    """

    height: int
    width: int
    offset_y: float
    offset_x: float
    stride: float

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The input box (top, left, bottom, right) seen by the unit at map position (row, col)."""
        top = int(round(self.offset_y + row * self.stride))
        left = int(round(self.offset_x + col * self.stride))
        return top, left, top + self.height, left + self.width


def field_geometry(model: CircuitModel, layer: str, size: int) -> FieldGeometry:
    """The receptive-field geometry of ``layer`` for ``size``-pixel inputs.

    :func:`helpers.activations.receptive_field` gives the centre unit's box; it is measured at a
    larger input when the box touches the border (so it is not clipped), up to
    ``MAX_FIELD_SEARCH_SIZE`` pixels, then expressed as an offset and a stride.
    """
    probe = size
    while True:
        top, left, bottom, right = receptive_field(model, layer, probe)
        touches = top == 0 or left == 0 or bottom == probe or right == probe
        if not touches or probe * 2 > MAX_FIELD_SEARCH_SIZE:
            break
        probe *= 2
    _, rows, cols = model.layer_shapes(probe)[layer]
    stride = probe / rows
    return FieldGeometry(
        height=bottom - top,
        width=right - left,
        offset_y=top - (rows // 2) * stride,
        offset_x=left - (cols // 2) * stride,
        stride=stride,
    )


def crop_box(image: torch.Tensor, box: tuple[int, int, int, int], pad_value: float = 0.5) -> torch.Tensor:
    """Cut ``box`` (top, left, bottom, right) out of a (3, H, W) image, padding with ``pad_value`` past its border."""
    top, left, bottom, right = box
    _, h, w = image.shape
    patch = torch.full((image.shape[0], bottom - top, right - left), pad_value, dtype=image.dtype)
    src_top, src_left = max(top, 0), max(left, 0)
    src_bottom, src_right = min(bottom, h), min(right, w)
    if src_bottom > src_top and src_right > src_left:
        patch[:, src_top - top : src_bottom - top, src_left - left : src_right - left] = image[
            :, src_top:src_bottom, src_left:src_right
        ]
    return patch


@dataclass
class DatasetExamples:
    """What one streaming pass found for every unit of a layer (see the module docstring).

    Tables are indexed by channel first: ``top_value[c, j]`` is unit c's j-th largest per-image
    maximum, reached in image ``top_index[c, j]`` at map position ``top_position[c, j]`` (row, col).
    """

    model_name: str
    layer: str
    source_key: str
    settings: dict
    num_images: int
    map_size: tuple[int, int]
    image_size: int
    geometry: FieldGeometry
    top_value: torch.Tensor  # (C, k) float32
    top_index: torch.Tensor  # (C, k) int64
    top_position: torch.Tensor  # (C, k, 2) int64
    band_value: torch.Tensor  # (C, band_k) float32, NaN where a unit has fewer band members
    band_index: torch.Tensor  # (C, band_k) int64, -1 where empty
    band_position: torch.Tensor  # (C, band_k, 2) int64
    band_limits: torch.Tensor  # (C, 2) float32: the band's low and high percentile values
    hist_counts: torch.Tensor  # (C, bins) int64
    hist_low: torch.Tensor  # (C,) float64
    hist_width: torch.Tensor  # (C,) float64, the width of one bin
    mean: torch.Tensor  # (C,) float32
    std: torch.Tensor  # (C,) float32
    firing_fraction: torch.Tensor  # (C,) float32
    source: ImageSource | None = field(default=None, repr=False, compare=False)

    # --- sizes -------------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        """Number of units in the layer."""
        return int(self.top_value.shape[0])

    @property
    def num_positions(self) -> int:
        """How many (image, position) activations each unit's histogram and statistics count."""
        return self.num_images * self.map_size[0] * self.map_size[1]

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored tables (fixed by the settings, not by the number of images)."""
        return sum(v.numel() * v.element_size() for v in vars(self).values() if isinstance(v, torch.Tensor))

    def _check(self, channel: int) -> int:
        if not 0 <= int(channel) < self.channels:
            raise ValueError(f"Layer {self.layer!r} has channels 0..{self.channels - 1}; got {channel}.")
        return int(channel)

    def _need_source(self) -> ImageSource:
        if self.source is None:
            raise ValueError("These dataset examples have no image source attached; set .source to the scanned source.")
        return self.source

    # --- top examples ------------------------------------------------------------------------
    def _valid_top(self, channel: int) -> torch.Tensor:
        return self.top_index[self._check(channel)] >= 0

    def top_values(self, channel: int, k: int | None = None) -> torch.Tensor:
        """The unit's largest per-image maxima, largest first (at most ``k``)."""
        channel = self._check(channel)
        return self.top_value[channel][self._valid_top(channel)][:k]

    def top_indices(self, channel: int, k: int | None = None) -> torch.Tensor:
        """Source indices of the unit's top images, best first."""
        channel = self._check(channel)
        return self.top_index[channel][self._valid_top(channel)][:k]

    def top_positions(self, channel: int, k: int | None = None) -> torch.Tensor:
        """(row, col) map positions of the maximum in each top image, shape (k, 2)."""
        channel = self._check(channel)
        return self.top_position[channel][self._valid_top(channel)][:k]

    def top_images(self, channel: int, k: int | None = None) -> torch.Tensor:
        """The unit's top images, whole, read again from the source: (k, 3, S, S)."""
        return self._need_source().images(self.top_indices(channel, k))

    def top_patches(self, channel: int, k: int | None = None, pad_value: float = 0.5) -> torch.Tensor:
        """The unit's top images cropped to its receptive field around the maximum: (k, 3, r, r)."""
        return self._patches(self.top_indices(channel, k), self.top_positions(channel, k), pad_value)

    # --- band examples -----------------------------------------------------------------------
    def _valid_band(self, channel: int) -> torch.Tensor:
        return self.band_index[self._check(channel)] >= 0

    def band_values(self, channel: int, k: int | None = None) -> torch.Tensor:
        """Per-image maxima of the unit's band members (moderate activations), highest first."""
        channel = self._check(channel)
        return self.band_value[channel][self._valid_band(channel)][:k]

    def band_indices(self, channel: int, k: int | None = None) -> torch.Tensor:
        """Source indices of the unit's band members."""
        channel = self._check(channel)
        return self.band_index[channel][self._valid_band(channel)][:k]

    def band_positions(self, channel: int, k: int | None = None) -> torch.Tensor:
        """(row, col) positions of the maximum in each band member, shape (k, 2)."""
        channel = self._check(channel)
        return self.band_position[channel][self._valid_band(channel)][:k]

    def band_range(self, channel: int) -> tuple[float, float]:
        """The per-image-maximum values at the band's two percentiles."""
        low, high = self.band_limits[self._check(channel)].tolist()
        return low, high

    def band_patches(self, channel: int, k: int | None = None, pad_value: float = 0.5) -> torch.Tensor:
        """Band members cropped to the receptive field around the maximum: (k, 3, r, r)."""
        return self._patches(self.band_indices(channel, k), self.band_positions(channel, k), pad_value)

    # --- statistics --------------------------------------------------------------------------
    def histogram(self, channel: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Counts of the unit's activations over every position, and the bins+1 edges."""
        channel = self._check(channel)
        bins = self.hist_counts.shape[1]
        edges = self.hist_low[channel] + self.hist_width[channel] * torch.arange(bins + 1, dtype=torch.float64)
        return self.hist_counts[channel].clone(), edges

    def summary(self, channel: int) -> dict[str, float]:
        """A unit's mean, standard deviation, firing fraction and top value, as plain numbers."""
        channel = self._check(channel)
        top = self.top_values(channel)
        return {
            "mean": float(self.mean[channel]),
            "std": float(self.std[channel]),
            "firing_fraction": float(self.firing_fraction[channel]),
            "top_value": float(top[0]) if len(top) else float("nan"),
        }

    def selectivity(self) -> torch.Tensor:
        """Per unit, how many standard deviations its top example lies above its mean activation (C,)."""
        return (self.top_value[:, 0] - self.mean) / self.std.clamp_min(1e-8)

    def most_selective(self, count: int) -> list[int]:
        """The ``count`` units that fire and whose top example stands out most (a first guess at clean features).

        Units that never fire (value > 0) on the scanned images are left out: their "top example" is noise.
        """
        alive = self.firing_fraction > 0
        if not 1 <= count <= int(alive.sum()):
            raise ValueError(f"count must be between 1 and {int(alive.sum())} (the units that fire), got {count}.")
        score = self.selectivity().nan_to_num(float("-inf")).masked_fill(~alive, float("-inf"))
        return score.argsort(descending=True)[:count].tolist()

    # --- patches -----------------------------------------------------------------------------
    def patch_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input box (top, left, bottom, right) seen by a unit at map position (row, col)."""
        return self.geometry.box(row, col)

    def patch(self, index: int, row: int, col: int, pad_value: float = 0.5) -> torch.Tensor:
        """Image ``index`` of the source cropped to the receptive field of position (row, col): (3, r, r)."""
        return self._square(crop_box(self._need_source()[int(index)], self.patch_box(row, col), pad_value), pad_value)

    def random_patches(self, count: int, generator: torch.Generator, pad_value: float = 0.5) -> torch.Tensor:
        """``count`` receptive-field patches at random images and positions (a baseline to compare with)."""
        source = self._need_source()
        images = torch.randint(len(source), (count,), generator=generator)
        rows = torch.randint(self.map_size[0], (count,), generator=generator)
        cols = torch.randint(self.map_size[1], (count,), generator=generator)
        return torch.stack([self.patch(int(i), int(r), int(c), pad_value) for i, r, c in zip(images, rows, cols)])

    def patch_activations(self, model: CircuitModel, channel: int, patches: torch.Tensor, *, pre_activation: bool = False,
                          pad_value: float = 0.5) -> torch.Tensor:
        """The unit's activation on receptive-field patches, each seen exactly where the scan saw it (N,).

        A patch fed to the network on its own lands off the layer's stride grid and beside zero
        padding (a 3 x 3 patch through a stride-2 stem is never seen centred), so the unit is read at
        other positions than the one it fired at. Here each patch is pasted into a ``pad_value`` canvas
        of the scanned size at the box of the map's centre position, and the unit is read there.
        """
        from .activations import capture

        channel = self._check(channel)
        row, col = self.map_size[0] // 2, self.map_size[1] // 2
        top, left, bottom, right = self.patch_box(row, col)
        size = self.image_size
        canvas = torch.full((len(patches), 3, size, size), pad_value, dtype=patches.dtype)
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(bottom, size), min(right, size)
        canvas[:, :, y0:y1, x0:x1] = patches[:, :, y0 - top : y1 - top, x0 - left : x1 - left]
        maps = capture(model, canvas, self.layer, pre_activation=pre_activation)[self.layer]
        return maps[:, channel, row, col]

    def _square(self, patch: torch.Tensor, pad_value: float) -> torch.Tensor:
        side = max(self.geometry.height, self.geometry.width)
        if patch.shape[1] == patch.shape[2] == side:
            return patch
        return crop_box(patch, (0, 0, side, side), pad_value)

    def _patches(self, indices: torch.Tensor, positions: torch.Tensor, pad_value: float) -> torch.Tensor:
        side = max(self.geometry.height, self.geometry.width)
        if len(indices) == 0:
            return torch.empty(0, 3, side, side)
        return torch.stack([self.patch(int(i), int(p[0]), int(p[1]), pad_value) for i, p in zip(indices, positions)])

    # --- storage -----------------------------------------------------------------------------
    def to_state(self) -> dict:
        """Everything but the source, as plain Python values and tensors (what the cache stores)."""
        state = {k: v for k, v in vars(self).items() if k != "source"}
        state["geometry"] = vars(self.geometry).copy()
        return state

    @classmethod
    def from_state(cls, state: dict, source: ImageSource | None = None) -> "DatasetExamples":
        """Rebuild from :meth:`to_state`'s dictionary, attaching ``source`` for patches."""
        state = dict(state)
        state["geometry"] = FieldGeometry(**state["geometry"])
        state["map_size"] = tuple(state["map_size"])
        return cls(**state, source=source)


class _HistogramStream:
    """Per-unit fixed-bin histograms whose range doubles (merging bin pairs) to fit new values."""

    def __init__(self, channels: int, bins: int):
        if bins < 2 or bins % 2:
            raise ValueError(f"bins must be an even number >= 2, got {bins}.")
        self.bins = bins
        self.counts = torch.zeros(channels, bins, dtype=torch.int64)
        self.low = torch.zeros(channels, dtype=torch.float64)
        self.width = torch.zeros(channels, dtype=torch.float64)
        self.started = False

    def _double(self, channels: torch.Tensor, upward: bool) -> None:
        counts = self.counts[channels]
        merged = counts.view(len(channels), self.bins // 2, 2).sum(2)
        empty = torch.zeros_like(merged)
        self.counts[channels] = torch.cat([merged, empty] if upward else [empty, merged], dim=1)
        if not upward:
            self.low[channels] -= self.width[channels] * self.bins
        self.width[channels] *= 2

    def add(self, values: torch.Tensor) -> None:
        """Count ``values`` of shape (B, C, M): for each of the C units, B x M activations."""
        lows, highs = values.amin(dim=(0, 2)).double(), values.amax(dim=(0, 2)).double()
        if not self.started:
            self.low = torch.minimum(lows, torch.zeros_like(lows))
            span = (highs - self.low).clamp_min(1e-6)
            self.width = span * (1 + 1e-6) / self.bins
            self.started = True
        while True:
            top = self.low + self.width * self.bins
            too_high = torch.nonzero(highs >= top).flatten()
            too_low = torch.nonzero(lows < self.low).flatten()
            if len(too_high) == 0 and len(too_low) == 0:
                break
            if len(too_high):
                self._double(too_high, upward=True)
            if len(too_low):
                self._double(too_low, upward=False)
        channels = values.shape[1]
        low, width = self.low.float()[None, :, None], self.width.float()[None, :, None]
        position = ((values - low) / width).floor_().clamp_(0, self.bins - 1).long()
        position += torch.arange(channels)[None, :, None] * self.bins
        self.counts += torch.bincount(position.flatten(), minlength=channels * self.bins).view(channels, self.bins)


def _model_fingerprint(model: CircuitModel) -> str:
    import re

    digest = hashlib.sha1()
    # The architecture too (settings without weights, e.g. InceptionV1's local response norm), minus memory addresses.
    digest.update(re.sub(r" at 0x[0-9a-fA-F]+", "", repr(model.module) + repr(model.preprocess)).encode())
    for name, tensor in model.module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_path(model: CircuitModel, layer: str, source: ImageSource, settings: dict, cache_dir: Path | None = None) -> Path:
    """The cache file for a scan: its name holds every setting that changes the result."""
    description = repr(sorted({"format": FORMAT_VERSION, "model": model.name, "weights": _model_fingerprint(model),
                               "layer": layer, "source": source.key, **settings}.items()))
    digest = hashlib.sha1(description.encode()).hexdigest()[:20]
    safe_layer = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer)
    return Path(cache_dir or CACHE_DIR) / "dataset_examples" / f"{model.name}-{safe_layer}-{digest}.pt"


def _load_cache(path: Path, settings: dict, source: ImageSource) -> DatasetExamples | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT_VERSION or state["examples"]["settings"] != settings:
            return None
        if state["examples"]["source_key"] != source.key:
            return None
        return DatasetExamples.from_state(state["examples"], source)
    except Exception:  # a truncated, corrupt or foreign file: ignore it and scan again
        return None


def _save_cache(path: Path, examples: DatasetExamples) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    from .download import remove_stale_temporaries

    remove_stale_temporaries(path.parent, "*.pt*.tmp")  # orphans of saves that were killed (kill -9) mid-write
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        torch.save({"format": FORMAT_VERSION, "examples": examples.to_state()}, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_settings(model: CircuitModel, layer: str, top_k: int, band: tuple[float, float], band_k: int,
                    pre_activation: bool, reservoir: int, bins: int, exclude_border: int) -> None:
    model.layer(layer)  # raises, listing the real layers, for an unknown name
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}.")
    if band_k < 1:
        raise ValueError(f"band_k must be at least 1, got {band_k}.")
    if len(band) != 2 or not 0.0 <= band[0] < band[1] <= 1.0:
        raise ValueError(f"band must be two fractions (low, high) with 0 <= low < high <= 1, e.g. (0.5, 0.9); got {band}.")
    if reservoir < band_k:
        raise ValueError(f"reservoir ({reservoir}) must hold at least band_k ({band_k}) images.")
    if bins < 2 or bins % 2:
        raise ValueError(f"bins must be an even number >= 2, got {bins}.")
    if exclude_border < 0:
        raise ValueError(f"exclude_border is a number of map cells, 0 or more; got {exclude_border}.")
    if pre_activation and model.layer(layer).pre_activation_path is None:
        raise ValueError(f"{model.name} layer {layer!r} has no separate pre-activation; use pre_activation=False.")


def _pick_band(values: torch.Tensor, band: tuple[float, float], band_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For reservoir values (R, C): per unit the band limits (C, 2) and up to ``band_k`` member rows (C, band_k)."""
    count, channels = values.shape
    limits = torch.quantile(values.double(), torch.tensor(band, dtype=torch.float64), dim=0).T.float()  # (C, 2)
    rows = torch.full((channels, band_k), -1, dtype=torch.int64)
    order = values.argsort(dim=0, descending=True)  # highest first
    for c in range(channels):
        sorted_values = values[order[:, c], c]
        inside = torch.nonzero((sorted_values >= limits[c, 0]) & (sorted_values <= limits[c, 1])).flatten()
        if len(inside) == 0:
            continue
        chosen = inside[torch.linspace(0, len(inside) - 1, min(band_k, len(inside))).round().long().unique()]
        rows[c, : len(chosen)] = order[chosen, c]
    return limits, rows


def _interior_maximum(maps: torch.Tensor, margin: int, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Each unit's maximum over the map positions at least ``margin`` cells from the edge, and its
    flat position in the whole map: (B, C) values and (B, C) indices."""
    rows, cols = maps.shape[2:]
    if 2 * margin >= min(rows, cols):
        raise ValueError(f"exclude_border={margin} leaves no position of {layer}'s {rows}x{cols} map; "
                         f"use at most {(min(rows, cols) - 1) // 2}.")
    inner = maps[:, :, margin : rows - margin, margin : cols - margin].flatten(2)
    best, inner_where = inner.max(2)
    inner_cols = cols - 2 * margin
    return best, (inner_where // inner_cols + margin) * cols + inner_where % inner_cols + margin


class _LayerScan:
    """The fixed-size running state of one layer's scan: fed batch by batch, then finished."""

    def __init__(self, layer: str, channels: int, settings: dict):
        self.layer = layer
        self.channels = channels
        self.settings = settings
        top_k, reservoir = settings["top_k"], settings["reservoir"]
        self.rng = np.random.default_rng(settings["seed"])
        self.top_value = torch.full((channels, top_k), -math.inf)
        self.top_index = torch.full((channels, top_k), -1, dtype=torch.int64)
        self.top_flat = torch.zeros((channels, top_k), dtype=torch.int64)
        self.sample_value = torch.zeros((reservoir, channels))
        self.sample_flat = torch.zeros((reservoir, channels), dtype=torch.int64)
        self.sample_index = torch.full((reservoir,), -1, dtype=torch.int64)
        self.histogram = _HistogramStream(channels, settings["bins"])
        self.total = torch.zeros(channels, dtype=torch.float64)
        self.total_squares = torch.zeros(channels, dtype=torch.float64)
        self.firing = torch.zeros(channels, dtype=torch.int64)
        self.seen = 0
        self.map_size = (0, 0)

    def add(self, indices: torch.Tensor, maps: torch.Tensor) -> None:
        """Take in one batch: source ``indices`` (B,) and the layer's activation ``maps`` (B, C, h, w)."""
        batch, channels, rows, cols = maps.shape
        self.map_size = (rows, cols)
        flat = maps.flatten(2)  # (B, C, h*w)
        best, where = _interior_maximum(maps, self.settings["exclude_border"], self.layer)

        merged_value = torch.cat([self.top_value, best.T], dim=1)
        merged_index = torch.cat([self.top_index, indices[None].expand(channels, batch)], dim=1)
        merged_flat = torch.cat([self.top_flat, where.T], dim=1)
        self.top_value, keep = merged_value.topk(self.settings["top_k"], dim=1)
        self.top_index, self.top_flat = merged_index.gather(1, keep), merged_flat.gather(1, keep)

        reservoir = self.settings["reservoir"]
        for j in range(batch):  # algorithm R: one draw per image, shared by all units
            count = self.seen + j
            slot = count if count < reservoir else int(self.rng.integers(count + 1))
            if slot < reservoir:
                self.sample_value[slot], self.sample_flat[slot], self.sample_index[slot] = best[j], where[j], indices[j]
        self.seen += batch

        self.histogram.add(flat)
        self.total += flat.sum(dim=(0, 2)).double()
        self.total_squares += flat.square().sum(dim=(0, 2)).double()
        self.firing += (flat > 0).sum(dim=(0, 2))

    def finish(self, model: CircuitModel, source: ImageSource) -> DatasetExamples:
        """Read the band out of the reservoir and package everything as :class:`DatasetExamples`."""
        filled = min(self.seen, self.settings["reservoir"])
        values, flats, image_index = self.sample_value[:filled], self.sample_flat[:filled], self.sample_index[:filled]
        limits, band_rows = _pick_band(values, tuple(self.settings["band"]), self.settings["band_k"])
        empty = band_rows < 0
        rows = band_rows.clamp_min(0)
        unit_ids = torch.arange(self.channels)[:, None]
        band_flat = flats[rows, unit_ids].masked_fill(empty, 0)
        count = self.seen * self.map_size[0] * self.map_size[1]
        mean = self.total / count
        variance = (self.total_squares / count - mean.square()).clamp_min(0)
        width = self.map_size[1]
        state = dict(
            model_name=model.name,
            layer=self.layer,
            source_key=source.key,
            settings=self.settings,
            num_images=self.seen,
            map_size=self.map_size,
            image_size=int(source.size),
            geometry=vars(field_geometry(model, self.layer, int(source.size))),
            top_value=self.top_value.masked_fill(self.top_index < 0, float("nan")),
            top_index=self.top_index,
            top_position=torch.stack([self.top_flat // width, self.top_flat % width], dim=-1),
            band_value=values[rows, unit_ids].masked_fill(empty, float("nan")),
            band_index=image_index[rows].masked_fill(empty, -1),
            band_position=torch.stack([band_flat // width, band_flat % width], dim=-1),
            band_limits=limits,
            hist_counts=self.histogram.counts,
            hist_low=self.histogram.low,
            hist_width=self.histogram.width,
            mean=mean.float(),
            std=variance.sqrt().float(),
            firing_fraction=(self.firing.double() / count).float(),
        )
        # Tensors made under inference_mode cannot be changed in place later; hand back ordinary copies.
        state = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}
        return DatasetExamples.from_state(state, source)


def scan_layers(
    model: CircuitModel,
    layers: Sequence[str],
    source: ImageSource,
    *,
    top_k: int = 16,
    band: tuple[float, float] = (0.5, 0.9),
    band_k: int = 16,
    pre_activation: bool = False,
    reservoir: int = 1024,
    bins: int = 64,
    seed: int = 0,
    exclude_border: int = 0,
    cache: bool = True,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, DatasetExamples]:
    """:func:`scan_layer` for several layers in ONE pass (the forward stops at the deepest); cached per layer."""
    from tqdm.auto import tqdm

    layers = list(dict.fromkeys(layers))
    if not layers:
        raise ValueError("Pass at least one layer name to scan.")
    band = tuple(float(b) for b in band)
    for layer in layers:
        _check_settings(model, layer, top_k, band, band_k, pre_activation, reservoir, bins, exclude_border)
    if len(source) == 0:
        raise ValueError("The image source is empty: nothing to scan.")
    settings = {"top_k": int(top_k), "band": list(band), "band_k": int(band_k), "pre_activation": bool(pre_activation),
                "reservoir": int(reservoir), "bins": int(bins), "seed": int(seed), "exclude_border": int(exclude_border)}
    paths = {layer: cache_path(model, layer, source, settings, cache_dir) for layer in layers}
    found: dict[str, DatasetExamples] = {}
    if cache:
        for layer in layers:
            cached = _load_cache(paths[layer], settings, source)
            if cached is not None:
                found[layer] = cached
    missing = [layer for layer in layers if layer not in found]
    if missing:
        scans = {layer: _LayerScan(layer, model.channels(layer), settings) for layer in missing}
        batches = tqdm(source.indexed_batches(), total=math.ceil(len(source) / source.batch_size),
                       desc=f"scan {', '.join(missing)}", disable=not progress)
        with torch.inference_mode():
            for indices, images in batches:
                maps = capture(model, images, missing, pre_activation=pre_activation)
                for layer, running in scans.items():
                    running.add(indices, maps[layer].float().cpu())
        for layer, running in scans.items():
            found[layer] = running.finish(model, source)
            if cache:
                _save_cache(paths[layer], found[layer])
    return {layer: found[layer] for layer in layers}


def scan_layer(
    model: CircuitModel,
    layer: str,
    source: ImageSource,
    *,
    top_k: int = 16,
    band: tuple[float, float] = (0.5, 0.9),
    band_k: int = 16,
    pre_activation: bool = False,
    reservoir: int = 1024,
    bins: int = 64,
    seed: int = 0,
    exclude_border: int = 0,
    cache: bool = True,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> DatasetExamples:
    """Find top and band dataset examples, a histogram and statistics for every unit of ``layer``.

    One pass over ``source`` (see the module docstring for how memory stays fixed). ``seed`` drives
    the reservoir sample. ``exclude_border`` > 0 picks each image's maximum (for the top and band
    examples) only among map positions at least that many cells from the edge, where zero padding
    makes the image's own border look like a strong edge; the histogram and statistics still cover
    every position. ``cache`` reads and writes ``data/cache/dataset_examples/`` (or
    ``cache_dir``), where a changed model, layer, source or setting never returns an old result.
    """
    return scan_layers(model, [layer], source, top_k=top_k, band=band, band_k=band_k, pre_activation=pre_activation,
                       reservoir=reservoir, bins=bins, seed=seed, exclude_border=exclude_border, cache=cache,
                       cache_dir=cache_dir, progress=progress)[layer]
