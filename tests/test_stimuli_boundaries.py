"""Tests of helpers.stimuli.boundaries: the frequency content of each side, measured with an FFT."""
import pytest
import torch

from helpers.stimuli.boundaries import (
    band_limited_noise,
    blur_half_plane,
    boundary_grid,
    frequency_boundary,
    gaussian_blur,
    half_plane_mask,
    high_frequency_fraction,
    side_fractions,
)

SIZE = 96
# Patches well away from the boundary through the centre: (rows, cols) slices.
RIGHT = (slice(16, 80), slice(60, 92))
LEFT = (slice(16, 80), slice(4, 36))
TOP = (slice(4, 36), slice(16, 80))
BOTTOM = (slice(60, 92), slice(16, 80))


def side(image: torch.Tensor, box: tuple[slice, slice]) -> float:
    return high_frequency_fraction(image[:, box[0], box[1]])


def test_image_type_and_determinism():
    a = frequency_boundary(SIZE, 30, seed=3)
    b = frequency_boundary(SIZE, 30, seed=3)
    c = frequency_boundary(SIZE, 30, seed=4)
    assert a.shape == (3, SIZE, SIZE) and a.dtype == torch.float32
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("kind", ["noise", "grating"])
def test_high_side_has_much_more_high_frequency_power(kind):
    image = frequency_boundary(SIZE, 0, high_frequency=0.3, low_frequency=0.04, kind=kind)
    high, low = side(image, RIGHT), side(image, LEFT)
    assert high > 0.8
    assert low < 0.1
    assert high > 8 * low


def test_swapping_sides_swaps_the_power():
    image = frequency_boundary(SIZE, 180, high_frequency=0.3, low_frequency=0.04)
    assert side(image, LEFT) > 8 * side(image, RIGHT)


def test_orientation_rotates_the_pattern():
    up = frequency_boundary(SIZE, 90, high_frequency=0.3, low_frequency=0.04)
    assert side(up, TOP) > 8 * side(up, BOTTOM)
    # Left and right patches straddle the horizontal boundary: they see both textures equally.
    assert abs(side(up, LEFT) - side(up, RIGHT)) < 0.25
    down = frequency_boundary(SIZE, 270, high_frequency=0.3, low_frequency=0.04)
    assert side(down, BOTTOM) > 8 * side(down, TOP)


def test_both_sides_have_same_brightness_and_contrast():
    image = frequency_boundary(SIZE, 0, high_frequency=0.3, low_frequency=0.04, contrast=0.8)
    right, left = image[0, RIGHT[0], RIGHT[1]], image[0, LEFT[0], LEFT[1]]
    assert abs(float(right.mean()) - float(left.mean())) < 0.05
    assert float(right.std()) == pytest.approx(float(left.std()), rel=0.35)


def test_contrast_zero_is_flat_and_ratio_one_has_no_boundary():
    assert torch.allclose(frequency_boundary(SIZE, 0, contrast=0.0), torch.full((3, SIZE, SIZE), 0.5))
    same = frequency_boundary(SIZE, 0, high_frequency=0.2, low_frequency=0.2)
    assert side(same, LEFT) == pytest.approx(side(same, RIGHT), abs=0.1)


def test_offset_moves_the_boundary():
    mask = half_plane_mask(SIZE, 0, offset=20)
    assert float(mask[SIZE // 2, SIZE // 2 + 10]) < 0.01  # left of the shifted boundary
    assert float(mask[SIZE // 2, SIZE // 2 + 30]) > 0.99


def test_band_limited_noise_sits_in_its_band():
    fine, coarse = band_limited_noise(64, 0.35, seed=1), band_limited_noise(64, 0.03, seed=1)
    assert float(fine.std()) == pytest.approx(1.0, abs=1e-3)
    assert high_frequency_fraction(fine) > 0.9 > 0.05 > high_frequency_fraction(coarse)
    assert torch.equal(band_limited_noise(32, 0.0), torch.zeros(32, 32))


def test_grid_shape_and_order():
    grid = boundary_grid([0, 90, 180], [1, 4], size=48, high_frequency=0.3)
    assert grid.shape == (3, 2, 3, 48, 48)
    assert torch.equal(grid[1, 1], frequency_boundary(48, 90, 0.3, 0.3 / 4))
    with pytest.raises(ValueError, match="ratios"):
        boundary_grid([0], [0.5])


def test_blurred_half_plane_keeps_one_side_sharp():
    # Broadband texture everywhere (white noise), like the fine detail of a photograph.
    photo = torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    blurred = blur_half_plane(photo, sigma=3.0, orientation=180)  # sharp on the left
    assert side(blurred, LEFT) > 8 * side(blurred, RIGHT)
    assert torch.allclose(blurred[:, :, :30], photo[:, :, :30], atol=0.05)
    assert torch.equal(gaussian_blur(photo, 0), photo)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: frequency_boundary(SIZE, high_frequency=0.7), "high_frequency"),
        (lambda: frequency_boundary(SIZE, contrast=2), "contrast"),
        (lambda: frequency_boundary(SIZE, kind="checkers"), "kind"),
        (lambda: frequency_boundary(4), "size"),
        (lambda: gaussian_blur(torch.zeros(3, 8, 8), -1), "sigma"),
        (lambda: blur_half_plane(torch.zeros(3, 8, 10), 1.0), "square"),
    ],
)
def test_bad_input_says_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_center_moves_the_boundary_to_a_chosen_point():
    mask = half_plane_mask(SIZE, 0, center=(20.0, 48.0))  # boundary at x = 20 px
    assert float(mask[48, 16]) < 0.1 and float(mask[48, 23]) > 0.9
    default = half_plane_mask(SIZE, 0)
    assert float(default[48, 45]) < 0.1 and float(default[48, 50]) > 0.9


def test_side_fractions_measure_each_named_region():
    image = frequency_boundary(SIZE, 0, high_frequency=0.3, low_frequency=0.04)
    fractions = side_fractions(image, {"left": LEFT, "right": RIGHT})
    assert list(fractions) == ["left", "right"]
    assert fractions == {"left": side(image, LEFT), "right": side(image, RIGHT)}
    assert side_fractions(image[0], {"top": TOP}, cutoff=0.2) == {"top": high_frequency_fraction(image[0][TOP], 0.2)}
    with pytest.raises(ValueError, match="region"):
        side_fractions(image, {})
