"""Sparse dictionaries (helpers.dictionary): recovery of planted directions, determinism, the
measures on hand-made dictionaries with known answers, and the layout helpers."""
from __future__ import annotations

import pytest
import torch

from helpers.activations import layer_vectors
from helpers.dictionary import (
    best_match, SparseDictionary, top_examples, train_sparse_dictionary,
)


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: one thread is faster, and the worker's setting is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _superposed(features: int, dims: int, samples: int, active: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``features`` random unit directions in ``dims`` dimensions, and inputs that are sparse non-negative mixes of them."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.nn.functional.normalize(torch.randn(features, dims, generator=generator), dim=1)
    codes = torch.rand(samples, features, generator=generator) * (torch.rand(samples, features, generator=generator) < active)
    return directions, codes @ directions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_more_directions_than_dimensions(seed: int) -> None:
    directions, inputs = _superposed(12, 6, 4000, active=0.08, seed=seed)
    found = train_sparse_dictionary(inputs, 24, l1=0.3, lr=1e-2, steps=1500, progress=False,
                                    generator=torch.Generator().manual_seed(seed))
    match = best_match(found.directions, directions)
    assert float(match.median()) > 0.9, match
    assert found.explained_variance(inputs) > 0.9
    # A random set of 24 directions in 6-D matches planted ones far worse: the fit found them.
    chance = best_match(torch.randn(24, 6, generator=torch.Generator().manual_seed(seed + 10)), directions)
    assert float(chance.median()) < float(match.median()) - 0.1


def test_the_l1_penalty_buys_sparsity() -> None:
    _, inputs = _superposed(12, 6, 2000, active=0.08, seed=0)
    settings = dict(lr=1e-2, steps=600, progress=False)
    sparse = train_sparse_dictionary(inputs, 24, l1=0.3, generator=torch.Generator().manual_seed(0), **settings)
    dense = train_sparse_dictionary(inputs, 24, l1=0.0, generator=torch.Generator().manual_seed(0), **settings)
    assert sparse.active_per_input(inputs) < dense.active_per_input(inputs) / 2
    assert dense.explained_variance(inputs) >= sparse.explained_variance(inputs)


def test_same_seed_same_dictionary() -> None:
    _, inputs = _superposed(6, 4, 500, active=0.2, seed=3)
    first, second = (train_sparse_dictionary(inputs, 8, steps=50, progress=False, generator=torch.Generator().manual_seed(5))
                     for _ in range(2))
    assert torch.equal(first.directions, second.directions) and torch.equal(first.encoder, second.encoder)


def _identity_dictionary(units: int) -> SparseDictionary:
    eye = torch.eye(units)
    return SparseDictionary(eye, torch.zeros(units), eye, torch.zeros(units), scale=1.0, l1=0.0)


def test_measures_on_a_hand_made_dictionary() -> None:
    dictionary = _identity_dictionary(3)
    inputs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert torch.equal(dictionary.encode(inputs), inputs)
    assert dictionary.explained_variance(inputs) == pytest.approx(1.0)
    assert dictionary.active_per_input(inputs) == pytest.approx((1 + 1 + 0 + 3) / 4)
    assert torch.equal(dictionary.loadings(1), torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(dictionary.contributions(inputs, 1), torch.tensor([0.0, 0.75, 0.0]))
    assert torch.equal(dictionary.contributions(inputs, 1, codes=dictionary.encode(inputs)),
                       dictionary.contributions(inputs, 1))
    # Codes that cannot go negative lose the negative parts: half of this variance is lost.
    signed = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    assert dictionary.explained_variance(signed) == pytest.approx(0.5)


def test_best_match_is_the_largest_cosine() -> None:
    found = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    known = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    assert torch.allclose(best_match(found, known), torch.tensor([1.0, 0.5 ** 0.5, -(0.5 ** 0.5)]), atol=1e-6)


def test_layer_vectors_are_image_major_then_row_then_column() -> None:
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    vectors = layer_vectors(maps)
    assert vectors.shape == (8, 3)
    assert torch.equal(vectors[1 * 4 + 1 * 2 + 0], maps[1, :, 1, 0])


def test_top_examples_names_images_and_peak_positions() -> None:
    map_size = (2, 2)
    codes = torch.zeros(3 * 4, 2)  # 3 images of 2x2 positions, 2 features
    codes[0 * 4 + 3, 0] = 5.0  # feature 0: image 0 at (1, 1) ...
    codes[2 * 4 + 2, 0] = 7.0  # ... and more strongly image 2 at (1, 0)
    codes[1 * 4 + 1, 1] = 1.0  # feature 1: only image 1, at (0, 1)
    images, positions = top_examples(codes, map_size, count=2)
    assert images.tolist() == [[2, 0], [1, -1]]
    assert positions[0].tolist() == [[1, 0], [1, 1]] and positions[1, 0].tolist() == [0, 1]


def test_bad_shapes_are_named() -> None:
    dictionary = _identity_dictionary(3)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        dictionary.encode(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="unit must be in 0..2"):
        dictionary.loadings(3)
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        layer_vectors(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="at least two"):
        train_sparse_dictionary(torch.zeros(1, 3), 4, generator=torch.Generator())
    with pytest.raises(ValueError, match="between 1 and the 3 images"):
        top_examples(torch.zeros(12, 2), (2, 2), count=4)


# --- directions screened like units, and the controls ------------------------------------------------
def test_units_to_hold_counts_the_units_a_direction_uses() -> None:
    from helpers.dictionary import units_to_hold

    directions = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [3.0, -1.0, 0.0, 0.0]])
    assert units_to_hold(directions).tolist() == [1, 1, 2, 1]  # half of (1, 1) is one unit exactly
    assert units_to_hold(directions, 0.9).tolist() == [1, 2, 4, 1]  # (3, -1): the first unit holds 90%
    assert units_to_hold(directions, 0.95).tolist() == [1, 2, 4, 2]
    with pytest.raises(ValueError, match="share"):
        units_to_hold(directions, 0.0)


def test_spread_over_units_counts_the_chosen_rows_only() -> None:
    from helpers.dictionary import spread_over_units, units_to_hold

    directions = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 1.0, 0.0]])
    assert spread_over_units(directions, [2, 1]).tolist() == units_to_hold(directions[[2, 1]]).tolist() == [1, 2]
    assert spread_over_units(directions, []).tolist() == []


def test_live_directions_leave_out_features_that_never_fire() -> None:
    from helpers.dictionary import SparseDictionary

    directions = torch.eye(3)
    dictionary = SparseDictionary(encoder=torch.eye(3), encoder_bias=torch.tensor([0.0, 0.0, -10.0]),
                                  directions=directions, centre=torch.zeros(3), scale=1.0, l1=0.1)
    vectors = torch.rand(50, 3)
    assert torch.equal(dictionary.live_directions(vectors), directions[:2])  # the third code is never above 0


def test_shuffled_units_keep_each_units_values_but_not_their_company() -> None:
    from helpers.dictionary import shuffle_units

    generator = torch.Generator().manual_seed(0)
    shared = torch.rand(2000, 1, generator=generator)
    vectors = torch.cat([shared, shared, torch.rand(2000, 1, generator=generator)], dim=1)
    shuffled = shuffle_units(vectors, torch.Generator().manual_seed(1))
    assert torch.equal(shuffled.sort(0).values, vectors.sort(0).values)  # every unit keeps its values
    assert float(torch.corrcoef(vectors.T)[0, 1]) == pytest.approx(1.0)
    assert abs(float(torch.corrcoef(shuffled.T)[0, 1])) < 0.1  # units 0 and 1 no longer fire together


def test_random_directions_are_unit_length_and_seeded() -> None:
    from helpers.dictionary import random_directions

    first = random_directions(5, 7, torch.Generator().manual_seed(3))
    assert first.shape == (5, 7) and torch.allclose(first.norm(dim=1), torch.ones(5))
    assert torch.equal(first, random_directions(5, 7, torch.Generator().manual_seed(3)))


@pytest.fixture(scope="module")
def handmade_screen():
    """The hand-built curve network of tests/handmade_curves.py (arcs at 0, 45, ..., 315 degrees in channels 0-7) and its screen."""
    from handmade_curves import build_handmade_network

    from helpers.families import find_curve_family

    model = build_handmade_network()
    return model, find_curve_family(model, "detectors", orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)


def test_a_screen_along_the_identity_gives_back_the_units_screen(handmade_screen) -> None:
    import numpy as np

    from helpers.families import curve_family

    _, family = handmade_screen
    screen = family.screen
    same = screen.along(torch.eye(screen.curve.shape[-1]))
    for name in ("curve", "line", "corner", "blank", "curve_selectivity", "corner_margin", "orientation_selectivity",
                 "strength", "preferred", "score"):
        assert np.allclose(getattr(same, name), getattr(screen, name)), name
    assert list(same.polarity) == list(screen.polarity)
    assert curve_family(same).channels == family.channels


def test_a_direction_between_two_curve_units_is_a_curve_feature_in_the_gap(handmade_screen) -> None:
    from helpers.dictionary import units_to_hold
    from helpers.families import curve_family
    from helpers.tuning import angle_difference

    _, family = handmade_screen
    screen = family.screen
    channels = screen.curve.shape[-1]
    between = torch.zeros(2, channels)
    between[0, [0, 1]] = 2 ** -0.5  # the arcs at 0 and 45 degrees together
    between[1, 8:12] = 0.5  # all four line units together: not a curve detector
    found = curve_family(screen.along(between))
    assert found.channels == [0]
    assert angle_difference(found.orientations[0], 22.5) < 12  # between its two units' orientations
    assert units_to_hold(between[found.channels]).tolist() == [1]
    assert units_to_hold(between[found.channels], 0.75).tolist() == [2]  # spread over two units


def test_a_screen_along_directions_refuses_read_outs_of_the_wrong_size(handmade_screen) -> None:
    from helpers.families import curve_family

    _, family = handmade_screen
    with pytest.raises(ValueError, match="one read-out"):
        family.screen.along(torch.zeros(3, 5))
    nothing = curve_family(family.screen.along(torch.zeros(0, family.screen.curve.shape[-1])))
    assert len(nothing) == 0 and nothing.largest_gap() == 360
    with pytest.raises(ValueError, match="bias"):
        family.screen.along(torch.eye(family.screen.curve.shape[-1]), torch.zeros(2))


def test_sampled_vectors_draw_positions_of_each_image(handmade_screen) -> None:
    from helpers.activations import capture
    from helpers.dictionary import sampled_vectors
    from helpers.images import RandomCrops

    model, _ = handmade_screen
    generator = torch.Generator().manual_seed(0)
    photos = {"a": torch.rand(3, 80, 80, generator=generator), "b": torch.rand(3, 90, 80, generator=generator)}
    source = RandomCrops(photos, count=3, size=64, seed=0, batch_size=2)
    vectors = sampled_vectors(model, source, "detectors", per_image=5, generator=torch.Generator().manual_seed(0),
                              progress=False)
    assert vectors.shape == (15, 16)
    maps = capture(model, source.images([0]), "detectors")["detectors"][0].flatten(1).T  # (h*w, C)
    assert all(bool((maps - v).abs().amax(1).min() < 1e-5) for v in vectors[:5])  # each is a real position of image 0
    everything = sampled_vectors(model, source, "detectors", per_image=10 ** 6, generator=torch.Generator(), progress=False)
    assert everything.shape == (3 * 64 * 64, 16)


def test_sample_positions_draws_distinct_real_positions_of_each_map() -> None:
    from helpers.dictionary import sample_positions

    maps = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)  # every position's vector is unique
    vectors = sample_positions(maps, per_image=6, generator=torch.Generator().manual_seed(0))
    assert vectors.shape == (12, 3)
    for image in range(2):
        positions = maps[image].flatten(1).T  # (h*w, C)
        drawn = vectors[6 * image: 6 * image + 6]
        matches = [int((positions == v).all(1).nonzero()) for v in drawn]  # each drawn vector is one real position
        assert len(set(matches)) == 6  # without repeats
    everything = sample_positions(maps, per_image=100, generator=torch.Generator())
    assert everything.shape == (40, 3) and torch.equal(everything.sum(0), maps.permute(1, 0, 2, 3).flatten(1).sum(1))
    with pytest.raises(ValueError, match="per_image"):
        sample_positions(maps, per_image=0, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        sample_positions(maps[0], per_image=2, generator=torch.Generator())


def test_scan_peaks_streams_the_same_top_images_as_the_whole_layer(handmade_screen) -> None:
    from helpers.activations import capture
    from helpers.dictionary import scan_peaks
    from helpers.images import RandomCrops

    model, _ = handmade_screen
    generator = torch.Generator().manual_seed(0)
    source = RandomCrops({"a": torch.rand(3, 80, 80, generator=generator)}, count=5, size=32, seed=0, batch_size=2)
    dictionary = _identity_dictionary(16)
    dictionary.encoder_bias -= 0.1  # codes differ from the units
    peaks = scan_peaks(model, source, "detectors", {"units": None, "features": dictionary.encode}, progress=False)
    maps = capture(model, source.images(list(range(5))), "detectors")["detectors"]
    vectors = layer_vectors(maps)
    for name, codes in (("units", vectors), ("features", dictionary.encode(vectors))):
        images, positions = peaks[name].top(3)
        expected_images, expected_positions = top_examples(codes, tuple(maps.shape[2:]), 3)
        assert torch.equal(images, expected_images) and torch.equal(positions, expected_positions)
    with pytest.raises(ValueError, match="at least one encoder"):
        scan_peaks(model, source, "detectors", {}, progress=False)


def test_peaks_of_held_maps_are_the_streamed_peaks(handmade_screen) -> None:
    from helpers.activations import capture
    from helpers.dictionary import peaks_of_maps, scan_peaks
    from helpers.images import RandomCrops

    model, _ = handmade_screen
    generator = torch.Generator().manual_seed(1)
    source = RandomCrops({"a": torch.rand(3, 80, 80, generator=generator)}, count=5, size=32, seed=1, batch_size=2)
    dictionary = _identity_dictionary(16)
    dictionary.encoder_bias -= 0.2
    encoders = {"units": None, "features": dictionary.encode}
    streamed = scan_peaks(model, source, "detectors", encoders, progress=False)
    maps = capture(model, source.images(list(range(5))), "detectors")["detectors"]
    held = peaks_of_maps(maps, encoders, batch_size=2)  # batches that split the images unevenly
    for name in encoders:
        assert torch.allclose(held[name].values, streamed[name].values, atol=1e-6)
        assert torch.equal(held[name].top(3)[0], streamed[name].top(3)[0])
        assert held[name].map_size == streamed[name].map_size
    with pytest.raises(ValueError, match="at least one encoder"):
        peaks_of_maps(maps, {})
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        peaks_of_maps(maps[0], encoders)
    with pytest.raises(ValueError, match="batch_size"):
        peaks_of_maps(maps, encoders, batch_size=0)


def test_the_training_loss_is_reconstruction_plus_l1() -> None:
    from helpers.dictionary import dictionary_loss

    batch = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    eye = torch.eye(2)
    exact = dictionary_loss(batch, encoder=eye, encoder_bias=torch.zeros(2), directions=eye, centre=torch.zeros(2), l1=0.5)
    assert float(exact) == pytest.approx(0.5 * 1.5)  # rebuilt exactly; codes sum to 1 and 2
    none = dictionary_loss(batch, encoder=-eye, encoder_bias=torch.zeros(2), directions=eye, centre=torch.zeros(2), l1=0.5)
    assert float(none) == pytest.approx(2.5)  # no code active: the squared norms 1 and 4, averaged


def test_top_loading_share_counts_chosen_rows_whose_largest_loading_is_on_the_channels() -> None:
    from helpers.dictionary import top_loading_share

    directions = torch.tensor([[0.9, 0.1, 0.0], [0.1, -0.9, 0.0], [0.0, 0.2, 0.5], [0.3, 0.0, -0.4]])
    assert top_loading_share(directions, [0, 1, 2, 3], [0, 1]) == 0.5  # rows 0 and 1 peak on units 0 and 1
    assert top_loading_share(directions, [1], {1}) == 1.0  # a negative loading counts by its size
    assert top_loading_share(directions, [2, 3], [0]) == 0.0
    assert top_loading_share(directions, [], [0]) == 0.0
