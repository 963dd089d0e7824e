"""Lesson 10's exercise checks (helpers.checks.interventions): hooks written as the course does get full marks,
plausible wrong hooks lose points, the placeholder is "not attempted". A small random zoo network stands for
the active model."""
from __future__ import annotations

import importlib
import math

import pytest
import torch

from helpers.checks.interventions import check_ablation_hook, check_patch_hook, hand_built_network


@pytest.fixture(scope="module")
def model():
    return hand_built_network()


def ablation_hook(channels, values):
    def hook(_module, _inputs, output):
        output = output.clone()
        output[:, channels] = values.view(1, -1, 1, 1).to(output)
        return output
    return hook


def zeroing_hook(channels, values):
    def hook(_module, _inputs, output):
        output = output.clone()
        output[:, channels] = 0
        return output
    return hook


def no_return_hook(channels, values):
    def hook(_module, _inputs, output):
        output.clone()[:, channels] = values.view(1, -1, 1, 1)
    return hook


def patch_hook(source, channels):
    def hook(_module, _inputs, output):
        output = output.clone()
        output[:, channels] = source[:, channels].to(output)
        return output
    return hook


def whole_layer_patch(source, channels):
    return lambda _module, _inputs, output: source.expand_as(output).clone()


def test_the_course_method_gets_full_marks(strict: None, model) -> None:
    assert check_ablation_hook(ablation_hook, model)
    assert check_patch_hook(patch_hook, model)


@pytest.mark.parametrize("wrong", [zeroing_hook, no_return_hook, lambda channels, values: ablation_hook(channels[:1], values[:1])])
def test_wrong_ablations_lose_points(model, wrong) -> None:
    assert check_ablation_hook(wrong, model) < check_ablation_hook.points


@pytest.mark.parametrize("wrong", [whole_layer_patch, lambda source, channels: ablation_hook(channels, torch.zeros(len(channels)))])
def test_wrong_patches_lose_points(model, wrong) -> None:
    assert check_patch_hook(wrong, model) < check_patch_hook.points


def test_placeholder_is_not_attempted(exercise_probe, model) -> None:
    exercise_probe.not_attempted(lambda: check_ablation_hook(..., model), lambda: check_patch_hook(lambda *a: None, model))


def prediction_change(intact: torch.Tensor, changed: torch.Tensor, *, reverse: bool = False, summed: bool = False,
                      changed_share: bool = False, base: float = math.e) -> tuple[float, float]:
    """The course's measure as a student writes it: KL(intact || changed) from log-probabilities, top-1 agreement.
    The keywords make its near misses."""
    log_p, log_q = intact.log_softmax(-1), changed.log_softmax(-1)
    if reverse:
        log_p, log_q = log_q, log_p
    per_image = (log_p.exp() * (log_p - log_q)).sum(-1) / math.log(base)
    same = (intact.argmax(-1) == changed.argmax(-1)).float().mean()
    return float(per_image.sum() if summed else per_image.mean()), float(1 - same if changed_share else same)


def test_the_hand_built_pair_has_the_kl_worked_out_by_hand() -> None:
    from helpers.checks.interventions import hand_built_logits
    from helpers.interventions import prediction_change as course

    # image 1: 1/2 ln 4 + 1/4 ln(1/2) + 1/4 ln(2/3); image 2: 0; image 3: 1/4 ln 2 + 1/4 ln(2/3) + 0
    by_hand = (0.5 * math.log(4) + 0.25 * math.log(0.5) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2) + 0.25 * math.log(2 / 3)) / 3
    assert by_hand == pytest.approx(0.163471, abs=1e-6)
    result = course(*hand_built_logits())
    assert result.kl == pytest.approx(by_hand, rel=1e-5) and result.agreement == pytest.approx(2 / 3)
    # KL is not symmetric here: the other direction gives another number
    assert course(*reversed(hand_built_logits())).kl == pytest.approx(
        (0.125 * math.log(0.25) + 0.5 * math.log(2) + 0.375 * math.log(1.5) + 0.125 * math.log(0.5) + 0.375 * math.log(1.5)) / 3,
        rel=1e-5)


def test_prediction_change_check(exercise_probe, model) -> None:
    from helpers.checks.interventions import check_prediction_change

    assert check_prediction_change(prediction_change, model) == check_prediction_change.points == 5

    def from_probabilities(intact, changed):  # softmax, then log: 0 * log 0 is NaN for confident predictions
        p, q = intact.softmax(-1), changed.softmax(-1)
        return float((p * (p.log() - q.log())).sum(-1).mean()), prediction_change(intact, changed)[1]

    def course(intact, changed):  # looked up in the package, as lesson 10 once did
        import helpers.interventions

        result = helpers.interventions.prediction_change(intact, changed)
        return result.kl, result.agreement

    def course_in_module(intact, changed):  # looked up in its own module
        from helpers.interventions import experiments

        result = experiments.prediction_change(intact, changed)
        return result.kl, result.agreement

    wrong = [from_probabilities, course, course_in_module,
             lambda intact, changed: prediction_change(intact, changed, reverse=True),  # KL(changed || intact)
             lambda intact, changed: prediction_change(intact, changed, summed=True),  # summed over images
             lambda intact, changed: prediction_change(intact, changed, changed_share=True),  # the share that changed
             lambda intact, changed: prediction_change(intact, changed, base=2),  # bits instead of nats
             lambda intact, changed: (float((intact.softmax(-1) * (intact - changed)).sum(-1).mean()),  # raw logits, not
                                      prediction_change(intact, changed)[1]),  # log-probabilities
             lambda intact, changed: (0.0, 1.0)]  # "nothing changed"
    for answer in wrong:
        exercise_probe.rejected(check_prediction_change, answer, model)
    exercise_probe.not_attempted(lambda: check_prediction_change(..., model),
                                 lambda: check_prediction_change(lambda p, q: None, model))


@pytest.mark.parametrize("keyword", ["reverse", "summed", "changed_share", "base"])
def test_each_near_miss_of_prediction_change_loses_points(model, keyword) -> None:
    from helpers.checks.interventions import check_prediction_change

    value = 2 if keyword == "base" else True
    score = check_prediction_change(lambda intact, changed: prediction_change(intact, changed, **{keyword: value}), model)
    assert score <= check_prediction_change.points - 2, (keyword, score)


def test_course_functions_earn_nothing_and_a_constant_nothing(model) -> None:
    import helpers.interventions
    from helpers.checks.interventions import check_prediction_change
    from helpers.interventions import experiments

    def through(module):  # the course's function, looked up where the student could reach it
        return lambda i, c: tuple(vars(module.prediction_change(i, c)).values())

    assert check_prediction_change(through(helpers.interventions), model) == 0
    assert check_prediction_change(through(experiments), model) == 0
    # the higher-level helper the lesson calls is withheld too: an "ablation" of no units against the intact logits
    assert check_prediction_change(lambda i, c: (helpers.interventions.ablation_prediction_change(model, torch.rand(
        2, 3, model.input_size, model.input_size), [], intact=i[:2]).kl, 1.0), model) == 0
    assert check_prediction_change(lambda i, c: (0.0, 1.0), model) == 0


def student_attribution(path, inputs, channel, positions, *, own_positions=True, times_input=True):
    """Activation times gradient as a student writes it; the keywords make its near misses."""
    inputs = inputs.detach()
    copy = inputs.clone().requires_grad_(True)
    out = path(copy)
    picked = [out[n, channel, row, col] for n, (row, col) in enumerate(positions if own_positions else positions[:1] * len(positions))]
    torch.stack(picked).sum().backward()
    return inputs * copy.grad if times_input else copy.grad


def test_attribution_check(exercise_probe, model) -> None:
    from helpers.checks.interventions import check_attribution
    from helpers.interventions import attribution

    assert check_attribution(student_attribution, model) == 3

    def whole_map(path, inputs, channel, positions):  # the gradient of the unit summed over every position
        copy = inputs.detach().clone().requires_grad_(True)
        path(copy)[:, channel].sum().backward()
        return inputs * copy.grad

    def course_attribution(path, inputs, channel, positions):  # the course's helper, reached through its module
        module = importlib.import_module("helpers.interventions.attribution")  # not the function of that name

        return module.input_times_gradient(path, inputs, channel, positions)

    wrong = [lambda *a: student_attribution(*a, own_positions=False),  # the first image's position for every image
             lambda *a: student_attribution(*a, times_input=False),  # the gradient alone (the expanded weight)
             whole_map, course_attribution, attribution]
    for answer in wrong:
        exercise_probe.rejected(check_attribution, answer, model)
    exercise_probe.not_attempted(lambda: check_attribution(..., model), lambda: check_attribution(lambda *a: None, model))


def student_concentration(maps_per_unit, channels, *, positive=True, over_chance=True, mean_of_shares=True,
                          sum_positions_first=True, silent_is_zero=True, absolute=False):
    """A unit's concentration on ``channels`` as a student writes it; the keywords make its near misses."""
    import numpy as np

    values = []
    for maps in maps_per_unit:
        maps = maps.double()
        if absolute:
            totals = maps.sum(dim=(2, 3)).abs()
        elif sum_positions_first:
            totals = maps.sum(dim=(2, 3)).clamp(min=0) if positive else maps.sum(dim=(2, 3))
        else:
            totals = maps.clamp(min=0).sum(dim=(2, 3))
        part, total = totals[:, channels].sum(1), totals.sum(1)
        if mean_of_shares:
            shares = part / total if not silent_is_zero else torch.where(total > 0, part / total.clamp(min=1e-30), 0.0)
            share = float(shares.mean())
        else:
            share = float(part.sum() / total.sum())
        values.append(share / (len(channels) / maps.shape[1]) if over_chance else share)
    return np.array(values)


def test_concentration_check(exercise_probe, model) -> None:
    from helpers.checks.interventions import check_concentration

    def through_module(maps_per_unit, channels):  # the course's function, reached through its module
        module = importlib.import_module("helpers.interventions.attribution")  # not the function of that name

        return module.concentration(maps_per_unit, channels)

    assert check_concentration(student_concentration, model) == check_concentration.points == 4
    exercise_probe.rejected(check_concentration, through_module, model)
    exercise_probe.not_attempted(lambda: check_concentration(..., model),
                                 lambda: check_concentration(lambda *a: None, model))


def test_concentration_near_misses_lose_points_and_the_course_earns_nothing(model) -> None:
    import numpy as np

    import helpers.interventions
    from helpers.checks.interventions import check_concentration
    from helpers.interventions import Attribution

    near_misses = {
        "signed contributions (inputs that work against the unit subtract)": dict(positive=False),
        "the share alone, not divided by chance": dict(over_chance=False),
        "one share of the sums over the images, not the mean of the images' shares": dict(mean_of_shares=False),
        "the positive part of each position, not of each input's total": dict(sum_positions_first=False),
        "0 / 0 left as NaN for an image where nothing is positive": dict(silent_is_zero=False),
        "absolute values instead of the positive part": dict(absolute=True),
    }
    for name, keywords in near_misses.items():
        score = check_concentration(lambda m, c, k=keywords: student_concentration(m, c, **k), model)
        assert score < check_concentration.points, (name, score)

    def through_module(maps_per_unit, channels):  # the course's function, reached through its module
        module = importlib.import_module("helpers.interventions.attribution")  # not the function of that name

        return module.concentration(maps_per_unit, channels)

    def through_share_on(maps_per_unit, channels):  # the course's per-image share, through the Attribution class
        return np.array([Attribution(None, "", [], maps).share_on(channels).mean() * maps.shape[1] / len(channels)
                         for maps in maps_per_unit])

    assert check_concentration(through_module, model) == 0
    assert check_concentration(through_share_on, model) == 0
    assert check_concentration(lambda m, c: helpers.interventions.attribution_concentration(model, [], None, c, 1), model) == 0
    assert check_concentration(lambda m, c: np.ones(len(m)), model) == 0


def student_response_change(intact, changed, *, blank=True, per_unit=True, skip_silent=True, relative=True,
                            over_units=True):
    """The mean relative change of evoked responses as a student writes it; the keywords make its near misses."""
    import numpy as np

    before, after = (intact[:-1] - intact[-1], changed[:-1] - changed[-1]) if blank else (intact[:-1], changed[:-1])
    if not per_unit:  # one ratio of the whole arrays' norms
        return float(np.linalg.norm(after - before) / np.linalg.norm(before))
    axis = 0 if over_units else 1  # norms over the stimuli (one per unit), or over the units (one per stimulus)
    norms = np.linalg.norm(before, axis=axis)
    keep = norms > 1e-9 if skip_silent else np.ones(len(norms), bool)
    change = np.linalg.norm(after - before, axis=axis)[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(change / norms[keep] if relative else change))


def test_response_change_check(exercise_probe) -> None:
    from helpers.checks.interventions import hand_built_responses, check_response_change
    from helpers.interventions.experiments import relative_change

    assert relative_change(*hand_built_responses()) == 0.75  # worked out by hand in the check's docstring
    assert check_response_change(student_response_change) == check_response_change.points == 4
    exercise_probe.rejected(check_response_change, lambda i, c: student_response_change(i, c, blank=False))
    exercise_probe.not_attempted(lambda: check_response_change(...), lambda: check_response_change(lambda *a: None))


def test_response_change_near_misses_lose_points_and_the_course_earns_nothing() -> None:
    import numpy as np

    import helpers.interventions
    from helpers.checks.interventions import check_response_change

    near_misses = {
        "the raw responses, the blank image's not subtracted": dict(blank=False),
        "one ratio of the whole arrays' norms, not the mean of the units' ratios": dict(per_unit=False),
        "a unit with no evoked response kept (0 / 0)": dict(skip_silent=False),
        "the change's size, not relative to the response": dict(relative=False),
        "norms over the units, one ratio per stimulus": dict(over_units=False),
    }
    for name, keywords in near_misses.items():
        score = check_response_change(lambda i, c, k=keywords: student_response_change(i, c, **k))
        assert score < check_response_change.points, (name, score)

    def through_module(intact, changed):  # the course's function, reached through its module
        module = importlib.import_module("helpers.interventions.experiments")

        return module.relative_change(intact, changed)

    def through_damage(intact, changed):  # the course's per-group measure, on a probe with one group
        probe = helpers.interventions.ClientProbe([], torch.zeros(len(intact), 3, 1, 1), {"all": (0, len(intact) - 1)})
        return helpers.interventions.response_damage(probe, intact, changed)["all"]

    for answer in (through_module, through_damage):
        assert check_response_change(answer) == 0
    for constant in (0.0, 0.5, 1.0):
        assert check_response_change(lambda i, c, v=constant: v) == 0
    assert check_response_change(lambda i, c: np.zeros(1)) == 0


def student_weight_edit(model, edits, *, buffers=True, clone=True, finally_=True, swallow=False, whole=False):
    """Exercise 8 as a student writes it; each keyword turned off (or on) is one near miss."""
    from contextlib import contextmanager

    @contextmanager
    def edited():
        tensors = dict(model.module.named_parameters())
        if buffers:
            tensors.update(dict(model.module.named_buffers()))
        saved = []

        def restore():
            with torch.no_grad():
                for tensor, original in reversed(saved):
                    tensor.copy_(original)

        with torch.no_grad():
            for name, (index, value) in edits.items():
                tensor = tensors[name]
                saved.append((tensor, tensor.detach().clone() if clone else tensor))
                if whole:
                    tensor.fill_(float(torch.as_tensor(value).flatten()[0]))
                else:
                    tensor[index] = torch.as_tensor(value, dtype=tensor.dtype, device=tensor.device)
        if not finally_:
            yield
            restore()
            return
        try:
            yield
        except Exception:
            if not swallow:
                raise
        finally:
            restore()

    return edited()


def test_weight_edit_check(exercise_probe, model) -> None:
    from helpers.checks.interventions import check_weight_edit

    assert check_weight_edit(student_weight_edit, model) == check_weight_edit.points == 4
    exercise_probe.rejected(check_weight_edit, lambda m, e: student_weight_edit(m, e, clone=False), model)
    exercise_probe.not_attempted(lambda: check_weight_edit(..., model), lambda: check_weight_edit(lambda m, e: None, model))


def test_weight_edit_near_misses_lose_points_and_the_course_earns_nothing(model) -> None:
    from contextlib import nullcontext

    from helpers.checks.interventions import check_weight_edit
    from helpers.interventions import replaced_weights

    untouched = {name: tensor.clone() for name, tensor in model.module.state_dict().items()}
    near_misses = {
        "parameters only, no buffers": dict(buffers=False),
        "the original kept by reference, not copied": dict(clone=False),
        "restored after the yield, not in a finally": dict(finally_=False),
        "the block's error swallowed": dict(swallow=True),
        "the whole tensor written, not the slice": dict(whole=True),
    }
    for name, keywords in near_misses.items():
        score = check_weight_edit(lambda m, e, k=keywords: student_weight_edit(m, e, **k), model)
        assert score < check_weight_edit.points, (name, score)
    assert check_weight_edit(replaced_weights, model) == 0  # the course's function itself

    def through_module(net, edits):  # the course's function, reached through its module: withheld while the answer runs
        return importlib.import_module("helpers.interventions.edits").replaced_weights(net, edits)

    assert check_weight_edit(through_module, model) == 0
    assert check_weight_edit(lambda m, e: m, model) == 0  # not a context manager
    assert check_weight_edit(lambda m, e: nullcontext(), model) == 0  # changes nothing
    assert all(torch.equal(untouched[name], tensor) for name, tensor in model.module.state_dict().items())


def student_layer_means(model, layer, batches, *, pooled=True, per_position=True, accumulate=True, output=True,
                        remove=True, finally_=True, preprocess=True):
    """Exercise 9 as a student writes it; each keyword turned off is one near miss."""
    module = model.module.get_submodule(model.layer(layer).module_path)
    sums, counts = [], []

    def hook(_module, inputs, out):
        values = (out if output else inputs[0]).detach().double()
        if not accumulate:
            sums.clear(), counts.clear()
        sums.append(values.sum(dim=(0, 2, 3)))
        counts.append(values.shape[0] * (values.shape[2] * values.shape[3] if per_position else 1))

    handle = module.register_forward_hook(hook)

    def run():
        with torch.no_grad():
            for batch in batches:
                model(batch) if preprocess else model.module(batch.to(model.device))

    if finally_:
        try:
            run()
        finally:
            if remove:
                handle.remove()
    else:
        run()
        if remove:
            handle.remove()
    if pooled:
        return (sum(sums) / sum(counts)).float()
    return torch.stack([s / c for s, c in zip(sums, counts)]).mean(0).float()


def test_layer_means_check(exercise_probe, model) -> None:
    from helpers.checks.interventions import check_layer_means
    from helpers.checks.interventions.mean_ablation import _colours
    from helpers.interventions import layer_means

    colours = _colours(3, 70)  # worked by hand: a:i is (i + 1) x colour i % 3 at every position of every image
    expected = torch.stack([(i + 1) * colours[:, i % 3, 0, 0].mean() for i in range(4)])
    assert torch.allclose(layer_means(model, "a", colours), expected, atol=1e-6)
    assert torch.allclose(student_layer_means(model, "a", list(colours.split(2))), expected, atol=1e-6)
    assert check_layer_means(student_layer_means, model) == check_layer_means.points == 4
    exercise_probe.rejected(check_layer_means, lambda m, l, b: student_layer_means(m, l, b, pooled=False), model)
    exercise_probe.not_attempted(lambda: check_layer_means(..., model), lambda: check_layer_means(lambda m, l, b: None, model))


def test_layer_means_near_misses_lose_points_and_the_course_earns_nothing(model) -> None:
    from helpers.checks.interventions import check_layer_means
    import helpers.interventions
    from helpers.interventions import layer_means, make_probe

    near_misses = {
        "a mean of the batches' means": dict(pooled=False),
        "divided by the images only, not images x positions": dict(per_position=False),
        "the last batch only (a sum overwritten, not added up)": dict(accumulate=False),
        "the module's input read (before its non-linearity), not its output": dict(output=False),
        "the hook never removed": dict(remove=False),
        "the hook removed after the loop, not in a finally": dict(finally_=False),
    }
    for name, keywords in near_misses.items():
        score = check_layer_means(lambda m, l, b, k=keywords: student_layer_means(m, l, b, **k), model)
        assert score < check_layer_means.points, (name, score)
    assert check_layer_means(layer_means, model) == 0  # the course's function itself

    def through_module(net, layer, batches):  # the course's function, reached through its module
        return importlib.import_module("helpers.interventions.edits").layer_means(net, layer, torch.cat(batches))

    def through_layer_means(net, layer, batches):  # the course's function, reached through the package
        return helpers.interventions.layer_means(net, layer, torch.cat(batches))

    def through_reference(net, layer, batches):  # the lesson's helper, on a probe of one blank image
        probe = make_probe([], {}, torch.zeros(3, net.input_size, net.input_size))
        return helpers.interventions.ablation_reference(net, probe, layer, torch.cat(batches))[0]

    for answer in (through_module, through_layer_means, through_reference):
        assert check_layer_means(answer, model) == 0
    for constant in (0.0, 1.0):
        assert check_layer_means(lambda m, l, b, v=constant: torch.full((m.channels(l),), v), model) == 0


def student_matched_draws(key, members, draws, generator, pool=5, *, exclude_chosen=True, one_generator=True,
                          use_pool=True, by_distance=True, exclude_members=True):
    """Exercise 10 written as the course does; each keyword switched off is a typical mistake."""
    import numpy as np

    key = np.asarray(key, dtype=np.float64)
    members = [int(m) for m in members]
    others = np.setdiff1d(np.arange(len(key)), members) if exclude_members else np.arange(len(key))
    result = []
    for index in range(draws):
        rng = generator if one_generator else np.random.default_rng(index)
        chosen = []
        for member in members:
            free = others[~np.isin(others, chosen)] if exclude_chosen else others
            if not len(free):
                break
            order = np.argsort(np.abs(key[free] - key[member]) if by_distance else key[free], kind="stable")
            nearest = free[order[:pool] if use_pool else order[:1]]
            chosen.append(int(rng.choice(nearest)))
        result.append(chosen)
    return result


def test_matched_draws_check(exercise_probe) -> None:
    from helpers.checks.interventions import check_matched_draws

    assert check_matched_draws(student_matched_draws) == check_matched_draws.points == 3
    exercise_probe.not_attempted(lambda: check_matched_draws(...), lambda: check_matched_draws(lambda *a: None))


def test_matched_draws_near_misses_lose_points_and_the_course_earns_nothing() -> None:
    import numpy as np

    from helpers.checks.interventions import check_matched_draws

    for name in ("exclude_chosen", "one_generator", "use_pool", "by_distance", "exclude_members"):
        score = check_matched_draws(lambda *a, n=name: student_matched_draws(*a, **{n: False}))
        assert score < check_matched_draws.points, (name, score)

    def through_module(key, members, draws, generator, pool=5):
        course = importlib.import_module("helpers.interventions.experiments").matched_channels
        return [course(key, members, generator, pool=pool) for _ in range(draws)]

    def through_package(key, members, draws, generator, pool=5):
        import helpers.interventions

        return [helpers.interventions.matched_channels(key, members, generator, pool=pool) for _ in range(draws)]

    for answer in (through_module, through_package):
        assert check_matched_draws(answer) == 0
    assert check_matched_draws(lambda key, members, draws, generator, pool=5: [[0] * len(members)] * draws) == 0
    assert check_matched_draws(lambda key, members, draws, generator, pool=5: [list(np.arange(len(members)) + 1)] * draws) == 0
