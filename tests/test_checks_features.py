"""Lesson 01's exercise checks: the course's method gets full marks, neighbouring methods lose points,
the placeholder reports "not attempted". A tiny wrapped network keeps it quick."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.activations import capture
from helpers.checks.features import check_fourier_image, check_visualize
from helpers.featurevis import channel, render
from helpers.wrapping import wrap_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 8, 5, padding=2), nn.ReLU(), nn.Conv2d(8, 12, 3, stride=2, padding=1), nn.ReLU(),
                           nn.Conv2d(12, 12, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 4))
    return wrap_model(module, name="tiny-features-test", input_size=32)


def solution_fourier(spectrum, size, decay=1.0):
    fy = torch.fft.fftfreq(size).view(-1, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    scale = torch.sqrt(fx ** 2 + fy ** 2).clamp(min=1.0 / size).pow(-decay)
    scale = scale / scale.pow(2).mean().sqrt()
    return torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=(size, size), norm="ortho")


def test_fourier_right_answer_passes(strict) -> None:
    assert check_fourier_image(solution_fourier)


@pytest.mark.parametrize("wrong", [
    lambda spectrum, size: torch.fft.irfft2(torch.view_as_complex(spectrum), s=(size, size), norm="ortho"),  # no scaling
    lambda spectrum, size: solution_fourier(spectrum, size, decay=2.0),
    lambda spectrum, size: solution_fourier(spectrum, size) * size,                                           # backward norm
    lambda spectrum, size: torch.fft.irfft2(torch.view_as_complex(spectrum), s=(size, size), norm="ortho")
    * (torch.sqrt(torch.fft.rfftfreq(size)[None] ** 2 + torch.fft.fftfreq(size)[:, None] ** 2).clamp(min=1 / size) ** -1),
])
def test_fourier_wrong_methods_lose_points(wrong) -> None:
    assert not check_fourier_image(wrong)


def solution_visualize(model, unit, steps, size, seed):
    generator = torch.Generator().manual_seed(seed)
    spectrum = (torch.randn(1, 3, size, size // 2 + 1, 2, generator=generator) * 0.01).to(model.device).requires_grad_()
    optimizer = torch.optim.Adam([spectrum], lr=0.05)
    pre = model.layer(unit.layer).pre_activation_path is not None
    for _ in range(steps):
        optimizer.zero_grad()
        image = torch.sigmoid(solution_fourier(spectrum, size))
        value = capture(model, image, unit.layer, pre_activation=pre, grad=True)[unit.layer][0, unit.channel].mean()
        (-value).backward()
        optimizer.step()
    return torch.sigmoid(solution_fourier(spectrum, size)).detach()[0]


def test_visualize_right_answer_passes(model, strict) -> None:
    assert check_visualize(solution_visualize, model, steps=24)


@pytest.mark.parametrize("wrong", [
    lambda model, unit, steps, size, seed: torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed)),
    lambda model, unit, steps, size, seed: solution_visualize(model, model.unit(unit.layer, (unit.channel + 1) % model.channels(unit.layer)), steps, size, seed),
    lambda model, unit, steps, size, seed: render(model, channel(unit), steps=steps, size=size, seed=seed, progress=False).images[0],
    lambda model, unit, steps, size, seed: solution_visualize(model, unit, 1, size, seed),
])
def test_visualize_wrong_methods_lose_points(model, wrong) -> None:
    assert not check_visualize(wrong, model, steps=24)


def test_placeholders_are_not_attempted(model, capsys) -> None:
    assert not check_fourier_image(lambda spectrum, size: None)
    assert not check_visualize(..., model)
    assert "Not attempted yet" in capsys.readouterr().out


def solution_colour(raw, colour_matrix):
    matrix = colour_matrix / colour_matrix.norm(dim=0).max()
    return torch.sigmoid(torch.einsum("ij,njhw->nihw", matrix, raw))


def test_colour_right_answer_passes(strict) -> None:
    from helpers.checks.features import check_colour_image
    assert check_colour_image(solution_colour)


@pytest.mark.parametrize("wrong", [
    lambda raw, m: torch.sigmoid(torch.einsum("ij,njhw->nihw", m, raw)),                                     # not normalized
    lambda raw, m: torch.sigmoid(torch.einsum("ji,njhw->nihw", m / m.norm(dim=0).max(), raw)),              # transposed
    lambda raw, m: torch.einsum("ij,njhw->nihw", m / m.norm(dim=0).max(), raw).clamp(0, 1),                 # no sigmoid
    lambda raw, m: torch.sigmoid(torch.einsum("ij,njhw->nihw", m / m.norm(dim=1).max(), raw)),              # row norms
])
def test_colour_wrong_methods_lose_points(wrong) -> None:
    from helpers.checks.features import check_colour_image
    assert not check_colour_image(wrong)


def student_neighbour_correlation(weights, *, centred=True, vertical=True, per_channel=False):
    """Filter smoothness as a student writes it; the keywords make its near misses."""
    w = weights - weights.mean(dim=(2, 3), keepdim=True) if centred else weights
    pairs = (w[..., :, 1:] * w[..., :, :-1]).sum((2, 3))
    if vertical:
        pairs = pairs + (w[..., 1:, :] * w[..., :-1, :]).sum((2, 3))
    squares = w.square().sum((2, 3))
    if per_channel:
        return (pairs / squares.clamp_min(1e-12)).mean(1)
    return pairs.sum(1) / squares.sum(1).clamp_min(1e-12)


def test_neighbour_correlation_check(exercise_probe) -> None:
    from helpers.checks.features import check_neighbour_correlation
    from helpers.checks.interventions import hand_built_network

    model = hand_built_network()
    assert check_neighbour_correlation(student_neighbour_correlation, model) == 3

    def course(weights):  # the course's measure, reached through its module while the student's function runs
        import helpers.weights.smoothness

        return helpers.weights.smoothness.neighbour_correlation(weights)

    wrong = [lambda w: student_neighbour_correlation(w, centred=False),  # each channel's mean left in
             lambda w: student_neighbour_correlation(w, vertical=False),  # horizontal neighbours only
             lambda w: student_neighbour_correlation(w, per_channel=True),  # a mean of per-channel ratios
             course]
    for answer in wrong:
        exercise_probe.rejected(check_neighbour_correlation, answer, model)
    for constant in (0.0, 1.2, 1.0):
        assert check_neighbour_correlation.__wrapped__(
            lambda w, c=constant: torch.full((len(w),), c), model).fraction == 0
    exercise_probe.not_attempted(lambda: check_neighbour_correlation(..., model),
                                 lambda: check_neighbour_correlation(lambda w: None, model))


def student_rank_correlation(a, b, *, ties=True, ranked=True):
    """Spearman's correlation per column as a student writes it; the keywords make its near misses."""
    def centred(x):
        x = x.double()
        if not ranked:
            return x - x.mean(0)
        if ties:
            rows = x.T.contiguous()
            ordered = rows.sort(dim=1).values
            ranks = ((torch.searchsorted(ordered, rows, side="left")
                      + torch.searchsorted(ordered, rows, side="right") - 1) / 2).T
        else:
            ranks = x.argsort(0).argsort(0).double()
        return ranks - ranks.mean(0)

    ra, rb = centred(a), centred(b)
    scale = ra.norm(dim=0) * rb.norm(dim=0)
    return torch.where(scale > 0, (ra * rb).sum(0) / scale.clamp_min(1e-300), torch.zeros_like(scale))


def test_rank_correlation_check(exercise_probe) -> None:
    from helpers.checks.features import check_rank_correlation
    from helpers.checks.interventions import hand_built_network

    model = hand_built_network()
    assert check_rank_correlation(student_rank_correlation, model) == 3

    def course(a, b):  # the course's score, reached through its module while the student's function runs
        import helpers.stats

        return helpers.stats.rank_correlation(a, b)

    def library(a, b):  # scipy's, one column at a time
        import scipy.stats

        return torch.tensor([scipy.stats.spearmanr(a[:, j], b[:, j])[0] for j in range(a.shape[1])])

    wrong = [lambda a, b: student_rank_correlation(a, b, ranked=False),  # Pearson's correlation of the values
             lambda a, b: student_rank_correlation(a, b, ties=False),  # ties ranked in an arbitrary order
             lambda a, b: student_rank_correlation(a.T, b.T),  # ranked along the wrong axis
             course, library]
    for answer in wrong:
        exercise_probe.rejected(check_rank_correlation, answer, model)
    for constant in (0.0, 1.0, -1.0):
        assert check_rank_correlation.__wrapped__(
            lambda a, b, c=constant: torch.full((a.shape[1],), c), model).fraction == 0
    exercise_probe.not_attempted(lambda: check_rank_correlation(..., model),
                                 lambda: check_rank_correlation(lambda a, b: None, model))


def student_high_frequency_share(images, cutoff, *, centred=True, both=True, strictly=True, squared=True, full=True):
    """An image's share of high-frequency energy as a student writes it; the keywords make its near misses."""
    if centred:
        images = images - images.mean(dim=(-2, -1), keepdim=True)
    spectrum = (torch.fft.fft2(images) if full else torch.fft.rfft2(images)).abs()
    energy = (spectrum.square() if squared else spectrum).sum(-3)
    fy = torch.fft.fftfreq(images.shape[-2]).abs()[:, None]
    fx = (torch.fft.fftfreq(images.shape[-1]) if full else torch.fft.rfftfreq(images.shape[-1])).abs()[None, :]
    frequency = torch.maximum(fy, fx) if both else fx.expand(len(fy), -1)
    high = frequency > cutoff if strictly else frequency >= cutoff
    total = energy.sum((-2, -1))
    return torch.where(total > 0, (energy * high).sum((-2, -1)) / total.clamp_min(1e-300), torch.zeros_like(total))


def test_high_frequency_share_check(exercise_probe) -> None:
    from helpers.checks.features import check_high_frequency_share

    assert check_high_frequency_share(student_high_frequency_share) == 3

    def course(images, cutoff):  # the course's measure, reached through the lesson's higher-level helper's module
        import helpers.featurevis.fragility

        return helpers.featurevis.fragility.high_frequency_share(images, cutoff)

    wrong = [lambda i, c: student_high_frequency_share(i, c, centred=False),  # the colour counted as energy
             lambda i, c: student_high_frequency_share(i, c, both=False),  # only the horizontal frequency
             lambda i, c: student_high_frequency_share(i, c, strictly=False),  # frequencies on the cutoff counted high
             lambda i, c: student_high_frequency_share(i, c, squared=False),  # magnitudes, not energy
             course]
    for answer in wrong:
        exercise_probe.rejected(check_high_frequency_share, answer)
    # the real-valued transform counts most frequencies once for two: close, but not the share of all the energy
    assert check_high_frequency_share.__wrapped__(
        lambda i, c: student_high_frequency_share(i, c, full=False)).fraction < 1
    for constant in (0.0, 0.5, 1.0):
        assert check_high_frequency_share.__wrapped__(
            lambda i, c, v=constant: torch.full(i.shape[:-3], v)).fraction == 0
    exercise_probe.not_attempted(lambda: check_high_frequency_share(...),
                                 lambda: check_high_frequency_share(lambda i, c: None))


def student_kurtosis_beyond_random(activations, directions, *, drop_dead=True, bessel=False, quantile=0.95,
                                   of_units=False):
    """Each active unit's kurtosis above random directions' as a student writes it; the keywords make near misses."""
    def kurtosis(x):
        centred = x - x.mean(0)
        variance = centred.pow(2).sum(0) / (len(x) - 1 if bessel else len(x))
        return centred.pow(4).mean(0) / variance.square().clamp_min(1e-12)

    units = activations[:, activations.std(0) > 1e-6] if drop_dead else activations
    randoms = kurtosis(units if of_units else activations @ directions)
    return kurtosis(units) - randoms.quantile(quantile)


def test_kurtosis_beyond_random_check(exercise_probe) -> None:
    from helpers.checks.features import check_kurtosis_beyond_random
    from helpers.checks.interventions import hand_built_network

    model = hand_built_network()
    assert check_kurtosis_beyond_random(student_kurtosis_beyond_random, model) == 3

    def course(activations, directions):  # the course's gap, reached through its module
        import helpers.neuron_basis

        return helpers.neuron_basis.kurtosis_beyond_random(activations, directions)

    def library(activations, directions):  # scipy's kurtosis for both
        import scipy.stats

        alive = activations.std(0) > 1e-6
        units = scipy.stats.kurtosis(activations[:, alive].numpy(), axis=0, fisher=False)
        randoms = scipy.stats.kurtosis((activations @ directions).numpy(), axis=0, fisher=False)
        return torch.tensor(units) - torch.tensor(randoms).quantile(0.95)

    wrong = [lambda a, d: student_kurtosis_beyond_random(a, d, drop_dead=False),  # the dead unit kept
             lambda a, d: student_kurtosis_beyond_random(a, d, bessel=True),  # variance with n - 1
             lambda a, d: student_kurtosis_beyond_random(a, d, quantile=1.0),  # the largest, not the 95th percentile
             lambda a, d: student_kurtosis_beyond_random(a, d, of_units=True),  # the units' percentile, not the directions'
             course, library]
    for answer in wrong:
        exercise_probe.rejected(check_kurtosis_beyond_random, answer, model)
    for constant in (0.0, 1.0, -1.0):
        assert check_kurtosis_beyond_random.__wrapped__(
            lambda a, d, c=constant: torch.full((a.shape[1],), c), model).fraction == 0
    exercise_probe.not_attempted(lambda: check_kurtosis_beyond_random(..., model),
                                 lambda: check_kurtosis_beyond_random(lambda a, d: None, model))


# --- exercise 9: the scan's streaming top examples ---------------------------------------------------------------
def student_strongest_examples(batches, k, *, peak=True, merge=True, source_index=True, per_image=True, row_first=True):
    """The top examples kept as a student would, with switches for the usual slips."""
    kept = None
    for indices, maps in batches:
        count, channels, height, width = maps.shape
        if per_image:
            best, where = (maps.flatten(2).max(2) if peak else (maps.flatten(2).mean(2), maps.flatten(2).argmax(2)))
            labels = indices if source_index else torch.arange(count)
            images = labels[:, None].expand(count, channels)
        else:  # every position a candidate: an image may come back twice
            best, where = maps.flatten(2).transpose(0, 1).flatten(1).T, None
            flat = torch.arange(count * height * width)
            images = (indices if source_index else torch.arange(count))[flat // (height * width), None].expand(-1, channels)
            where = (flat % (height * width))[:, None].expand(-1, channels)
        rows, cols = (where // width, where % width) if row_first else (where % width, where // width)
        candidates = (best.T, images.T, torch.stack([rows, cols], -1).transpose(0, 1))
        if kept is not None and merge:
            candidates = tuple(torch.cat([old, new], 1) for old, new in zip(kept, candidates))
        top, keep = candidates[0].topk(min(k, candidates[0].shape[1]), dim=1)
        kept = (top, candidates[1].gather(1, keep), candidates[2].gather(1, keep[..., None].expand(-1, -1, 2)))
    return kept


def test_strongest_examples(exercise_probe):
    from helpers.checks.features import check_strongest_examples

    assert check_strongest_examples(student_strongest_examples) == 3

    def course(batches, k):  # the course's function, reached through its module while the student's runs
        import helpers.dataset_examples.scan

        return helpers.dataset_examples.scan.strongest_examples(batches, k)

    wrong = [lambda b, k: student_strongest_examples(b, k, peak=False),  # the mean over positions, not the maximum
             lambda b, k: student_strongest_examples(b, k, merge=False),  # each batch replaces the kept ones
             lambda b, k: student_strongest_examples(b, k, source_index=False),  # the place in the batch, not the source's
             lambda b, k: student_strongest_examples(b, k, per_image=False),  # the strongest positions: an image twice
             lambda b, k: student_strongest_examples(b, k, row_first=False),  # (column, row)
             course]
    for answer in wrong:
        exercise_probe.rejected(check_strongest_examples, answer)
    exercise_probe.rejected(check_strongest_examples, lambda b, k: (torch.zeros(3, k), torch.zeros(3, k), torch.zeros(3, k, 2)))
    exercise_probe.not_attempted(lambda: check_strongest_examples(...), lambda: check_strongest_examples(lambda b, k: None))


def test_strongest_examples_keep_what_the_scan_keeps():
    """The course's function and a full scan keep the same top examples (the scan merges with the same code)."""
    from helpers.dataset_examples.scan import _LayerScan, ScanSettings, strongest_examples

    generator = torch.Generator().manual_seed(4)
    batches = [(torch.arange(start, start + 3), torch.randn(3, 5, 4, 6, generator=generator)) for start in (0, 3, 6)]
    running = _LayerScan("x", 5, ScanSettings(max_examples=4, max_band_examples=2, reservoir=4))
    for indices, maps in batches:
        running.add(indices, maps)
    values, images, positions = strongest_examples(batches, 4)
    assert torch.equal(values, running.top_value) and torch.equal(images, running.top_index)
    assert torch.equal(positions[..., 0] * 6 + positions[..., 1], running.top_flat)


def student_transform_chain(images, steps, fill=0.5, *, in_order=True, keep_fill=True, in_half_sides=True,
                            once=True, clockwise=True, zoom_in=True):
    """A fixed chain of transforms as a student would write it, with switches for the usual slips."""
    import torch.nn.functional as F

    if not once:  # one resampling per step: blurs twice and fills twice
        for step in steps:
            images = student_transform_chain(images, [step], fill)
        return images
    size = images.shape[-1]
    matrix, offset = torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for kind, value in steps:
        step_matrix, step_offset = torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        if kind == "shift":
            step_offset = torch.tensor(value, dtype=torch.float64)
        elif kind == "scale":
            step_matrix = step_matrix / value if zoom_in else step_matrix * value
        elif kind == "rotate":
            angle = torch.deg2rad(torch.tensor(float(value if clockwise else -value), dtype=torch.float64))
            step_matrix = torch.stack([torch.stack([angle.cos(), angle.sin()]), torch.stack([-angle.sin(), angle.cos()])])
        if in_order:
            offset, matrix = offset + matrix @ step_offset, matrix @ step_matrix
        else:  # the last step's map outermost
            offset, matrix = step_matrix @ offset + step_offset, step_matrix @ matrix
    theta = torch.cat([matrix, (2 * offset / size if in_half_sides else offset)[:, None]], dim=1)
    grid = F.affine_grid(theta.expand(len(images), 2, 3).to(images.dtype), list(images.shape), align_corners=False)
    shift = fill if keep_fill else 0.0
    return F.grid_sample(images - shift, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + shift


def test_transform_chain(exercise_probe):
    from helpers.checks.features import check_transform_chain
    from helpers.featurevis import transforms

    assert check_transform_chain(student_transform_chain) == 3
    for slip in ("in_order", "keep_fill", "in_half_sides", "once", "clockwise", "zoom_in"):
        exercise_probe.rejected(check_transform_chain, lambda i, s, f, slip=slip: student_transform_chain(i, s, f, **{slip: False}))
    exercise_probe.rejected(check_transform_chain, lambda i, s, f: transforms.transform_chain(i, s, f))
    exercise_probe.rejected(check_transform_chain, lambda i, s, f: transforms.Compose((transforms.RandomRotate((0.0,)),), f)(i, None))
    exercise_probe.rejected(check_transform_chain, lambda i, s, f: i)
    exercise_probe.not_attempted(lambda: check_transform_chain(...), lambda: check_transform_chain(lambda i, s, f: None))


def test_transform_chain_is_what_compose_does():
    """With one choice per random step, a render's Compose and the fixed chain give the same images."""
    from helpers.featurevis.transforms import Compose, Pad, RandomRotate, RandomScale, transform_chain

    images = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(3))
    chain = Compose((Pad(4), RandomScale((1.25,)), RandomRotate((30.0,))), fill=0.3)
    expected = chain(images, torch.Generator().manual_seed(0))
    assert torch.allclose(transform_chain(images, [("scale", 1.25), ("rotate", 30.0)], 0.3), expected, atol=1e-6)
