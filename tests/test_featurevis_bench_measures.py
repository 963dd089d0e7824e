"""The lab bench's measurements: contrast and the printed table, on hand-built images."""
from __future__ import annotations

import pytest
import torch

from helpers.featurevis.bench_measures import bench_table, pixel_contrast


def test_pixel_contrast_is_the_mean_of_each_images_standard_deviation():
    flat = torch.full((2, 3, 8, 8), 0.5)
    halves = flat.clone()
    halves[1, :, :, :4] = 0.0
    assert pixel_contrast(flat) == 0.0
    assert pixel_contrast(halves) == pytest.approx(float(halves[1].flatten().std()) / 2)
    with pytest.raises(ValueError):
        pixel_contrast(flat[0])


def test_bench_table_has_one_line_per_method_with_its_numbers():
    y, x = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    fine = ((x + y) % 2).expand(1, 3, 16, 16)  # a checkerboard: all power at the highest frequency
    smooth = (x / 15).expand(1, 3, 16, 16)
    table = bench_table({"fine": fine, "smooth": smooth}, {"fine": torch.tensor([1.0, 3.0]), "smooth": torch.tensor([0.5])})
    lines = table.splitlines()
    assert len(lines) == 3 and lines[0].split()[0] == "method"
    assert lines[1].split()[:3] == ["fine", "2.00", f"{pixel_contrast(fine):.3f}"]
    assert float(lines[1].split()[-1].rstrip("%")) > 90 > float(lines[2].split()[-1].rstrip("%"))
