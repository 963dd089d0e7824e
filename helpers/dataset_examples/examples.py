"""The result container of a dataset-example scan: :class:`DatasetExamples`.

It holds, per unit of one layer, the top and band examples (image indices and positions, never
pixels), the histogram and the statistics, and reads images back from the scanned source to show
them whole or cropped to the receptive field.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..arguments import whole_number
from ..images import ImageSource
from ..models import CircuitModel
from .geometry import FieldGeometry, crop_box



def _how_many(count: int | None) -> int | None:
    """``count`` checked (None: all): a negative count would silently mean "all but the last ones"."""
    return None if count is None else whole_number(count, "count", minimum=0)

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
    top_value: torch.Tensor  # (C, max_examples) float32
    top_index: torch.Tensor  # (C, max_examples) int64
    top_position: torch.Tensor  # (C, max_examples, 2) int64
    band_value: torch.Tensor  # (C, max_band_examples) float32, NaN where a unit has fewer band members
    band_index: torch.Tensor  # (C, max_band_examples) int64, -1 where empty
    band_position: torch.Tensor  # (C, max_band_examples, 2) int64
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
        channel = whole_number(channel, "channel")
        if not 0 <= channel < self.channels:
            raise ValueError(f"Layer {self.layer!r} has channels 0..{self.channels - 1}; got {channel}.")
        return channel

    def _need_source(self) -> ImageSource:
        if self.source is None:
            raise ValueError("These dataset examples have no image source attached; set .source to the scanned source.")
        if self.source.key != self.source_key:  # a file edited, added or removed since the scan: its indices point elsewhere
            raise ValueError(f"The images changed since this scan of {self.layer} (the source is now {self.source.key}, the "
                             f"scan saw {self.source_key}), so its examples would show other pixels: scan again with scan_layer.")
        return self.source

    # --- top examples ------------------------------------------------------------------------
    def _valid_top(self, channel: int) -> torch.Tensor:
        return self.top_index[self._check(channel)] >= 0

    def top_values(self, channel: int, count: int | None = None) -> torch.Tensor:
        """The unit's largest per-image maxima, largest first (at most ``count``)."""
        channel = self._check(channel)
        return self.top_value[channel][self._valid_top(channel)][:_how_many(count)]

    def top_indices(self, channel: int, count: int | None = None) -> torch.Tensor:
        """Source indices of the unit's top images, best first."""
        channel = self._check(channel)
        return self.top_index[channel][self._valid_top(channel)][:_how_many(count)]

    def top_positions(self, channel: int, count: int | None = None) -> torch.Tensor:
        """(row, col) map positions of the maximum in each top image, shape (count, 2)."""
        channel = self._check(channel)
        return self.top_position[channel][self._valid_top(channel)][:_how_many(count)]

    def top_images(self, channel: int, count: int | None = None) -> torch.Tensor:
        """The unit's top images, whole, read again from the source: (count, 3, S, S)."""
        return self._need_source().images(self.top_indices(channel, count))

    def top_patches(self, channel: int, count: int | None = None, pad_value: float = 0.5) -> torch.Tensor:
        """The unit's top images cropped to its receptive field around the maximum: (count, 3, r, r)."""
        return self._patches(self.top_indices(channel, count), self.top_positions(channel, count), pad_value)

    # --- band examples -----------------------------------------------------------------------
    def _valid_band(self, channel: int) -> torch.Tensor:
        return self.band_index[self._check(channel)] >= 0

    def band_values(self, channel: int, count: int | None = None) -> torch.Tensor:
        """Per-image maxima of the unit's band members (moderate activations), highest first."""
        channel = self._check(channel)
        return self.band_value[channel][self._valid_band(channel)][:_how_many(count)]

    def band_indices(self, channel: int, count: int | None = None) -> torch.Tensor:
        """Source indices of the unit's band members."""
        channel = self._check(channel)
        return self.band_index[channel][self._valid_band(channel)][:_how_many(count)]

    def band_positions(self, channel: int, count: int | None = None) -> torch.Tensor:
        """(row, col) positions of the maximum in each band member, shape (count, 2)."""
        channel = self._check(channel)
        return self.band_position[channel][self._valid_band(channel)][:_how_many(count)]

    def band_range(self, channel: int) -> tuple[float, float]:
        """The per-image-maximum values at the band's two percentiles."""
        low, high = self.band_limits[self._check(channel)].tolist()
        return low, high

    def band_patches(self, channel: int, count: int | None = None, pad_value: float = 0.5) -> torch.Tensor:
        """Band members cropped to the receptive field around the maximum: (count, 3, r, r)."""
        return self._patches(self.band_indices(channel, count), self.band_positions(channel, count), pad_value)

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
        from ..activations import capture

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
