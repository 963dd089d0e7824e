"""Lesson 03's exercise checks: right answers pass, guesses and neighbouring answers fail, placeholders are
"not attempted". Small fixture: a tiny random convolutional network."""
import numpy as np
import pytest
import torch
from test_weights import tiny_network

from helpers.checks import ExerciseError
from helpers.checks.circuits import check_block_expanded_weight, check_selectivity_test
from helpers.weights import unit_weights
from helpers.weights.connections import input_selectivity_test


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def tiny():
    return tiny_network(seed=3)


@pytest.fixture(scope="module")
def lite0():
    from helpers import load_model

    return load_model("efficientnet_lite0", verbose=False)


def scale(bn):
    return bn.weight / torch.sqrt(bn.running_var + bn.eps)


def block_expanded_weight(source, target, i, o):
    """The course's answer to exercise 1."""
    project = scale(source.bn3)[:, None] * source.conv_pwl.weight[:, :, 0, 0]
    expand = scale(target.bn1)[:, None] * target.conv_pw.weight[:, :, 0, 0]
    return (scale(target.bn2)[o] * target.conv_dw.weight[o, 0] * (expand @ project)[o, i]).detach()


def no_batch_norms(source, target, i, o):
    return (target.conv_dw.weight[o, 0] * (target.conv_pw.weight[:, :, 0, 0] @ source.conv_pwl.weight[:, :, 0, 0])[o, i]).detach()


def transposed_entry(source, target, i, o):
    return block_expanded_weight(source, target, o % source.conv_pwl.out_channels, i % target.conv_dw.out_channels)


def last_norm_forgotten(source, target, i, o):
    return block_expanded_weight(source, target, i, o) / scale(target.bn2)[o].detach()


@pytest.mark.parametrize("model_name", ["tiny", "lite0"])
def test_block_expanded_weight_full_marks_and_wrong_methods(model_name, request) -> None:
    model = request.getfixturevalue(model_name)
    assert check_block_expanded_weight(block_expanded_weight, model) == 3
    for wrong in (no_batch_norms, transposed_entry, last_norm_forgotten, lambda s, t, i, o: -block_expanded_weight(s, t, i, o),
                  lambda s, t, i, o: unit_weights(model, f"{model.layer_names[0]}:0", f"{model.layer_names[1]}:0")):
        with pytest.raises(ExerciseError):
            check_block_expanded_weight(wrong, model)


def selectivity_test(net_weights, selectivity, family, count=8, draws=2000, seed=0):
    """The course's answer to exercise 2, written as a student would."""
    per_unit = selectivity[np.argsort(-net_weights, axis=1)[:, :count]].mean(1)
    others = np.setdiff1d(np.arange(len(net_weights)), family)
    rng = np.random.default_rng(seed)
    random_sets = np.array([per_unit[rng.choice(others, len(family), replace=False)].mean() for _ in range(draws)])
    value = per_unit[family].mean()
    return value, (np.sum(random_sets >= value) + 1) / (draws + 1)


def test_selectivity_test_full_marks_and_wrong_methods() -> None:
    assert check_selectivity_test(selectivity_test) == 3
    assert check_selectivity_test(lambda *a, **k: selectivity_test(*a, **{**k, "seed": 1})) == 3  # another seed is fine
    wrong = (
        lambda n, s, f, count=8, **k: selectivity_test(np.abs(n), s, f, count, **k),  # absolute weights
        lambda n, s, f, count=8, **k: selectivity_test(-n, s, f, count, **k),  # inhibitory inputs
        lambda n, s, f, count=8, **k: (selectivity_test(n, s, f, count, **k)[0], 0.5),  # a guessed p-value
        lambda n, s, f, count=8, **k: (s[np.argsort(-n, axis=1)[:, :count]].mean(1).mean(), 0.01),  # the layer's mean
        lambda n, s, f, count=8, **k: input_selectivity_test(n, s, f, count=count, **k),  # the course's own function
    )
    for function in wrong:
        with pytest.raises(ExerciseError):
            check_selectivity_test(function)


def test_placeholders_are_not_attempted(tiny, exercise_probe) -> None:
    calls = (lambda: check_block_expanded_weight(lambda *a: None, tiny), lambda: check_selectivity_test(lambda *a, **k: None),
             lambda: check_block_expanded_weight(..., tiny))
    exercise_probe.not_attempted(*calls)


def student_line_energy(images, even, odd, *, grey=True, padding="replicate", root=True):
    """The cleanroom's first layer as a student writes it; the keywords make its near misses."""
    import torch.nn.functional as F

    channel = images.mean(1, keepdim=True) if grey else images.sum(1, keepdim=True)
    pad = even.shape[-1] // 2
    padded = F.pad(channel, (pad, pad, pad, pad), mode=padding) if padding != "zeros" else F.pad(channel, (pad,) * 4)
    energy = F.conv2d(padded, even) ** 2 + F.conv2d(padded, odd) ** 2
    return energy.sqrt() if root else energy


def test_line_energy_check(exercise_probe) -> None:
    from helpers.checks.circuits import check_line_energy

    assert check_line_energy(student_line_energy) == 3

    def course(images, even, odd):  # the course's function, reached through its module while the student's runs
        import helpers.cleanroom

        return helpers.cleanroom.line_energy(images, even.shape[0])

    wrong = [lambda *a: student_line_energy(*a, grey=False),  # colour channels summed, not averaged
             lambda *a: student_line_energy(*a, padding="zeros"),  # a dark frame of zeros at the border
             lambda *a: student_line_energy(*a, root=False),  # squared energy
             course]
    for answer in wrong:
        exercise_probe.rejected(check_line_energy, answer)
    exercise_probe.not_attempted(lambda: check_line_energy(...), lambda: check_line_energy(lambda *a: None))


def student_pattern(grids, *, signed=True, scaled=True, left=False):
    """The main pattern written as a student would, with switches for the usual slips."""
    matrix = grids.reshape(grids.shape[0], -1).double()
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    pattern = (u[:, 0] if left else vh[0]) * (s[0] if scaled else 1.0)
    if signed and u[:, 0].clamp(min=0).sum() < (-u[:, 0]).clamp(min=0).sum():
        pattern = -pattern
    return pattern.reshape(grids.shape[-2:]).float() if not left else pattern.float()


@pytest.mark.parametrize("model_name", ["tiny", "lite0"])
def test_spatial_pattern_check(model_name, request, exercise_probe) -> None:
    from helpers.checks.circuits import check_spatial_pattern

    model = request.getfixturevalue(model_name)
    assert check_spatial_pattern(student_pattern, model) == 3

    def course(grids):  # the course's function, reached through the package that re-exports it
        import helpers.weights

        return helpers.weights.spatial_pattern(grids)

    wrong = [lambda g: student_pattern(g, signed=False),  # the SVD's arbitrary sign kept
             lambda g: student_pattern(g, scaled=False),  # a unit-length pattern: the singular value dropped
             lambda g: student_pattern(g, left=True),  # the inputs' numbers, not the pattern
             lambda g: g.mean(0),  # the mean grid: right only when every input weighs the same
             course]
    for answer in wrong:
        exercise_probe.rejected(check_spatial_pattern, answer, model)
    exercise_probe.not_attempted(lambda: check_spatial_pattern(..., model),
                                 lambda: check_spatial_pattern(lambda g: None, model))


# --- exercise 6: dedicated readers -----------------------------------------------------------------
def student_client_concentration(grids, family, sets=500, seed=0, *, norm="l2", others_only=True, add_one=True,
                                 top="max"):
    """Argument 6's test written as a student would, with switches for the usual slips."""
    squared = (grids ** 2).sum(axis=(2, 3)) if norm != "signed" else grids.sum(axis=(2, 3))

    def concentration(chosen):
        usage = {"l2": np.sqrt(squared[:, chosen].sum(1)), "squared": squared[:, chosen].sum(1),
                 "signed": squared[:, chosen].sum(1)}[norm]
        return float((usage.max() if top == "max" else np.median(usage)) / usage.mean())

    value = concentration(family)
    others = np.setdiff1d(np.arange(grids.shape[1]), family) if others_only else np.arange(grids.shape[1])
    rng = np.random.default_rng(seed)
    random_sets = np.array([concentration(rng.choice(others, len(family), replace=False)) for _ in range(sets)])
    hits = np.sum(random_sets >= value)
    return value, float((hits + 1) / (sets + 1) if add_one else hits / sets)


def test_client_concentration_check(exercise_probe) -> None:
    from helpers.checks.circuits import _client_cases, check_client_concentration
    from helpers.weights.connections import client_concentration_test

    dedicated, family, sets, seed = _client_cases()["a family read by one dedicated client, and one read evenly by every reader"][0]
    value, p = client_concentration_test(dedicated, family, sets, seed)
    assert value > 5 and p == 1 / (sets + 1)  # the dedicated reader beats every random set
    assert check_client_concentration(student_client_concentration) == 3

    def course(grids, family, sets=500, seed=0):  # the course's function, reached through its module
        import helpers.weights.connections

        return helpers.weights.connections.client_concentration_test(grids, family, sets, seed)

    wrong = [lambda g, f, s=500, r=0: student_client_concentration(g, f, s, r, norm="squared"),  # no square root
             lambda g, f, s=500, r=0: student_client_concentration(g, f, s, r, norm="signed"),  # signed weights cancel
             lambda g, f, s=500, r=0: student_client_concentration(g, f, s, r, others_only=False),  # family in the null
             lambda g, f, s=500, r=0: student_client_concentration(g, f, s, r, add_one=False),  # p can be 0
             lambda g, f, s=500, r=0: student_client_concentration(g, f, s, r, top="median"),  # not the top reader
             lambda g, f, s=500, r=0: student_client_concentration(g, f, s, 0),  # the seed ignored
             lambda g, f, s=500, r=0: (student_client_concentration(g, f, s, r)[0], 0.5),  # a guessed p
             course]
    for answer in wrong:
        exercise_probe.rejected(check_client_concentration, answer)
    exercise_probe.rejected(check_client_concentration, lambda *a, **k: (1.0, 1.0))
    exercise_probe.rejected(check_client_concentration, lambda *a, **k: 3.0)  # not a pair
    exercise_probe.not_attempted(lambda: check_client_concentration(...),
                                 lambda: check_client_concentration(lambda *a, **k: None))



# --- exercise 7: aligned excitation, opposite inhibition ---------------------------------------------
def student_alignment(net, family, orientations, preferred, curve, count=8, *, signs=True, wrap=True, absolute=False,
                      curves_first=False):
    """The reading written as a student would, with switches for the usual slips."""
    is_curve = np.isin(np.arange(net.shape[1]), curve)
    found = ([], [])
    for channel, orientation in zip(family, orientations):
        row = np.abs(net[channel]) if absolute else net[channel]
        for kept, sign in zip(found, (1, -1)):
            order = [i for i in np.argsort(-sign * row) if is_curve[i]] if curves_first else np.argsort(-sign * row)
            strongest = [i for i in order[:count] if is_curve[i] and (sign * row[i] > 0 or not signs)]
            difference = np.abs(preferred[strongest] - orientation)
            kept.extend(np.minimum(difference % 360, 360 - difference % 360) if wrap else difference)
    return np.array(found[0]), np.array(found[1])


def test_curve_input_alignment_check(exercise_probe) -> None:
    from helpers.checks.circuits import check_curve_input_alignment

    assert check_curve_input_alignment(student_alignment) == 3
    assert check_curve_input_alignment(lambda *a: tuple(x[::-1] for x in student_alignment(*a))) == 3  # any order

    def course(*args):  # the course's function, reached through the lesson's higher-level helper's module
        import helpers.weights.curve_wiring

        return helpers.weights.curve_wiring.curve_input_alignment(*args)

    wrong = [lambda *a: student_alignment(*a, signs=False),  # weak inhibitory inputs counted as excitatory
             lambda *a: student_alignment(*a, wrap=False),  # 350° and 10° taken as 340° apart
             lambda *a: student_alignment(*a, absolute=True),  # strongest by absolute weight
             lambda *a: student_alignment(*a, curves_first=True),  # the `count` strongest curve units, not among the strongest
             lambda *a: student_alignment(*a)[::-1],  # excitatory and inhibitory swapped
             course]
    for answer in wrong:
        exercise_probe.rejected(check_curve_input_alignment, answer)
    exercise_probe.rejected(check_curve_input_alignment, lambda *a: (np.zeros(3), np.zeros(3)))
    exercise_probe.rejected(check_curve_input_alignment, lambda *a: 1.0)  # not a pair
    exercise_probe.not_attempted(lambda: check_curve_input_alignment(...),
                                 lambda: check_curve_input_alignment(lambda *a: None))


def test_alignment_near_misses_lose_points_without_strict(monkeypatch) -> None:
    from helpers.checks.circuits import check_curve_input_alignment

    monkeypatch.delenv("CIRCUITS_STRICT")
    assert check_curve_input_alignment(lambda *a: student_alignment(*a, signs=False)) == 2  # only the sign part lost
    assert check_curve_input_alignment(lambda *a: student_alignment(*a, wrap=False)) < 3


# --- exercise 8: the weight between curve units by orientation difference -------------------------------
def student_profile(net, members, channels, sources, bin_width=45, *, scale="all", wrap=True, last_band=True, mean=np.mean):
    """The profile written as a student would, with switches for the usual slips."""
    if scale == "all":
        net = net / np.abs(net).max(axis=1, keepdims=True)
    elif scale == "curves":
        net = net / np.abs(net[:, channels]).max(axis=1, keepdims=True)
    weights = net[:, channels]
    difference = np.abs(np.asarray(members)[:, None] - np.asarray(sources)[None, :])
    if wrap:
        difference = np.minimum(difference % 360, 360 - difference % 360)
    bands = int(round(180 / bin_width))
    band = (difference // bin_width).astype(int)
    if last_band:
        band = np.minimum(band, bands - 1)
    else:
        bands += 1
    return np.array([mean(weights[band == b]) if (band == b).any() else np.nan for b in range(bands)])


def test_weight_by_orientation_difference_check(exercise_probe) -> None:
    from helpers.checks.circuits import _profile_cases, check_weight_by_orientation_difference
    from helpers.weights.curve_wiring import weight_by_orientation_difference

    for cases in _profile_cases().values():  # every band of every case holds pairs: no NaN to compare
        assert all(np.isfinite(weight_by_orientation_difference(*case)).all() for case in cases)
    assert check_weight_by_orientation_difference(student_profile) == 3

    def course(*args):  # the course's function, reached through its module
        import helpers.weights.curve_wiring

        return helpers.weights.curve_wiring.weight_by_orientation_difference(*args)

    wrong = [lambda *a: student_profile(*a, scale="none"),  # members of different scales unscaled
             lambda *a: student_profile(*a, scale="curves"),  # scaled by the strongest curve input only
             lambda *a: student_profile(*a, wrap=False),  # 350° and 10° taken as 340° apart
             lambda *a: student_profile(*a, last_band=False),  # 180° in a band of its own
             lambda *a: student_profile(*a, mean=np.median),  # the median pair
             lambda *a: student_profile(*a, mean=lambda w: np.abs(w).mean()),  # strength without sign
             course]
    for answer in wrong:
        exercise_probe.rejected(check_weight_by_orientation_difference, answer)
    exercise_probe.rejected(check_weight_by_orientation_difference, lambda *a: np.zeros(4))
    exercise_probe.not_attempted(lambda: check_weight_by_orientation_difference(...),
                                 lambda: check_weight_by_orientation_difference(lambda *a: None))


def test_curve_wiring_profile_and_alignment_on_a_hand_built_table() -> None:
    from helpers.weights.curve_wiring import CurveWiring, curve_input_alignment, weight_by_orientation_difference

    # two members (0°, 170°) reading four curve units (0°, 90°, 180°, 350°) and a line detector (input 4, the strongest)
    net = np.array([[1.0, 0.0, -1.0, 0.5, 4.0], [-1.0, 0.0, 1.0, -0.5, -2.0]])
    profile = weight_by_orientation_difference(net, [0.0, 170.0], [0, 1, 2, 3], [0.0, 90.0, 180.0, 350.0], 90)
    np.testing.assert_allclose(profile, [(0.25 + 0.125 + 0 + 0.5) / 4, (0 - 0.25 - 0.5 - 0.25) / 4])
    excitatory, inhibitory = curve_input_alignment(net, [0, 1], [0.0, 170.0], np.array([0.0, 90.0, 180.0, 350.0, 0.0]),
                                                   [0, 1, 2, 3], count=2)
    np.testing.assert_allclose(excitatory, [0.0, 10.0])  # member 0: input 0 (input 4 is no curve); member 1: input 2
    np.testing.assert_allclose(inhibitory, [180.0, 170.0])  # member 0: input 2 (input 1's zero is no inhibition); 1: input 0
    wiring = CurveWiring("below", 90.0, profile, np.array([3, 5]))
    assert list(wiring.band_edges) == [0, 90, 180] and "90-180°" in wiring.summary()


# --- exercise 9: pairs of weights, rotated and not ---------------------------------------------------
def student_pair_correlations(grids, orientations, *, sign=1, centred=True, both_orders=False, turn_j=False):
    """The course's pair correlations written as a student would; the keywords make its near misses."""
    from helpers.weights import rotate_grids

    def correlation(a, b):
        a, b = a.flatten().double(), b.flatten().double()
        if centred:
            a, b = a - a.mean(), b - b.mean()
        return float((a @ b) / (a.norm() * b.norm()))

    rows = []
    for i in range(len(grids)):
        for j in range(len(grids)) if both_orders else range(i + 1, len(grids)):
            if i == j:
                continue
            angle = sign * (orientations[j] - orientations[i])
            if turn_j:
                rows.append([correlation(grids[i], rotate_grids(grids[j], angle)), correlation(grids[i], grids[j])])
            else:
                rows.append([correlation(rotate_grids(grids[i], angle), grids[j]), correlation(grids[i], grids[j])])
    return torch.tensor(rows).reshape(-1, 2)


def test_pair_correlations_check(tiny, exercise_probe) -> None:
    from helpers.checks.circuits import check_pair_correlations

    assert check_pair_correlations(student_pair_correlations, tiny) == 4

    def course(grids, orientations):  # the course's per-pair function, reached through the package
        import helpers.weights

        return [[helpers.weights.weight_equivariance(grids[i], grids[j], orientations[j] - orientations[i]),
                 helpers.weights.weight_equivariance(grids[i], grids[j], 0.0)]
                for i in range(len(grids)) for j in range(i + 1, len(grids))]

    wrong = [lambda g, o: student_pair_correlations(g, o, sign=-1),  # turned away from the sibling
             lambda g, o: student_pair_correlations(g, o, centred=False),  # cosine similarity, not a correlation
             lambda g, o: student_pair_correlations(g, o, both_orders=True),  # every ordered pair
             lambda g, o: student_pair_correlations(g, o, turn_j=True),  # the sibling turned the same way
             course]
    for answer in wrong:
        exercise_probe.rejected(check_pair_correlations, answer, tiny)
    assert check_pair_correlations.__wrapped__(lambda g, o: torch.ones(len(g) * (len(g) - 1) // 2, 2), tiny).fraction < 0.5
    exercise_probe.not_attempted(lambda: check_pair_correlations(..., tiny),
                                 lambda: check_pair_correlations(lambda g, o: None, tiny))


def test_pair_correlations_and_verdicts_of_the_claims() -> None:
    from helpers.cleanroom import Match, held_out_verdict
    from helpers.weights.connections import InputSelectivity
    from helpers.weights.equivariance import EquivarianceSummary, pair_correlations, rotate_grids

    base = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(0))
    copies = torch.stack([rotate_grids(base, angle) for angle in (0.0, 90.0, 180.0)])
    table = pair_correlations(copies, [0.0, 90.0, 180.0])
    assert table.shape == (3, 2) and np.allclose(table[:, 0], 1.0, atol=1e-5)
    assert pair_correlations(copies[:1], [0.0]).shape == (0, 2)
    summary = EquivarianceSummary([], table[:, 0], table[:, 1], "per_input")
    flat = EquivarianceSummary([], np.zeros(3), np.zeros(3), "per_input")
    assert summary.verdict(flat)[0] and not flat.verdict(summary)[0]
    assert summary.verdict(flat)[1] == f"gain {summary.gain:+.3f} vs random pairs +0.000"

    def match(values):
        return Match(np.array(values), np.zeros((2, len(values))), np.zeros((2, len(values))))

    assert held_out_verdict(match([0.5] * 9 + [-0.1]), match([-0.3])) == (
        True, "mean r +0.440, 90% positive, turned 180° -0.300")
    assert not held_out_verdict(match([0.5] * 8 + [-0.1] * 2), match([-0.3]))[0]  # 80 % positive is not enough
    assert not held_out_verdict(match([0.5] * 10), match([-0.1]))[0]  # turned 180° must anti-track
    inputs = InputSelectivity(8, 0.6, np.array([0.3, 0.5]), 0.005, None, {})
    assert inputs.verdict(0.01) == (True, "family 0.600, random sets 0.400, p = 0.0050")
    assert not inputs.verdict(0.01, enough=False)[0] and not inputs.verdict(0.001)[0]


def test_follow_up_cells_print_the_students_numbers_beside_the_lessons(monkeypatch) -> None:
    from types import SimpleNamespace

    from helpers.checks import circuits_beside

    class Family(SimpleNamespace):
        def __len__(self):
            return len(self.channels)

    grids = torch.randn(6, 6, 3, 3, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(circuits_beside, "expanded_weights", lambda model, a, b, to_channels=None:
                        grids if to_channels is None else grids[list(to_channels)])
    family, none = Family(channels=[0, 2], orientations=np.array([0.0, 90.0])), Family(channels=[])
    sources = Family(channels=[1, 3], orientations=np.array([10.0, 200.0]),
                     screen=SimpleNamespace(preferred=np.linspace(0, 300, 6)))
    readers = SimpleNamespace(concentration=1.5, p=0.25)
    seen = {}

    def record(*args, **kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        return 2.0, 0.5

    line = circuits_beside.concentration_beside(record, None, family, "a", "b", readers, 7)
    assert line == "your test: concentration 2.00, p = 0.5000 | section 6: concentration 1.50, p = 0.2500"
    assert seen["args"][1] == [0, 2] and seen["kwargs"] == {"sets": 7, "seed": 0} and seen["args"][0].shape == (6, 6, 3, 3)
    assert "exercise 6" in circuits_beside.concentration_beside(lambda *a, **k: None, None, family, "a", "b", readers, 7)
    assert "No curve family" in circuits_beside.concentration_beside(record, None, none, "a", "b", readers, 7)
    inputs = SimpleNamespace(aligned={"excitatory": np.array([10.0, 30.0]), "inhibitory": np.array([])})
    line = circuits_beside.alignment_beside(lambda *a, **k: (np.array([20.0]), np.array([170.0])), None, family, sources,
                                            "a", "b", inputs)
    assert line == ("excitatory curve inputs: yours 1, mean difference 20° | section 5: 2, 20°\n"
                    "inhibitory curve inputs: yours 1, mean difference 170° | section 5: 0, nan°")
    assert "exercise 7" in circuits_beside.alignment_beside(lambda *a, **k: None, None, family, sources, "a", "b", inputs)
    wiring = SimpleNamespace(bin_width=90.0, profile=np.array([0.25, -0.5]))
    line = circuits_beside.profile_beside(lambda net, *a, bin_width: np.array([0.25, bin_width / -180]), None, family,
                                          sources, "a", "b", wiring)
    assert line == "your profile:      +0.250  -0.500\nsection 5's bars:  +0.250  -0.500"
    assert "No curve units" in circuits_beside.profile_beside(None, None, family, sources, "a", "b", None)
    real = SimpleNamespace(mean_rotated=0.5, mean_unrotated=0.25, gain=0.25)
    line = circuits_beside.equivariance_beside(lambda g, o: [[0.5, 0.25]], grids[:2], family, {"per_input": (real, None)})
    assert line == ("yours: 1 pairs, rotated +0.500, unrotated +0.250, gain +0.250 | section 5: rotated +0.500, "
                    "unrotated +0.250, gain +0.250")
    assert "at least two members" in circuits_beside.equivariance_beside(None, None, family, {})
    assert "exercise 9" in circuits_beside.equivariance_beside(lambda g, o: None, grids[:2], family, {"per_input": 0})


def test_pattern_beside_draws_or_says_why_not(capsys) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from helpers.checks.circuits_beside import pattern_beside

    grids, pattern = torch.randn(4, 3, 3), torch.randn(3, 3)
    pattern_beside(None, None, None, "m:0")
    pattern_beside(lambda g: None, grids, pattern, "m:0")
    assert capsys.readouterr().out == ("No curve family with expanded weights on this model: nothing to draw.\n"
                                       "Write my_spatial_pattern above to draw the pattern yourself.\n")
    before = len(plt.get_fignums())
    pattern_beside(lambda g: g[0], grids, pattern, "m:0")
    assert len(plt.get_fignums()) == before + 1 and capsys.readouterr().out == ""
    plt.close("all")
