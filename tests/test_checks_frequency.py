"""The high-low lesson's exercise checks: the right answer passes, every plausible wrong answer fails, `...` is "not attempted".

Run in strict mode (CIRCUITS_STRICT=1), where a wrong answer raises. The network is the tiny hand-built
``high_low_model`` of conftest.py: ``highlow:0`` wants its fine side at 0 degrees.
"""
import numpy as np
import pytest
import torch

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.frequency import check_boundary, check_nmf, check_side_selectivity
from helpers.stimuli.boundaries import half_plane_mask
from helpers.tuning import orientation_selectivity, preferred_orientation


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


def boundary(fine, smooth, orientation):
    """The course's answer to exercise 1, written as a student would."""
    size = fine.shape[-1]
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    x, y = cols + 0.5 - size / 2, size / 2 - (rows + 0.5)
    angle = np.radians(orientation)
    fine_side = x * np.cos(angle) + y * np.sin(angle) > 0
    return torch.where(fine_side, fine, smooth)


def test_boundary_full_marks_and_wrong_methods():
    assert check_boundary(boundary) == 3
    wrong = (
        lambda f, s, o: boundary(s, f, o),  # the sides swapped
        lambda f, s, o: boundary(f, s, -o),  # y growing downwards (clockwise angles)
        lambda f, s, o: boundary(f, s, o + 90),  # the direction taken along the line
        lambda f, s, o: boundary(f, s, 90.0),  # always fine on top
        lambda f, s, o: (f + s) / 2,  # a blend, no boundary
        lambda f, s, o: (lambda m: m * f + (1 - m) * s)(half_plane_mask(f.shape[-1], o)),  # the course's own function
    )
    for function in wrong:
        with pytest.raises(ExerciseError):
            check_boundary(function)


def side_selectivity(tuning, orientations):
    """The course's answer to exercise 2, written as a student would."""
    values = np.clip(tuning, 0, None)
    weights = np.clip(values - values.max() / 2, 0, None)
    vector = (weights * np.exp(1j * np.radians(orientations))).sum()
    return float(np.degrees(np.angle(vector)) % 360), float(abs(vector) / weights.sum())


def test_side_selectivity_full_marks_and_wrong_methods():
    assert check_side_selectivity(side_selectivity) == 3
    def no_half_peak(tuning, orientations):
        values = np.clip(tuning, 0, None)
        vector = (values * np.exp(1j * np.radians(orientations))).sum()
        return float(np.degrees(np.angle(vector)) % 360), float(abs(vector) / values.sum())
    def argmax(tuning, orientations):
        return float(orientations[np.argmax(tuning)]), side_selectivity(tuning, orientations)[1]
    def doubled_angles(tuning, orientations):  # the half-circle (axis) selectivity of lesson 02's lines
        return side_selectivity(tuning, 2 * np.asarray(orientations))
    def peak_over_mean(tuning, orientations):
        return float(orientations[np.argmax(tuning)]), float(1 - np.mean(tuning) / np.max(tuning))
    def library(tuning, orientations):
        return float(preferred_orientation(tuning, orientations)[0]), float(orientation_selectivity(tuning, orientations)[0])
    for function in (no_half_peak, argmax, doubled_angles, peak_over_mean, library):
        with pytest.raises(ExerciseError):
            check_side_selectivity(function)




def test_placeholder_is_not_attempted(monkeypatch, capsys):
    with pytest.raises(NotAttempted):
        check_boundary(lambda *args: None)
    with pytest.raises(NotAttempted):
        check_side_selectivity(...)
    monkeypatch.setenv("CIRCUITS_STRICT", "")
    assert not check_side_selectivity(lambda tuning, orientations: (0.0, 0.5))
    out = capsys.readouterr().out
    assert "0 of 4 cases right" in out


def _updates(matrix, factors, steps=500, seed=0, *, epsilon=1e-12, order="right first"):
    generator = torch.Generator().manual_seed(seed)
    matrix = matrix.double()
    left = torch.rand(matrix.shape[0], factors, generator=generator, dtype=torch.float64)
    right = torch.rand(factors, matrix.shape[1], generator=generator, dtype=torch.float64)
    for _ in range(steps):
        if order == "right first":
            right = right * (left.T @ matrix) / (left.T @ left @ right + epsilon)
        left = left * (matrix @ right.T) / (left @ right @ right.T + epsilon)
        if order == "left first":
            right = right * (left.T @ matrix) / (left.T @ left @ right + epsilon)
    return left, right


def test_nmf_full_marks_and_wrong_methods():
    assert check_nmf(_updates) == 3
    assert check_nmf(lambda m, r, steps=500, seed=0: _updates(m, r, steps, seed + 99, order="left first")) == 3
    truncated_svd = lambda m, r, steps=500, seed=0: (lambda u, s, v: (u[:, :r] * s[:r], v[:r]))(*torch.linalg.svd(m, full_matrices=False))  # noqa: E731
    wrong = [
        truncated_svd,                                                             # negative parts
        lambda m, r, steps=500, seed=0: _updates(m, r, 3, seed),                   # too few steps
        lambda m, r, steps=500, seed=0: _updates(m, r, steps, seed, epsilon=0.0),  # 0 / 0 on the zero row
        lambda m, r, steps=500, seed=0: tuple(p.T for p in _updates(m, r, steps, seed)[::-1]),  # left and right swapped
    ]
    for function in wrong:
        with pytest.raises(AssertionError):
            check_nmf(function)


def test_nmf_refuses_the_course_implementation():
    from helpers.weights.nmf import nmf

    with pytest.raises(AssertionError, match="the course's own implementation"):
        check_nmf(lambda m, r, steps=500, seed=0: nmf(m, r, steps=steps, seed=seed))


def student_side_lean(weights, preference, orientation, *, y_up=True, centred=True, weighted=True):
    """The frequency map's lean as a student writes it; the keywords make its near misses."""
    import math

    k_rows, k_cols = weights.shape[-2:]
    grid = (torch.as_tensor(preference, dtype=weights.dtype)[:, None, None] * weights).sum(0) if weighted else weights.sum(0)
    rows, cols = torch.meshgrid(torch.arange(k_rows, dtype=weights.dtype), torch.arange(k_cols, dtype=weights.dtype),
                                indexing="ij")
    x = cols - (k_cols - 1) / 2 if centred else cols
    y = ((k_rows - 1) / 2 - rows if centred else -rows) if y_up else rows - (k_rows - 1) / 2
    angle = math.radians(orientation)
    return float((grid * (x * math.cos(angle) + y * math.sin(angle))).sum())


def test_side_lean_check(exercise_probe) -> None:
    from helpers.checks.frequency import check_side_lean

    assert check_side_lean(student_side_lean) == 3

    def course(weights, preference, orientation):  # reached through its module while the student's function runs
        import helpers.frequency

        return helpers.frequency.fine_side_lean(helpers.frequency.frequency_map(weights, preference), orientation)

    wrong = [lambda *a: student_side_lean(*a, y_up=False),  # rows taken as y: up and down swapped
             lambda *a: student_side_lean(*a, centred=False),  # offsets from the corner
             lambda *a: student_side_lean(*a, weighted=False),  # the inputs' preferences ignored
             course]
    for answer in wrong:
        exercise_probe.rejected(check_side_lean, answer)
    for constant in (0.0, 19.5, -19.5):
        assert check_side_lean.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_side_lean(...), lambda: check_side_lean(lambda *a: None))


def student_held_out_verdict(screened, held_out, peak, fine_control, smooth_control, tolerance=30.0, *,
                             around=True, both=True, silent=True, inclusive=True, tolerance_used=True):
    """Exercise 6 as a student writes it; the keywords make its near misses."""
    screened, held_out, peak = (np.asarray(v, dtype=float) for v in (screened, held_out, peak))
    fine_control, smooth_control = np.asarray(fine_control, dtype=float), np.asarray(smooth_control, dtype=float)
    difference = np.abs((held_out - screened + 180) % 360 - 180) if around else np.abs(held_out - screened)
    limit = tolerance if tolerance_used else 30.0
    same_orientation = difference <= limit if inclusive else difference < limit
    controls = np.maximum(fine_control, smooth_control) if both else (fine_control + smooth_control) / 2
    beats_controls = (peak > controls) & (peak > 0) if silent else peak > controls
    return same_orientation, beats_controls


def test_held_out_verdict_check(exercise_probe) -> None:
    from helpers.checks.frequency import check_held_out_verdict

    assert check_held_out_verdict(student_held_out_verdict) == 3

    def course(*args):  # reached through its module while the student's function runs
        import helpers.frequency

        return helpers.frequency.held_out_verdict(*args)

    def course_angles(screened, held_out, peak, fine_control, smooth_control, tolerance=30.0):
        from helpers.tuning import angle_difference

        same, beats = student_held_out_verdict(screened, held_out, peak, fine_control, smooth_control, tolerance)
        return angle_difference(held_out, screened) <= tolerance, beats

    near_misses = [dict(around=False),  # 350° and 10° taken as 340° apart
                   dict(both=False),  # the mean of the two controls instead of the larger
                   dict(silent=False),  # a member that never fires "beats" negative controls
                   dict(inclusive=False),  # a difference exactly at the tolerance dropped
                   dict(tolerance_used=False)]  # the tolerance ignored
    for keywords in near_misses:
        answer = lambda *a, k=keywords: student_held_out_verdict(*a, **k)  # noqa: E731
        assert 0 < check_held_out_verdict.__wrapped__(answer).fraction < 1, keywords
        exercise_probe.rejected(check_held_out_verdict, answer)
    only_fine = lambda s, h, p, f, m, t=30.0: student_held_out_verdict(s, h, p, f, f, t)  # noqa: E731
    exercise_probe.rejected(check_held_out_verdict, only_fine)  # one control only
    for answer in (course, course_angles):
        assert check_held_out_verdict.__wrapped__(answer).fraction == 0
    for constant in (True, False):
        answer = lambda s, *a, c=constant: (np.full(len(s), c), np.full(len(s), c))  # noqa: E731
        assert check_held_out_verdict.__wrapped__(answer).fraction == 0
    exercise_probe.rejected(check_held_out_verdict, lambda *a: a[0])  # not a pair
    exercise_probe.not_attempted(lambda: check_held_out_verdict(...), lambda: check_held_out_verdict(lambda *a: None))


def student_high_frequency_fraction(patch, cutoff=0.125, *, window=True, periodic=False, centred=True, radial=True,
                                    above=True, channels_first=True):
    """Exercise 7 as a student writes it; the keywords make its near misses."""
    if patch.dim() == 3 and not channels_first:
        return float(np.mean([student_high_frequency_fraction(p, cutoff, window=window, periodic=periodic,
                                                              centred=centred, radial=radial, above=above)
                              for p in patch]))
    grey = (patch.mean(0) if patch.dim() == 3 else patch).double()
    values = grey - grey.mean() if centred else grey
    rows, cols = values.shape
    if window:
        values = values * torch.outer(torch.hann_window(rows, periodic=periodic, dtype=torch.float64),
                                      torch.hann_window(cols, periodic=periodic, dtype=torch.float64))
    power = torch.fft.fft2(values).abs() ** 2
    fy = torch.fft.fftfreq(rows, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(cols, dtype=torch.float64)[None, :]
    radius = (fx**2 + fy**2).sqrt() if radial else torch.maximum(fx.abs(), fy.abs())
    high = power[radius > cutoff] if above else power[radius >= cutoff]
    total = float(power.sum())
    return 0.0 if total < 1e-12 else float(high.sum()) / total


def test_high_frequency_fraction_check(exercise_probe) -> None:
    from helpers.checks.frequency import check_high_frequency_fraction

    assert check_high_frequency_fraction(student_high_frequency_fraction) == 4

    def course(patch, cutoff=0.125):  # reached through its module while the student's function runs
        import helpers.stimuli.boundaries

        return helpers.stimuli.boundaries.high_frequency_fraction(patch, cutoff)

    def course_regions(patch, cutoff=0.125):
        from helpers.stimuli.boundaries import side_fractions

        return side_fractions(patch, {"all": (slice(None), slice(None))}, cutoff)["all"]

    def whole_image_share(patch, cutoff=0.125):  # lesson 01's measure: no window, a frequency's larger component
        from helpers.featurevis.fragility import high_frequency_share

        return float(high_frequency_share(patch if patch.dim() == 3 else patch[None], cutoff))

    near_misses = [dict(window=False),  # the cut edges counted as fine detail
                   dict(periodic=True),  # numpy's and torch's other Hann window
                   dict(centred=False),  # the mean left in
                   dict(radial=False),  # the larger component instead of the distance from zero frequency
                   dict(above=False),  # the cutoff itself counted as high
                   dict(channels_first=False)]  # the channels' shares averaged instead of the channels
    for keywords in near_misses:
        answer = lambda *a, k=keywords: student_high_frequency_fraction(*a, **k)  # noqa: E731
        assert check_high_frequency_fraction.__wrapped__(answer).fraction < 1, keywords
    exercise_probe.rejected(check_high_frequency_fraction, lambda *a: student_high_frequency_fraction(*a, window=False))
    assert check_high_frequency_fraction.__wrapped__(whole_image_share).fraction < 1
    for answer in (course, course_regions):
        assert check_high_frequency_fraction.__wrapped__(answer).fraction == 0
    for constant in (0.0, 0.5, 1.0):
        assert check_high_frequency_fraction.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_high_frequency_fraction(...),
                                 lambda: check_high_frequency_fraction(lambda *a: None))


def student_band_noise(size, frequency, seed=0, bandwidth=1.0, *, radial=True, octaves=True, fallback=True,
                       standardised=True, cycles_per_pixel=True):
    """Exercise 8's answer, written as a student would, and its near misses (switched off one at a time)."""
    if frequency == 0:
        return torch.zeros(size, size)
    white = np.random.default_rng(seed).standard_normal((size, size))
    fy = np.fft.fftfreq(size, d=1.0 if cycles_per_pixel else 1.0 / size)[:, None]
    fx = np.fft.fftfreq(size, d=1.0 if cycles_per_pixel else 1.0 / size)[None, :]
    radius = np.sqrt(fx**2 + fy**2) if radial else np.maximum(abs(fx), abs(fy))
    low, high = (frequency * 2 ** (-bandwidth / 2), frequency * 2 ** (bandwidth / 2)) if octaves else \
        (frequency - bandwidth * frequency / 2, frequency + bandwidth * frequency / 2)
    band = (radius >= low) & (radius <= high)
    if fallback and not band.any():
        band = np.abs(radius - frequency) <= 1.0 / size
    noise = np.real(np.fft.ifft2(np.fft.fft2(white) * band))
    if standardised:
        noise = (noise - noise.mean()) / (noise.std() + 1e-12)
    return torch.from_numpy(noise).float()


def test_band_noise_check(exercise_probe) -> None:
    from helpers.checks.frequency import check_band_noise

    assert check_band_noise(student_band_noise) == 3

    def course(size, frequency, seed=0, bandwidth=1.0):  # reached through its module while the student's runs
        import helpers.stimuli.boundaries

        return helpers.stimuli.boundaries.band_limited_noise(size, frequency, seed, bandwidth)

    def from_the_stimulus(size, frequency, seed=0, bandwidth=1.0):
        from helpers.stimuli.boundaries import frequency_boundary

        return (frequency_boundary(size, 0, frequency, frequency, seed=seed)[0] - 0.5) * 6

    near_misses = [dict(radial=False),  # a square band: the larger component instead of the distance
                   dict(octaves=False),  # the bandwidth read as a share of the frequency, not in octaves
                   dict(fallback=False),  # nothing kept when the band misses the frequency grid
                   dict(standardised=False),  # not rescaled to mean 0 and standard deviation 1
                   dict(cycles_per_pixel=False)]  # frequencies in cycles per image
    for keywords in near_misses:
        answer = lambda *a, k=keywords: student_band_noise(*a, **k)  # noqa: E731
        assert check_band_noise.__wrapped__(answer).fraction < 1, keywords
    exercise_probe.rejected(check_band_noise, lambda *a: student_band_noise(*a, radial=False))
    for answer in (course, from_the_stimulus, lambda size, *a: torch.zeros(size, size),
                   lambda size, *a: torch.randn(size, size)):
        assert check_band_noise.__wrapped__(answer).fraction == 0
    exercise_probe.not_attempted(lambda: check_band_noise(...), lambda: check_band_noise(lambda *a, **k: None))


def test_noise_beside_figure(capsys) -> None:
    import matplotlib.pyplot as plt

    from helpers.plotting.frequency import noise_beside_figure

    assert noise_beside_figure(lambda *a, **k: None) is None
    assert "Write exercise 8 first" in capsys.readouterr().out
    figure = noise_beside_figure(student_band_noise, size=32)
    assert len(figure.axes) >= 4
    plt.close(figure)
