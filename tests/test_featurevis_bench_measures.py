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


def test_firing_units_draws_among_the_units_that_fire_and_falls_back_to_the_most_active():
    from helpers.featurevis.bench_measures import firing_units

    fraction = torch.tensor([0.0, 0.2, 0.01, 0.3, 0.1, 0.5, 0.0])
    units = firing_units(fraction, count=3, seed=1)
    assert units == sorted(units) and len(units) == 3 and set(units) <= {1, 3, 4, 5}
    assert firing_units(fraction, count=3, seed=1) == units
    with pytest.warns(UserWarning):
        assert firing_units(fraction, count=3, min_fraction=0.25) == [1, 3, 5]
    with pytest.raises(ValueError):
        firing_units(fraction, count=0)


def test_beyond_photographs_compares_each_units_visualization_with_its_photograph():
    from helpers.featurevis.bench_measures import Beyond, beyond_photographs

    from test_featurevis import tiny_model

    tiny = tiny_model()
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    same = beyond_photographs(tiny, "conv2", [0, 3], images[:2], images[:2])
    assert torch.equal(same.visualization, same.photograph) and same.beyond == 0
    with pytest.raises(ValueError):
        beyond_photographs(tiny, "conv2", [0, 3], images[:1], images[:2])
    made = Beyond([5, 7, 9], torch.tensor([3.0, 1.0, 4.0]), torch.tensor([1.0, 2.0, 2.0]))
    assert made.beyond == 2 and made.median_ratio == pytest.approx(2.0)
    assert made.pairs() == "3.00/1.00, 1.00/2.00, 4.00/2.00"
    assert made.report().splitlines()[-1].startswith("2 of 3 units")


def test_bench_contrast_places_each_method_against_the_photographs():
    from helpers.featurevis.bench_measures import bench_contrast

    flat = torch.full((2, 3, 8, 8), 0.5)
    loud = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    contrast = bench_contrast({"flat": flat, "loud": loud}, 0.5 + 0.1 * (loud - 0.5))
    assert contrast.methods["flat"] == 0.0 and contrast.between("loud", "flat") and not contrast.between("flat", "loud")
    assert contrast.describe("loud").startswith("pixel std loud ")
