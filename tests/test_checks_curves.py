"""Lesson 02's exercise checks: the course's method gets full marks, neighbouring methods lose points,
the placeholder reports "not attempted"."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.checks import ExerciseError
from helpers.checks.curves import check_curve, check_orientation_selectivity, check_preferred_orientation
from helpers.stimuli.curves import curve
from helpers.tuning import angle_difference


def solution_curve(size, orientation, radius, length, width, center):
    x, y = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    theta = math.radians(orientation)
    cx, cy = center[0] - radius * math.cos(theta), center[1] + radius * math.sin(theta)
    angle = np.arctan2(-(y - cy), x - cx)
    offset = np.angle(np.exp(1j * (angle - theta)))
    distance = np.abs(np.hypot(x - cx, y - cy) - radius)
    ink = (np.abs(offset) <= length / radius / 2) & (distance <= width / 2)
    return torch.from_numpy(np.where(ink, 0.0, 1.0)).float().expand(3, size, size).clone()


def solution_preferred(responses, orientations):
    values = np.clip(np.asarray(responses, dtype=float), 0, None)
    weights = np.clip(values - values.max() / 2, 0, None)
    return float(np.degrees(np.angle((weights * np.exp(1j * np.radians(orientations))).sum())) % 360)


def test_curve_right_answers_pass(strict) -> None:
    assert check_curve(curve)
    assert check_curve(solution_curve)


@pytest.mark.parametrize("wrong", [
    lambda size, orientation, **kw: solution_curve(size, -orientation, **kw),          # y axis not flipped
    lambda size, orientation, **kw: solution_curve(size, orientation + 180, **kw),     # concave side
    lambda size, orientation, radius, length, width, center: solution_curve(size, orientation, radius, length, 2 * width, center),
    lambda size, orientation, radius, length, width, center: solution_curve(
        size, orientation, radius, length, width, (center[0] + radius * math.cos(math.radians(orientation)),
                                                   center[1] - radius * math.sin(math.radians(orientation)))),  # circle centre at `center`
    lambda size, orientation, radius, length, width, center: solution_curve(size, orientation, radius, 2 * length, width, center),
    lambda size, **kw: torch.ones(3, size, size),
])
def test_curve_wrong_methods_lose_points(wrong) -> None:
    assert not check_curve(wrong)


def test_preferred_orientation_right_answers_pass(strict) -> None:
    assert check_preferred_orientation(solution_preferred)


def test_preferred_orientation_and_selectivity_withhold_the_course_functions(exercise_probe) -> None:
    from helpers.tuning import orientation_selectivity, preferred_orientation
    exercise_probe.rejected(check_preferred_orientation, lambda r, o: preferred_orientation(r, o)[0])
    exercise_probe.rejected(check_orientation_selectivity, lambda r, o: orientation_selectivity(r, o)[0])


@pytest.mark.parametrize("wrong", [
    lambda r, o: float(o[np.argmax(r)]),                                                  # argmax
    lambda r, o: float(np.sum(np.clip(r, 0, None) * o) / np.sum(np.clip(r, 0, None))),   # linear mean
    lambda r, o: float(np.degrees(np.angle((np.clip(r, 0, None) * np.exp(1j * np.radians(o))).sum())) % 360),  # no half-peak
    lambda r, o: 90.0,
])
def test_preferred_orientation_wrong_methods_lose_points(wrong) -> None:
    assert not check_preferred_orientation(wrong)


def test_placeholders_are_not_attempted(capsys) -> None:
    def my_curve(size, orientation, radius, length, width, center):
        ...

    assert not check_curve(my_curve)
    assert not check_curve(...)
    assert not check_preferred_orientation(lambda r, o: None)
    assert "Not attempted yet" in capsys.readouterr().out


def test_strict_mode_raises_on_a_wrong_answer(strict) -> None:
    with pytest.raises(ExerciseError):
        check_preferred_orientation(lambda r, o: 0.0)


def solution_selectivity(responses, orientations):
    values = np.clip(np.asarray(responses, dtype=float), 0, None)
    weights = np.clip(values - values.max() / 2, 0, None)
    total = weights.sum()
    return float(abs((weights * np.exp(1j * np.radians(orientations))).sum()) / total) if total > 0 else 0.0


def test_selectivity_right_answer_passes(strict) -> None:
    from helpers.checks.curves import check_orientation_selectivity
    assert check_orientation_selectivity(solution_selectivity)


@pytest.mark.parametrize("wrong", [
    lambda r, o: float(abs((np.clip(r, 0, None) * np.exp(1j * np.radians(o))).sum()) / max(np.clip(r, 0, None).sum(), 1e-12)),  # no half-peak
    lambda r, o: float(abs((np.clip(r - r.max() / 2, 0, None) * np.exp(1j * np.radians(o))).sum())),                          # not normalized
    lambda r, o: float(np.max(r) / max(np.abs(r).sum(), 1e-12)),
    lambda r, o: 1.0,
])
def test_selectivity_wrong_methods_lose_points(wrong) -> None:
    from helpers.checks.curves import check_orientation_selectivity
    assert not check_orientation_selectivity(wrong)


@pytest.mark.parametrize("constant", [0.0, 0.13, 0.75, 0.98, 1.0])
def test_selectivity_constant_earns_nothing(constant) -> None:
    from helpers.checks.curves import check_orientation_selectivity
    assert check_orientation_selectivity.__wrapped__(lambda r, o: constant).fraction == 0


def student_neighbour_hits(responses, owner, orientations, tolerance, *, scaled=True, own_left_out=True, circular=True):
    """The neighbour test's count as a student writes it; the keywords make its near misses."""
    from helpers.tuning import angle_difference

    values = np.asarray(responses, dtype=float).copy()
    owner = np.asarray(owner)
    if scaled:
        spread = values.std(0)
        values = (values - values.mean(0)) / np.where(spread > 0, spread, 1.0)
    if own_left_out:
        values[np.arange(len(owner)), owner] = -np.inf
    winner = values.argmax(1)
    difference = (angle_difference(orientations[winner], orientations[owner]) if circular
                  else np.abs(orientations[winner] - orientations[owner]))
    return int((difference <= tolerance).sum())


def test_neighbour_hits_check(exercise_probe) -> None:
    from helpers.checks.curves import check_neighbour_hits

    assert check_neighbour_hits(student_neighbour_hits) == 2

    def course(*args):  # the course's test, reached through its module while the student's function runs
        import helpers.tuning

        return helpers.tuning.neighbour_test(*args).hits

    wrong = [lambda *a: student_neighbour_hits(*a, scaled=False),  # a loud member wins every image
             lambda *a: student_neighbour_hits(*a, own_left_out=False),  # the image's own member wins
             lambda *a: student_neighbour_hits(*a, circular=False),  # 350° and 10° counted as far apart
             course]
    for answer in wrong:
        exercise_probe.rejected(check_neighbour_hits, answer)
    for constant in range(0, 17):
        assert check_neighbour_hits.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_neighbour_hits(...), lambda: check_neighbour_hits(lambda *a: None))


def student_hand_over_misses(responses, preferred, angles, *, sign=1.0, folded=True):
    """Argument 4's misses as a student writes them; the keywords make its near misses."""
    winners = responses.argmax(axis=2)
    turned = (preferred[:, None] + sign * angles[None, :]) % 360
    if folded:
        return angle_difference(preferred[winners], turned)
    return np.abs(preferred[winners] - turned)


def test_hand_over_check(exercise_probe) -> None:
    from helpers.checks.curves import check_hand_over

    assert check_hand_over(student_hand_over_misses) == 3

    def course(*args):  # the course's measure, reached through its module while the student's function runs
        import helpers.rotation

        return helpers.rotation.hand_over_misses(*args)

    wrong = [lambda *a: student_hand_over_misses(*a, sign=-1.0),  # the examples turned the other way
             lambda *a: student_hand_over_misses(*a, folded=False),  # 340° for 20°
             lambda r, p, a: angle_difference(r.argmax(2) * 1.0, (p[:, None] + a[None, :]) % 360),  # winner's index
             lambda r, p, a: angle_difference(p[r.argmax(2)], p[:, None] + 0 * a[None, :]),  # source's own orientation
             course]
    for answer in wrong:
        exercise_probe.rejected(check_hand_over, answer)
    for constant in (0.0, 22.5, 45.0, 90.0):
        assert check_hand_over.__wrapped__(lambda r, p, a, c=constant: np.full(r.shape[:2], c)).fraction == 0
    exercise_probe.not_attempted(lambda: check_hand_over(...), lambda: check_hand_over(lambda *a: None))


def student_polarity_hold_out(selectivity, preferred, orientations, *, at_least=False, circular=True, inclusive=True,
                              gap_of="both"):
    """The family's three numbers in its other polarity as a student writes them; the keywords make near misses."""
    from helpers.tuning import largest_gap

    kept = selectivity >= 0 if at_least else selectivity > 0
    shift = angle_difference(preferred, orientations) if circular else np.abs(preferred - orientations)
    same = shift <= 45 if inclusive else shift < 45
    passing = {"both": kept & same, "kept": kept, "all": np.ones_like(kept)}[gap_of]
    return np.array([kept.mean(), same.mean(), largest_gap(orientations[passing])])


def test_polarity_hold_out_check(exercise_probe) -> None:
    from helpers.checks.curves import check_polarity_hold_out

    assert check_polarity_hold_out(student_polarity_hold_out) == 3
    assert check_polarity_hold_out(lambda *a: tuple(student_polarity_hold_out(*a))) == 3  # three numbers in a tuple

    def course(*args):  # the course's scores, reached through their module
        import helpers.polarity_hold_out

        return helpers.polarity_hold_out.polarity_hold_out_scores(*args)

    wrong = [lambda *a: student_polarity_hold_out(*a, at_least=True),  # a selectivity of 0 counted as kept
             lambda *a: student_polarity_hold_out(*a, circular=False),  # shifts not measured on the circle
             lambda *a: student_polarity_hold_out(*a, inclusive=False),  # a shift of exactly 45° not counted
             lambda *a: student_polarity_hold_out(*a, gap_of="kept"),  # the gap of every member still preferring curves
             lambda *a: student_polarity_hold_out(*a, gap_of="all"),  # the gap of the whole family
             course]
    for answer in wrong:
        exercise_probe.rejected(check_polarity_hold_out, answer)
    for constant in ((0.0, 0.0, 360.0), (1.0, 1.0, 90.0), (0.75, 0.75, 180.0)):
        assert check_polarity_hold_out.__wrapped__(lambda *a, c=constant: np.array(c)).fraction == 0
    exercise_probe.not_attempted(lambda: check_polarity_hold_out(...),
                                 lambda: check_polarity_hold_out(lambda *a: None))


def student_orientation_tuning(responses, preferred, angles, exclude_own, *, sign=1.0, own=True, mean=True,
                               keep_empty=False):
    """Argument 4's tuning by the turned curve's orientation as a student writes it; the keywords make near misses."""
    step = np.diff(angles).min() if len(angles) > 1 else 360.0
    bins = np.arange(0, 360, step)
    members = responses.shape[2]
    total, seen = np.zeros((len(bins), members)), np.zeros((len(bins), members))
    for source, base in enumerate(preferred):
        use = np.ones(members)
        if exclude_own and own:
            use[source] = 0.0
        for a, angle in enumerate(angles):
            index = int(np.round(((base + sign * angle) % 360) / step)) % len(bins)
            total[index] += responses[source, a] * use
            seen[index] += use
    if keep_empty:
        return bins, total / np.maximum(seen, 1)
    filled = (seen > 0).all(1)
    return bins[filled], total[filled] / seen[filled] if mean else total[filled]


def test_orientation_tuning_check(exercise_probe) -> None:
    from helpers.checks.curves import check_orientation_tuning

    assert check_orientation_tuning(student_orientation_tuning) == 3
    assert check_orientation_tuning(lambda *a: [torch.as_tensor(v) for v in student_orientation_tuning(*a)]) == 3

    def course(*args):  # the course's read-out, reached through its module while the student's function runs
        import helpers.rotation

        return helpers.rotation.orientation_tuning(*args)

    wrong = [lambda *a: student_orientation_tuning(*a, sign=-1.0),  # the examples turned the other way
             lambda *a: student_orientation_tuning(*a, own=False),  # own examples kept when asked to leave them out
             lambda *a: student_orientation_tuning(*a, mean=False),  # sums, not means
             course]
    for answer in wrong:
        exercise_probe.rejected(check_orientation_tuning, answer)
    # empty bins kept as zeros: only the part with empty bins is lost
    assert check_orientation_tuning.__wrapped__(lambda *a: student_orientation_tuning(*a, keep_empty=True)).fraction < 1
    assert check_orientation_tuning.__wrapped__(lambda r, *a: (np.zeros(4), np.zeros((4, r.shape[2])))).fraction == 0
    exercise_probe.not_attempted(lambda: check_orientation_tuning(...), lambda: check_orientation_tuning(lambda *a: None))


def student_rotate_about(images, degrees, center, *, sign=1.0, about_middle=False, nearest=False):
    """Images turned about a point as a student writes it (sampling with numpy); the keywords make near misses."""
    array = images.numpy()
    height, width = array.shape[-2:]
    if about_middle:
        center = (width / 2, height / 2)
    y, x = np.mgrid[0:height, 0:width] + 0.5
    theta = np.radians(sign * degrees)
    dx, dy = x - center[0], y - center[1]
    source_x = center[0] + dx * np.cos(theta) - dy * np.sin(theta) - 0.5
    source_y = center[1] + dx * np.sin(theta) + dy * np.cos(theta) - 0.5
    if nearest:
        rows = np.clip(np.round(source_y).astype(int), 0, height - 1)
        cols = np.clip(np.round(source_x).astype(int), 0, width - 1)
        return torch.from_numpy(array[..., rows, cols])
    col0, row0 = np.clip(np.floor(source_x).astype(int), 0, width - 2), np.clip(np.floor(source_y).astype(int), 0, height - 2)
    fx, fy = np.clip(source_x - col0, 0, 1), np.clip(source_y - row0, 0, 1)
    top = array[..., row0, col0] * (1 - fx) + array[..., row0, col0 + 1] * fx
    bottom = array[..., row0 + 1, col0] * (1 - fx) + array[..., row0 + 1, col0 + 1] * fx
    return torch.from_numpy(top * (1 - fy) + bottom * fy).float()


def forward_rotate_about(images, degrees, center):
    """A near miss: each input pixel pushed to where the turn carries it (rounded), leaving holes between them."""
    array = images.numpy()
    height, width = array.shape[-2:]
    y, x = np.mgrid[0:height, 0:width] + 0.5
    theta = np.radians(degrees)
    dx, dy = x - center[0], y - center[1]
    cols = np.round(center[0] + dx * np.cos(theta) + dy * np.sin(theta) - 0.5).astype(int)
    rows = np.round(center[1] - dx * np.sin(theta) + dy * np.cos(theta) - 0.5).astype(int)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    turned = np.zeros_like(array)
    turned[..., rows[inside], cols[inside]] = array[..., inside]
    return torch.from_numpy(turned)


def test_rotate_about_check(exercise_probe) -> None:
    from helpers.checks.curves import check_rotate_about

    assert check_rotate_about(student_rotate_about) == 3
    assert check_rotate_about(lambda *a: student_rotate_about(*a, nearest=True)) == 3  # nearest pixel is close enough

    def course(*args):  # the course's turn, reached through its module while the student's function runs
        import helpers.rotation

        return helpers.rotation.rotate_about(*args)

    wrong = [lambda *a: student_rotate_about(*a, sign=-1.0),  # clockwise: y taken as pointing down
             lambda *a: student_rotate_about(*a, about_middle=True),  # about the image's middle, not the point
             lambda images, degrees, center: images.transpose(-1, -2).flip(-1),  # a quarter turn whatever the angle
             forward_rotate_about,  # pixels pushed forward: holes
             course]
    for answer in wrong:
        exercise_probe.rejected(check_rotate_about, answer)
    assert check_rotate_about.__wrapped__(lambda images, *a: images.clone()).fraction == 0
    assert check_rotate_about.__wrapped__(lambda images, *a: torch.full_like(images, 0.5)).fraction == 0
    exercise_probe.not_attempted(lambda: check_rotate_about(...), lambda: check_rotate_about(lambda *a: None))


def student_screen_scores(curve, line, corner, blank, *, relative=True, by="curve", silent=-1.0, tuning_from="best"):
    """The screen's scores as a student writes them; the keywords make near misses."""
    shift = np.asarray(blank, dtype=float) if relative else 0.0
    curve, line, corner = (np.asarray(part, dtype=float) - shift for part in (curve, line, corner))
    units = curve.shape[-1]
    best_curve = curve.reshape(-1, units).max(0)
    best_line = line.reshape(-1, units).max(0)
    best_corner = corner.reshape(-1, units).max(0)
    scale = np.maximum(best_curve if by == "curve" else np.abs(best_line) + 1e-12, 1e-12)
    selectivity = np.where(best_curve > 0, (best_curve - best_line) / scale, silent).clip(-1, 1)
    margin = np.where(best_curve > 0, (best_curve - best_corner) / scale, silent).clip(-1, 1)
    if tuning_from == "each":  # the best radius orientation by orientation
        return selectivity, margin, curve.max(1)
    radius = curve.mean(0).argmax(0) if tuning_from == "mean" else curve.max(0).argmax(0)
    return selectivity, margin, np.take_along_axis(curve, radius[None, None, :], axis=1)[:, 0]


def test_screen_scores_check(exercise_probe) -> None:
    from helpers.checks.curves import check_screen_scores

    assert check_screen_scores(student_screen_scores) == 3
    assert check_screen_scores(lambda *a: [torch.from_numpy(p) for p in student_screen_scores(*a)]) == 3  # tensors, a list

    def course(*args):  # the course's scores, reached through their module
        import helpers.tuning

        return helpers.tuning.screen_scores(*args)

    def through_screen(curve, line, corner, blank):  # the screen's own scoring, reached through its module
        import helpers.families.curves

        raw = np.concatenate([np.reshape(p, (-1, p.shape[-1])) for p in (curve, line, corner)] + [blank[None]])
        layout = dict(orientations=np.arange(curve.shape[0]) * 360.0 / curve.shape[0], radii=np.arange(curve.shape[1]) + 1.0,
                      line_angles=np.arange(line.shape[0]), line_offsets=np.arange(line.shape[1]),
                      corner_angles=np.arange(corner.shape[1]), layer="x", placement=None, pre_activation=False, style={})
        screen = helpers.families.curves._scored(raw, layout, 1.0)
        return screen.curve_selectivity, screen.corner_margin, screen.tuning()

    assert through_screen(*screen_case()) is not None  # the stand-in really computes the scores outside the check
    wrong = [lambda *a: student_screen_scores(*a, relative=False),  # responses not taken relative to the blank
             lambda *a: student_screen_scores(*a, by="line"),  # divided by the best line instead of the best curve
             lambda *a: student_screen_scores(*a, silent=0.0),  # a unit no curve drives scored 0, not -1
             lambda *a: student_screen_scores(*a, tuning_from="each"),  # the best radius picked orientation by orientation
             lambda *a: student_screen_scores(*a, tuning_from="mean"),  # the radius best on average
             course, through_screen]
    for answer in wrong:
        exercise_probe.rejected(check_screen_scores, answer)
    for constant in ((np.zeros(4), np.zeros(4), np.zeros((8, 4))), (np.ones(6), -np.ones(6), np.ones((16, 6)))):
        assert check_screen_scores.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_screen_scores(...), lambda: check_screen_scores(lambda *a: None))


def screen_case():
    """One of the check's hand-built cases, for the stand-in above."""
    from helpers.checks.curves import screen_cases

    return next(iter(screen_cases().values()))[0]


def student_centre_examples(images, points, center, size, margin, *, sign=1.0, swap=False, mirror="reflect",
                            rounding=round, strict=False):
    """Photographs centred on a point as a student writes it; the keywords make near misses."""
    kept = []
    for image, (x, y) in zip(images, points):
        _, height, width = image.shape
        if swap:
            x, y = y, x
        distance = min(x, y, width - x, height - y)
        if distance < margin or (strict and distance == margin):
            continue
        rows = torch.arange(size) - rounding(sign * (center[1] - y))
        cols = torch.arange(size) - rounding(sign * (center[0] - x))

        def inside(index, n):
            if mirror == "edge":
                return index.clamp(0, n - 1)
            index = index.clamp(-(n - 1), 2 * n - 2)
            low = -index if mirror == "reflect" else -index - 1
            high = 2 * (n - 1) - index if mirror == "reflect" else 2 * n - 1 - index
            return torch.where(index < 0, low, torch.where(index >= n, high, index)).clamp(0, n - 1)

        kept.append(image[:, inside(rows, height)][:, :, inside(cols, width)])
    return torch.stack(kept) if kept else torch.zeros(0, 3, size, size)


def test_centre_examples_check(exercise_probe) -> None:
    from helpers.checks.curves import check_centre_examples

    assert check_centre_examples(student_centre_examples) == 3
    assert check_centre_examples(lambda *a: student_centre_examples(*a).numpy()) == 3  # an array is fine too

    def course(*args):  # the course's centring, reached through its module
        import helpers.rotation

        return helpers.rotation.centre_examples(*args)

    def one_by_one(images, points, center, size, margin):  # the course's recentre, reached through its module
        import helpers.probing
        import helpers.rotation

        place = helpers.probing.Placement("", size, center, 0.0)
        kept = [helpers.rotation.recentre(i, p, place) for i, p in zip(images, points)
                if min(p[0], p[1], i.shape[-1] - p[0], i.shape[-2] - p[1]) >= margin]
        return torch.stack(kept) if kept else torch.zeros(0, 3, size, size)

    wrong = [lambda *a: student_centre_examples(*a, sign=-1.0),  # the shift the wrong way (point - center)
             lambda *a: student_centre_examples(*a, swap=True),  # x and y swapped (rows shifted by x)
             lambda *a: student_centre_examples(*a, mirror="edge"),  # the border's last pixel repeated, not mirrored
             lambda *a: student_centre_examples(*a, mirror="symmetric"),  # mirrored with the edge pixel repeated
             lambda *a: student_centre_examples(*a, rounding=int),  # shifts truncated, not rounded
             lambda i, p, c, s, m: student_centre_examples(i, p, c, s, 0.0),  # no point skipped
             lambda *a: student_centre_examples(*a, strict=True),  # a point exactly on the margin skipped
             course, one_by_one]
    for answer in wrong:
        exercise_probe.rejected(check_centre_examples, answer)
    for constant in (torch.zeros(0, 3, 32, 32), torch.full((3, 3, 32, 32), 0.5)):
        assert check_centre_examples.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_centre_examples(...), lambda: check_centre_examples(lambda *a: None))
