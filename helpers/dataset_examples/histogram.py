"""A streaming histogram: per-unit fixed-bin counts whose range grows to fit new values, in fixed memory."""
from __future__ import annotations

import torch


class StreamingHistogram:
    """Per-unit fixed-bin histograms whose range doubles (merging bin pairs) to fit new values.

    Feed it batches of activations with :meth:`add`; memory stays ``channels x bins`` however many
    values pass. The first batch sets the range, starting at ``min(0, lowest value)``; a later value
    past the top doubles the bin width and merges neighbouring bins in pairs (likewise at the bottom,
    extending the range downwards), so the counts are exactly those of binning every value with the
    final edges. Read the result from ``counts`` (channels, bins), ``low`` (channels,) and ``width``
    (channels,: one bin's width): unit c's edges are ``low[c] + width[c] * arange(bins + 1)``.
    """

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
