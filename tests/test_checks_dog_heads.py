"""The dog-head lesson's exercise checks: the right answer passes, every plausible wrong answer fails, `...` is "not attempted".

Run in strict mode (CIRCUITS_STRICT=1). The network is test_mirror.py's tiny hand-built one: ``heads:0``
answers a left arrow, ``heads:1`` its mirror image (a right arrow), ``heads:2`` never fires.
"""
import pytest
import torch

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.dog_heads import check_mirror_partners, check_mirror_test, check_transform_weights
from helpers.weights.equivariance import hue_rotation
from helpers.mirror import MirrorTest, mirror_score, mirror_test, partners_from_test
from helpers.models import Unit
from helpers.probing import unit_responses
from test_mirror import build_network, left_arrows, mixed_arrows


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def model():
    return build_network()


def my_mirror_test(model, units, images):
    """The course's answer to exercise 1, written as a student would."""
    given = unit_responses(model, units, images, at="max").clamp(min=0).sum(0)
    mirrored = unit_responses(model, units, images.flip(-1), at="max").clamp(min=0).sum(0)
    total = given + mirrored
    return torch.where(total > 0, (given - mirrored) / total.clamp(min=1e-12), torch.zeros_like(total))


def test_mirror_test_full_marks_and_wrong_methods(model):
    images = mixed_arrows()
    assert check_mirror_test(my_mirror_test, model, "merge", images) == 3
    wrong = (
        lambda m, u, x: -my_mirror_test(m, u, x),  # the sides swapped
        lambda m, u, x: my_mirror_test(m, u, x.flip(-2)) * 0 + my_mirror_test(m, u, x).sign(),  # labels, not scores
        lambda m, u, x: mirror_score(unit_responses(m, u, x, at="center").T, unit_responses(m, u, x.flip(-1), at="center").T),
        lambda m, u, x: mirror_score(unit_responses(m, u, x, at="max").T, unit_responses(m, u, x.flip(-2), at="max").T),
        lambda m, u, x: mirror_test(m, u, x),  # the library's object, not the scores
        lambda m, u, x: mirror_test(m, u, x).left_score,  # the course's own implementation
        lambda m, u, x: mirror_score(unit_responses(m, u, x, at="max").T, unit_responses(m, u, x.flip(-1), at="max").T),
    )
    for function in wrong:
        with pytest.raises(ExerciseError):
            check_mirror_test(function, model, "merge", images)


def my_mirror_partners(given, mirrored):
    """The course's answer to exercise 2, written as a student would."""
    standardize = lambda r: (r - r.mean(0)) / (r - r.mean(0)).norm(dim=0).clamp(min=1e-9)  # noqa: E731
    correlation = standardize(given).T @ standardize(mirrored)
    correlation.fill_diagonal_(-2)
    return correlation.argmax(1)


def test_mirror_partners_full_marks_and_wrong_methods(model):
    test = mirror_test(model, model.units("heads"), mixed_arrows())
    assert check_mirror_partners(my_mirror_partners, test) == 3
    def with_self(given, mirrored):
        standardize = lambda r: (r - r.mean(0)) / (r - r.mean(0)).norm(dim=0).clamp(min=1e-9)  # noqa: E731
        return (standardize(given).T @ standardize(mirrored)).argmax(1)
    wrong = (with_self, lambda g, m: my_mirror_partners(g, g), lambda g, m: my_mirror_partners(g.T @ g, m.T @ m),
             lambda g, m: torch.arange(g.shape[1]).roll(1), lambda g, m: my_mirror_partners(m, g).argsort(),
             lambda g, m: partners_from_test(MirrorTest([Unit("x", c) for c in range(g.shape[1])], g.T, m.T, 1 / 3, 1e-3)).partner)
    for function in wrong:
        with pytest.raises(ExerciseError):
            check_mirror_partners(function, test)




def test_placeholder_is_not_attempted(monkeypatch, model, capsys):
    test = mirror_test(model, model.units("heads"), mixed_arrows())
    with pytest.raises(NotAttempted):
        check_mirror_test(lambda *args: None, model, "heads", left_arrows())
    with pytest.raises(NotAttempted):
        check_mirror_partners(..., test)
    monkeypatch.setenv("CIRCUITS_STRICT", "")
    assert not check_mirror_partners(..., test)
    assert not check_mirror_partners(lambda g, m: torch.zeros(g.shape[1], dtype=torch.long), test)
    out = capsys.readouterr().out
    assert "Not attempted yet" in out and "cases right" in out


def _transformed(weights, transformation, *, turn=1, flip_dim=3, shift=1, colour_dim=1):
    if transformation == "rotation":
        return torch.rot90(weights, turn, dims=(2, 3))
    if transformation == "reflection":
        return torch.flip(weights, dims=(flip_dim,))
    return torch.roll(weights, shift, dims=colour_dim)


def test_transform_weights_full_marks_and_wrong_transformations(strict):
    assert check_transform_weights(_transformed) == 3
    hue_matrix = lambda w, t: torch.einsum("ij,ujhw->uihw", hue_rotation(120.0).float(), w) if t == "hue" else _transformed(w, t)  # noqa: E731
    assert check_transform_weights(hue_matrix) == 3
    wrong = [
        lambda w, t: _transformed(w, t, turn=-1),        # clockwise
        lambda w, t: _transformed(w, t, flip_dim=2),     # mirrored up-down
        lambda w, t: _transformed(w, t, shift=-1),       # hue turned the other way
        lambda w, t: _transformed(w, t, colour_dim=0),   # units moved instead of colours
        lambda w, t: w,                                  # nothing done
    ]
    for function in wrong:
        with pytest.raises(AssertionError):
            check_transform_weights(function)


def student_same_and_cross(weights, follows, first_pairs, second_pairs, *, orient=True, transposed=False, scaled=True):
    """The same-side and cross weights as a student writes them; the keywords make its near misses."""
    import numpy as np

    weights = weights.T if transposed else weights
    same, cross = [], []
    for a, b in first_pairs:
        for c, d in second_pairs:
            if orient and follows[a, c] + follows[b, d] < follows[a, d] + follows[b, c]:
                c, d = d, c
            same.append((weights[c, a] + weights[d, b]) / 2)
            cross.append((weights[d, a] + weights[c, b]) / 2)
    scale = np.abs(weights).mean() if scaled else 1.0
    return float(np.mean(same) / scale), float(np.mean(cross) / scale)


def test_same_and_cross_check(exercise_probe):
    from helpers.checks.dog_heads import check_same_and_cross

    def course(*args):  # the course's own, reached through its module while the student's function runs
        import helpers.union_weights

        return helpers.union_weights.same_and_cross(*args)

    assert check_same_and_cross(student_same_and_cross) == 3
    wrong = [lambda *a: student_same_and_cross(*a, orient=False),  # the later pair never swapped
             lambda *a: student_same_and_cross(*a, transposed=True),  # weights read (source, target)
             lambda *a: student_same_and_cross(*a, scaled=False),  # not in units of the mean |weight|
             lambda *a: student_same_and_cross(*a)[::-1],  # (cross, same)
             course]
    for answer in wrong:
        exercise_probe.rejected(check_same_and_cross, answer)
    exercise_probe.not_attempted(lambda: check_same_and_cross(...), lambda: check_same_and_cross(lambda *a: None))


def student_best_copy(transformed, weights, *, centred=True, others_only=True):
    """A unit's best transformed copy as a student writes it; the keywords make its near misses."""
    def unit_vectors(pictures):
        flat = pictures.flatten(1).double()
        flat = flat - flat.mean(dim=1, keepdim=True) if centred else flat
        return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)

    table = unit_vectors(transformed) @ unit_vectors(weights).T
    if others_only:
        table = table.masked_fill(torch.eye(len(table), dtype=torch.bool), -2.0)
    return table.max(dim=1).values


def test_best_copy_check(model, exercise_probe) -> None:
    from helpers.checks.dog_heads import check_best_copy

    assert check_best_copy(student_best_copy, model) == 3

    def course(transformed, weights):  # the course's search, reached through its module while the student's runs
        import helpers.weights.equivariance

        return helpers.weights.equivariance.best_other_match(transformed, weights).values

    wrong = [lambda t, w: student_best_copy(t, w, centred=False),  # cosine similarity, not a correlation
             lambda t, w: student_best_copy(t, w, others_only=False),  # a symmetric unit matches itself
             course]
    for answer in wrong:
        exercise_probe.rejected(check_best_copy, answer, model)
    for constant in (0.0, 0.5, 1.0):
        assert check_best_copy.__wrapped__(lambda t, w, c=constant: torch.full((len(w),), c), model).fraction == 0
    exercise_probe.not_attempted(lambda: check_best_copy(..., model), lambda: check_best_copy(lambda t, w: None, model))


def student_partner_answers(model, pairs, pictures, *, pre_activation=True, at="max", flip=-1, both_ways=True,
                            partner_reads=True, mirror_first=True):
    """A mirror pair tested on its members' pictures as a student writes it; the keywords make its near misses."""
    rows = []
    for a, b in pairs:
        for shown, reader in ((a, b), (b, a)) if both_ways else ((a, b),):
            picture = pictures[shown]
            both = [picture.flip(flip), picture] if mirror_first else [picture, picture.flip(flip)]
            rows.append(unit_responses(model, [reader if partner_reads else shown], torch.stack(both), at=at,
                                       pre_activation=pre_activation)[:, 0])
    return torch.stack(rows)


def test_partner_answers_check(model, exercise_probe) -> None:
    from helpers.checks.dog_heads import check_partner_answers

    images = mixed_arrows()
    assert check_partner_answers(student_partner_answers, model, "merge", images) == 3
    # after the ReLU a silenced answer reads 0: the known pair's part is lost
    assert check_partner_answers.__wrapped__(
        lambda *a: student_partner_answers(*a, pre_activation=False), model, "merge", images).fraction < 1

    def course(model, pairs, pictures):  # the course's test, reached through its module while the student's runs
        import helpers.mirror

        return helpers.mirror.partner_answers(model, pairs, pictures)

    wrong = [lambda *a: student_partner_answers(*a, at="center"),  # the arrows are off centre
             lambda *a: student_partner_answers(*a, flip=-2),  # mirrored up-down
             lambda *a: student_partner_answers(*a, both_ways=False),  # one direction per pair
             lambda *a: student_partner_answers(*a, partner_reads=False),  # the picture's own unit reads it
             lambda *a: student_partner_answers(*a, mirror_first=False),  # (as given, mirrored)
             course]
    for answer in wrong:
        exercise_probe.rejected(check_partner_answers, answer, model, "merge", images)
    for constant in (0.0, 1.0):
        assert check_partner_answers.__wrapped__(lambda m, p, q, c=constant: torch.full((2 * len(p), 2), c),
                                                 model, "merge", images).fraction == 0
    exercise_probe.not_attempted(lambda: check_partner_answers(..., model, "merge", images),
                                 lambda: check_partner_answers(lambda m, p, q: None, model, "merge", images))


def student_mirror_pairs(correlation, *, mutual=True, beat_self=True, diagonal_out=True, by="min", ordered=True):
    """The mutual mirror pairs as a student writes them; the keywords make its near misses."""
    others = correlation.clone()
    if diagonal_out:
        others.fill_diagonal_(-2.0)
    partner = others.argmax(1)
    found = []
    for a in range(len(correlation)):
        b = int(partner[a])
        if a == b or (mutual and int(partner[b]) != a) or (mutual and a > b):
            continue
        pair = (min(a, b), max(a, b))
        follow = (min if by == "min" else max)(float(correlation[a, b]), float(correlation[b, a]))
        if beat_self and follow <= max(float(correlation[a, a]), float(correlation[b, b])):
            continue
        if pair not in [p for _, p in found]:
            found.append((follow, pair))
    if ordered:
        found.sort(reverse=True)
    return [pair for _, pair in found]


def _layer_test(units=30, seed=5):
    """A hand-built mirror test of one 'layer': random responses, every third unit invariant, the two after it a pair."""
    import numpy as np

    rng = np.random.default_rng(seed)
    given = torch.as_tensor(rng.gamma(2.0, size=(40, units)), dtype=torch.float32)
    swap = np.arange(units)
    for a in range(0, units - 2, 3):
        swap[a + 1], swap[a + 2] = a + 2, a + 1
    mirrored = given[:, swap] + torch.as_tensor(rng.normal(scale=rng.uniform(0.3, 2.0, size=units), size=(40, units)),
                                                dtype=torch.float32)
    return MirrorTest([Unit("layer", c) for c in range(units)], given.T, mirrored.T, 1 / 3, 1e-3)


def test_mirror_pairs_check(exercise_probe) -> None:
    from helpers.checks.dog_heads import check_mirror_pairs

    test = _layer_test()
    assert check_mirror_pairs(student_mirror_pairs, test) == 3

    def course(correlation):  # the course's own, reached through its module while the student's function runs
        import helpers.mirror

        return helpers.mirror.mutual_pairs(correlation)

    def through_partners(correlation):  # the lesson's object built around the table
        import helpers.mirror

        units = [Unit("x", c) for c in range(len(correlation))]
        found = helpers.mirror.MirrorPartners("x", units, correlation, torch.zeros(len(units))).pairs()
        return [(a.channel, b.channel) for a, b in found]

    wrong = [lambda c: student_mirror_pairs(c, mutual=False),  # one-way partners kept
             lambda c: student_mirror_pairs(c, beat_self=False),  # pairs that follow themselves better kept
             lambda c: student_mirror_pairs(c, diagonal_out=False, beat_self=False),  # "partner may be itself" instead
             lambda c: student_mirror_pairs(c, by="max"),  # ranked by the stronger direction
             lambda c: student_mirror_pairs(c, ordered=False),  # in the units' order
             lambda c: [pair[::-1] for pair in student_mirror_pairs(c)],  # (b, a)
             course, through_partners]
    for answer in wrong:
        exercise_probe.rejected(check_mirror_pairs, answer, test)
    for constant in ([], [(0, 1)], [(1, 2), (4, 5)]):
        assert check_mirror_pairs.__wrapped__(lambda c, k=constant: k, test).fraction == 0
    exercise_probe.not_attempted(lambda: check_mirror_pairs(..., test), lambda: check_mirror_pairs(lambda c: None, test))


def student_union_reading(from_a, from_b, order, *, centred=True, derange=True, weaker=True, target_first=True):
    """The course's answer to exercise 9 as a student writes it; the keywords make its near misses."""
    def correlation(x, y):
        if centred:
            x = x - x.mean(dim=1, keepdim=True)
            y = y - y.mean(dim=1, keepdim=True)
        return (x * y).sum(dim=1) / (x.norm(dim=1) * y.norm(dim=1)).clamp_min(1e-12)

    other = torch.empty_like(order)
    other[order] = torch.roll(order, 1)
    if not derange:
        other = order  # a plain permutation: some pairs keep their own B
    evenness = torch.minimum(from_a, from_b) if weaker else from_a + from_b
    target, pair = divmod(int(evenness.argmax()), evenness.shape[1])
    if not target_first:
        target, pair = pair, target
    return correlation(from_a, from_b), correlation(from_a, from_b[:, other]), (target, pair)


def test_union_reading_check(exercise_probe):
    from helpers.checks.dog_heads import check_union_reading

    def course(*args):  # the course's own, reached through its module while the student's function runs
        import helpers.union_weights

        return helpers.union_weights.union_reading(*args)

    assert check_union_reading(student_union_reading) == 3
    wrong = [lambda *a: student_union_reading(*a, centred=False),  # cosine similarity, not a correlation
             lambda *a: student_union_reading(*a, derange=False),  # a control that keeps some pairs' own B
             lambda *a: student_union_reading(*a, target_first=False),  # (pair, target)
             lambda a, b, o: student_union_reading(a.T, b.T, o)[:2] + ((0, 0),),  # correlated over the targets
             lambda *a: student_union_reading(*a, weaker=False),  # the largest sum, not the largest weaker weight
             course]
    for answer in wrong:
        exercise_probe.rejected(check_union_reading, answer)
    for constant in ((torch.zeros(4), torch.zeros(4), (0, 0)), (torch.ones(6), -torch.ones(6), (1, 1))):
        exercise_probe.rejected(check_union_reading, lambda *a, c=constant: c)
    exercise_probe.not_attempted(lambda: check_union_reading(...), lambda: check_union_reading(lambda *a: None))
