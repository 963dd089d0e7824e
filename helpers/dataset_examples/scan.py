"""The scan itself: one streaming pass over an image source, for every unit of one or more layers."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..activations import stream
from ..arguments import whole_number
from ..files import save_or_warn
from ..images import ImageSource
from ..models import CircuitModel
from .cache import cache_path, load_cache, model_fingerprint, save_cache
from .examples import DatasetExamples
from .geometry import field_geometry
from .histogram import StreamingHistogram


@dataclass(frozen=True)
class ScanSettings:
    """Every setting that changes a scan's result: checked once when made, and the cache key's part (:meth:`key`).

    ``max_examples`` strongest images per unit; ``band`` the (low, high) quantiles of the typical examples and
    ``max_band_examples`` how many; ``reservoir`` images sampled to find the band (``seed`` drives the sample);
    ``bins`` of the histogram; ``exclude_border`` map cells ignored at the edge when picking each image's
    maximum; ``pre_activation`` reads values before the non-linearity.
    """

    max_examples: int = 16
    band: tuple[float, float] = (0.5, 0.9)
    max_band_examples: int = 16
    pre_activation: bool = False
    reservoir: int = 1024
    bins: int = 64
    seed: int = 0
    exclude_border: int = 0

    def __post_init__(self) -> None:
        for name in ("max_examples", "max_band_examples", "reservoir", "bins", "seed", "exclude_border"):
            object.__setattr__(self, name, whole_number(getattr(self, name), name))
        object.__setattr__(self, "band", tuple(float(b) for b in self.band))
        object.__setattr__(self, "pre_activation", bool(self.pre_activation))
        if self.max_examples < 1:
            raise ValueError(f"max_examples must be at least 1, got {self.max_examples}.")
        if self.max_band_examples < 1:
            raise ValueError(f"max_band_examples must be at least 1, got {self.max_band_examples}.")
        if len(self.band) != 2 or not 0.0 <= self.band[0] < self.band[1] <= 1.0:
            raise ValueError(f"band must be two fractions (low, high) with 0 <= low < high <= 1, e.g. (0.5, 0.9); got {self.band}.")
        if self.reservoir < self.max_band_examples:
            raise ValueError(f"reservoir ({self.reservoir}) must hold at least max_band_examples ({self.max_band_examples}) images.")
        if self.bins < 2 or self.bins % 2:
            raise ValueError(f"bins must be an even number >= 2, got {self.bins}.")
        if self.exclude_border < 0:
            raise ValueError(f"exclude_border is a number of map cells, 0 or more; got {self.exclude_border}.")

    def check(self, model: CircuitModel, layer: str) -> None:
        """Raise if ``layer`` is not one of ``model``'s, or has no separate pre-activation when one is asked for."""
        model.layer(layer)  # raises, listing the real layers, for an unknown name
        if self.pre_activation and model.layer(layer).pre_activation_path is None:
            raise ValueError(f"{model.name} layer {layer!r} has no separate pre-activation; use pre_activation=False.")

    def key(self) -> dict:
        """The settings as plain values: the cache key's part and what a finished scan records."""
        return {"max_examples": self.max_examples, "band": list(self.band), "max_band_examples": self.max_band_examples, "pre_activation": self.pre_activation,
                "reservoir": self.reservoir, "bins": self.bins, "seed": self.seed, "exclude_border": self.exclude_border}


def _pick_band(values: torch.Tensor, band: tuple[float, float], max_band_examples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For reservoir values (R, C): per unit the band limits (C, 2) and up to ``max_band_examples`` member rows (C, max_band_examples)."""
    count, channels = values.shape
    limits = torch.quantile(values.double(), torch.tensor(band, dtype=torch.float64), dim=0).T.float()  # (C, 2)
    rows = torch.full((channels, max_band_examples), -1, dtype=torch.int64)
    order = values.argsort(dim=0, descending=True)  # highest first
    for c in range(channels):
        sorted_values = values[order[:, c], c]
        inside = torch.nonzero((sorted_values >= limits[c, 0]) & (sorted_values <= limits[c, 1])).flatten()
        if len(inside) == 0:
            continue
        chosen = inside[torch.linspace(0, len(inside) - 1, min(max_band_examples, len(inside))).round().long().unique()]
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


def _merge_top(kept: tuple[torch.Tensor, torch.Tensor, torch.Tensor], indices: torch.Tensor, best: torch.Tensor,
               where: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``count`` strongest images per unit so far, (C, count) values, source indices and flat positions, merged with one
    batch's candidates: its images' source ``indices`` (B,), each unit's maximum ``best`` (B, C) and where it is (B, C)."""
    channels, batch = best.shape[1], best.shape[0]
    merged_value = torch.cat([kept[0], best.T], dim=1)
    merged_index = torch.cat([kept[1], indices[None].expand(channels, batch)], dim=1)
    merged_flat = torch.cat([kept[2], where.T], dim=1)
    value, keep = merged_value.topk(count, dim=1)
    return value, merged_index.gather(1, keep), merged_flat.gather(1, keep)


def strongest_examples(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], count: int
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The scan's top examples on their own: per unit, the ``count`` images of a stream whose maximum over positions is
    largest, strongest first, kept batch by batch in fixed memory (each batch's candidates merged with those kept).

    ``batches`` yields (source indices (B,), maps (B, C, h, w)); returns values (C, count), source indices
    (C, count) and the (row, column) of each image's maximum, (C, count, 2). Fewer than ``count`` images: the missing
    places hold -inf, -1 and (0, 0). What :func:`scan_layers` keeps as ``top_value``, ``top_index`` and ``top_position``.
    """
    count = whole_number(count, "count", minimum=1)
    kept: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    width = 1
    for indices, maps in batches:
        if kept is None:
            channels = maps.shape[1]
            kept = (torch.full((channels, count), -math.inf), torch.full((channels, count), -1, dtype=torch.int64),
                    torch.zeros((channels, count), dtype=torch.int64))
        width = maps.shape[3]
        best, where = _interior_maximum(maps.float(), 0, "the maps")
        kept = _merge_top(kept, torch.as_tensor(indices, dtype=torch.int64), best, where, count)
    if kept is None:
        raise ValueError("strongest_examples got no batch: pass at least one (indices, maps) pair.")
    value, index, flat = kept
    return value, index, torch.stack([flat // width, flat % width], dim=-1)


class _LayerScan:
    """The fixed-size running state of one layer's scan: fed batch by batch, then finished."""

    def __init__(self, layer: str, channels: int, settings: ScanSettings):
        self.layer = layer
        self.channels = channels
        self.settings = settings
        max_examples, reservoir = settings.max_examples, settings.reservoir
        self.rng = np.random.default_rng(settings.seed)
        self.top_value = torch.full((channels, max_examples), -math.inf)
        self.top_index = torch.full((channels, max_examples), -1, dtype=torch.int64)
        self.top_flat = torch.zeros((channels, max_examples), dtype=torch.int64)
        self.sample_value = torch.zeros((reservoir, channels))
        self.sample_flat = torch.zeros((reservoir, channels), dtype=torch.int64)
        self.sample_index = torch.full((reservoir,), -1, dtype=torch.int64)
        self.histogram = StreamingHistogram(channels, settings.bins)
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
        best, where = _interior_maximum(maps, self.settings.exclude_border, self.layer)

        self.top_value, self.top_index, self.top_flat = _merge_top(
            (self.top_value, self.top_index, self.top_flat), indices, best, where, self.settings.max_examples)

        reservoir = self.settings.reservoir
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
        filled = min(self.seen, self.settings.reservoir)
        values, flats, image_index = self.sample_value[:filled], self.sample_flat[:filled], self.sample_index[:filled]
        limits, band_rows = _pick_band(values, self.settings.band, self.settings.max_band_examples)
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
            settings=self.settings.key(),
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
        return DatasetExamples.from_state(state, source)


def scan_layers(
    model: CircuitModel,
    layers: Sequence[str],
    source: ImageSource,
    settings: ScanSettings | None = None,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    progress: bool = True,
    **options: object,
) -> dict[str, DatasetExamples]:
    """:func:`scan_layer` for several layers in ONE pass (the forward stops at the deepest); cached per layer.

    ``settings`` (a :class:`ScanSettings`, default its defaults) with ``options`` replacing its fields, e.g. ``max_examples=8``.
    """
    if isinstance(layers, str) or not all(isinstance(layer, str) for layer in layers):
        raise TypeError(f"scan_layers takes a list of layer names, got {layers!r}; for one layer use scan_layer(model, layer, source).")
    if not isinstance(source, ImageSource):
        raise TypeError(f"source must be an image source, got a {type(source).__name__}: wrap images in a folder with "
                        "ImageFolder(path, size=...) or crops of photographs with RandomCrops(photos, count=..., size=...).")
    layers = list(dict.fromkeys(layers))
    if not layers:
        raise ValueError("Pass at least one layer name to scan.")
    settings = _with_options(settings or ScanSettings(), options)
    for layer in layers:
        settings.check(model, layer)
    if len(source) == 0:
        raise ValueError("The image source is empty: nothing to scan.")
    fingerprint = model_fingerprint(model)  # hashes every weight: once per scan, not once per layer
    paths = {layer: cache_path(model, layer, source, settings.key(), cache_dir, fingerprint=fingerprint) for layer in layers}
    found: dict[str, DatasetExamples] = {}
    if cache:
        for layer in layers:
            cached = load_cache(paths[layer], settings.key(), source)
            if cached is not None:
                found[layer] = cached
    missing = [layer for layer in layers if layer not in found]
    if missing:
        scans = {layer: _LayerScan(layer, model.channels(layer), settings) for layer in missing}
        for indices, maps in stream(model, source, missing, pre_activation=settings.pre_activation, progress=progress,
                                    description=f"scan {', '.join(missing)}"):
            for layer, running in scans.items():
                running.add(indices, maps[layer])
        for layer, running in scans.items():
            found[layer] = running.finish(model, source)
            if cache:  # a folder that refuses the file costs a warning, never the finished scan
                save_or_warn(paths[layer], lambda path: save_cache(path, found[layer]), f"the scan of {layer}")
    return {layer: found[layer] for layer in layers}


def _with_options(settings: ScanSettings, options: dict[str, object]) -> ScanSettings:
    """``settings`` with the fields named in ``options`` replaced; an unknown name raises, listing the known ones."""
    known = {f.name for f in fields(ScanSettings)}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"Unknown scan setting(s) {', '.join(sorted(unknown))}; allowed: "
                        f"{', '.join(sorted(known | {'cache', 'cache_dir', 'progress'}))}.")
    return replace(settings, **options) if options else settings


def scan_layer(model: CircuitModel, layer: str, source: ImageSource, **options: object) -> DatasetExamples:
    """Find top and band dataset examples, a histogram and statistics for every unit of ``layer``.

    One pass over ``source`` (see the module docstring for how memory stays fixed). ``seed`` drives
    the reservoir sample. ``exclude_border`` > 0 picks each image's maximum (for the top and band
    examples) only among map positions at least that many cells from the edge, where zero padding
    makes the image's own border look like a strong edge; the histogram and statistics still cover
    every position. ``cache`` reads and writes ``data/cache/dataset_examples/`` (or
    ``cache_dir``), where a changed model, layer, source or setting never returns an old result.

    ``options`` are :func:`scan_layers`' keywords: ``settings`` (a :class:`ScanSettings`) or its fields
    ``max_examples`` (16), ``band`` ((0.5, 0.9)), ``max_band_examples`` (16), ``pre_activation``, ``reservoir`` (1024),
    ``bins`` (64), ``seed``, ``exclude_border``; and ``cache``, ``cache_dir``, ``progress``.
    """
    if not isinstance(layer, str):
        raise TypeError(f"scan_layer takes one layer name, got {layer!r}; for several layers use scan_layers(model, layers, source).")
    return scan_layers(model, [layer], source, **options)[layer]
