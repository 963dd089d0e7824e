"""Lesson 00's exercise checks: the course's method gets full marks, neighbouring methods lose points,
the placeholder reports "not attempted". A tiny wrapped network keeps it quick."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.checks.tour import check_capture_hook, check_strongest_units
from helpers.wrapping import wrap_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
                           nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    return wrap_model(module, name="tiny-tour-test", input_size=32)


def solution_capture(module, inputs, path):
    store = {}
    handle = module.get_submodule(path).register_forward_hook(lambda m, i, output: store.update(out=output))
    try:
        with torch.no_grad():
            module(inputs)
    finally:
        handle.remove()
    return store["out"]


def input_capture(module, inputs, path):
    store = {}
    handle = module.get_submodule(path).register_forward_hook(lambda m, i, output: store.update(out=i[0]))
    try:
        module(inputs)
    finally:
        handle.remove()
    return store["out"]


def leaky_capture(module, inputs, path):
    store = {}
    module.get_submodule(path).register_forward_hook(lambda m, i, output: store.update(out=output))
    module(inputs)
    return store["out"]


def test_capture_right_answer_passes(model, strict) -> None:
    assert check_capture_hook(solution_capture, model)


@pytest.mark.parametrize("wrong", [input_capture, leaky_capture, lambda module, inputs, path: module(inputs)])
def test_capture_wrong_methods_lose_points(model, wrong) -> None:
    assert not check_capture_hook(wrong, model)


def solution_strongest(maps, k):
    return maps.flatten(1).amax(1).topk(k).indices.tolist()


def test_strongest_right_answer_passes(model, strict) -> None:
    assert check_strongest_units(solution_strongest, model)


@pytest.mark.parametrize("wrong", [
    lambda maps, k: maps.flatten(1).mean(1).topk(k).indices.tolist(),
    lambda maps, k: maps[:, maps.shape[1] // 2, maps.shape[2] // 2].topk(k).indices.tolist(),
    lambda maps, k: maps.flatten(1).amax(1).topk(k, largest=False).indices.tolist(),
    lambda maps, k: list(reversed(solution_strongest(maps, k))),
])
def test_strongest_wrong_methods_lose_points(model, wrong) -> None:
    assert not check_strongest_units(wrong, model)


def test_placeholders_are_not_attempted(model, capsys) -> None:
    assert not check_capture_hook(lambda module, inputs, path: None, model)
    assert not check_strongest_units(..., model)
    assert "Not attempted yet" in capsys.readouterr().out


def solution_top_classes(logits, labels, k):
    values, indices = logits.softmax(-1).topk(k)
    return [(labels[int(i)], float(p)) for p, i in zip(values, indices)]


def test_top_classes_right_answer_passes(model, strict) -> None:
    from helpers.checks.tour import check_top_classes
    assert check_top_classes(solution_top_classes, model)


@pytest.mark.parametrize("wrong", [
    lambda logits, labels, k: [(labels[int(i)], float(p)) for p, i in zip(*logits.sigmoid().topk(k))],
    lambda logits, labels, k: [(labels[int(i)], float(p)) for p, i in zip(*logits.topk(k))],
    lambda logits, labels, k: list(reversed(solution_top_classes(logits, labels, k))),
    lambda logits, labels, k: solution_top_classes(logits, labels, k + 1),
])
def test_top_classes_wrong_methods_lose_points(model, wrong) -> None:
    from helpers.checks.tour import check_top_classes
    assert not check_top_classes(wrong, model)


# --- exercise 5: a chain's receptive field ------------------------------------------------------------------------
def student_receptive_field(layers, *, steps=True, size_first=True, pools=True, dilation=True):
    """The (size, step) written as a student would, with switches for the usual slips."""
    def side(value):
        return value[0] if isinstance(value, tuple) else value

    kinds = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d) if pools else (nn.Conv2d,)
    size, step = 1, 1
    for layer in layers:
        if isinstance(layer, kinds):
            widen = (side(layer.kernel_size) - 1) * (side(getattr(layer, "dilation", 1)) if dilation else 1)
            if not size_first:
                step *= side(layer.stride)
            size += widen * (step if steps else 1)
            if size_first:
                step *= side(layer.stride)
    return size, step


def test_chain_receptive_field_matches_the_measured_one() -> None:
    """The course's arithmetic agrees with the backward-pass measurement on linear chains (every weight counts)."""
    from helpers.activations import chain_receptive_field, receptive_field

    torch.manual_seed(1)
    chains = [nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, stride=2), nn.AvgPool2d(2), nn.Conv2d(4, 4, 5)),
              nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2), nn.Conv2d(4, 4, 3, stride=2), nn.Conv2d(4, 4, 3, dilation=3))]
    for chain in chains:
        wrapped = wrap_model(chain, {"end": str(len(chain) - 1)}, name="chain", input_size=64)
        top, left, bottom, right = receptive_field(wrapped, "end")
        size, step = chain_receptive_field(chain)
        assert (bottom - top, right - left) == (size, size)
    assert chain_receptive_field(chains[0]) == (23, 4) and chain_receptive_field(chains[1]) == (19, 2)


def test_receptive_field_right_answer_passes(strict) -> None:
    from helpers.checks.tour import check_receptive_field
    assert check_receptive_field(student_receptive_field) == 3


def test_receptive_field_near_misses_lose_points(exercise_probe) -> None:
    from helpers.checks.tour import check_receptive_field

    def course(layers):  # the course's function, reached through its module while the student's runs
        import helpers.activations

        return helpers.activations.chain_receptive_field(layers)

    def measured(layers):  # the backward-pass measurement of a wrapped chain: withheld too
        import helpers
        from helpers.wrapping import wrap_model as wrap

        top, _, bottom, _ = helpers.receptive_field(wrap(layers, {"end": "0"}, input_size=64), "end")
        return bottom - top, 1

    wrong = [lambda layers: student_receptive_field(layers, steps=False),  # kernels added up, steps forgotten
             lambda layers: student_receptive_field(layers, size_first=False),  # the layer's own stride applied first
             lambda layers: student_receptive_field(layers, pools=False),  # poolings skipped
             lambda layers: student_receptive_field(layers, dilation=False),  # dilation ignored
             course, measured]
    for answer in wrong:
        exercise_probe.rejected(check_receptive_field, answer)
    for constant in ((1, 1), (13, 2), (19, 2)):
        exercise_probe.rejected(check_receptive_field, lambda layers, c=constant: c)
    exercise_probe.not_attempted(lambda: check_receptive_field(...), lambda: check_receptive_field(lambda layers: None))


@pytest.mark.parametrize("slip, earned", [("pools", 1), ("dilation", 2)])  # a pooling also sits in a dilated chain
def test_receptive_field_a_slip_loses_its_parts(slip, earned, capsys) -> None:
    from helpers.checks.tour import check_receptive_field

    assert check_receptive_field(lambda layers: student_receptive_field(layers, **{slip: False})) == earned


def student_twin(module, seed, *, copy_it=True, fork=True, every=True, refuse=True, seeded=True):
    """Exercise 6's answer, and its near misses: in place, the global generator reseeded, only convolutions and linear
    layers redrawn, a layer it cannot redraw kept, no seed."""
    import contextlib
    import copy

    twin = copy.deepcopy(module) if copy_it else module
    with torch.random.fork_rng() if fork else contextlib.nullcontext():
        if seeded:
            torch.manual_seed(seed)
        for name, part in twin.named_modules():
            if hasattr(part, "reset_parameters"):
                if every or isinstance(part, (nn.Conv2d, nn.Linear)):
                    part.reset_parameters()
            elif refuse and list(part.parameters(recurse=False)):
                raise ValueError(f"{name} cannot be redrawn")
    return twin


def test_random_twin_right_answer_passes(strict) -> None:
    from helpers.checks.tour import check_random_twin

    state = torch.random.get_rng_state()
    assert check_random_twin(student_twin) == 4
    assert torch.equal(torch.random.get_rng_state(), state)  # the check leaves the notebook's random numbers alone


@pytest.mark.parametrize("slip", ["copy_it", "fork", "every", "refuse", "seeded"])
def test_random_twin_near_misses_lose_points(slip, capsys) -> None:
    from helpers.checks.tour import check_random_twin

    earned = check_random_twin(lambda module, seed: student_twin(module, seed, **{slip: False}))
    assert earned < 4 and (slip != "seeded" or earned == 0)


def twin_by_the_course(module, seed):
    import helpers.zoo

    return helpers.zoo.reinitialized(module, seed)


def twin_refused(module, seed):
    raise ValueError("no")


TWIN_NON_ANSWERS = (twin_by_the_course, twin_refused, lambda module, seed: module, lambda module, seed: nn.Sequential())


def test_random_twin_course_constants_and_refusals_are_rejected(exercise_probe) -> None:
    from helpers.checks.tour import check_random_twin

    for answer in TWIN_NON_ANSWERS:
        exercise_probe.rejected(check_random_twin, answer)
    exercise_probe.not_attempted(lambda: check_random_twin(...), lambda: check_random_twin(lambda module, seed: None))


def test_random_twin_course_constants_and_refusals_earn_nothing(capsys) -> None:
    from helpers.checks.tour import check_random_twin

    assert [check_random_twin(answer) for answer in TWIN_NON_ANSWERS] == [0] * len(TWIN_NON_ANSWERS)


def test_random_twin_of_a_model_is_a_seeded_control(model) -> None:
    from helpers.zoo import random_twin

    twin, again = random_twin(model, 1), random_twin(model, 1)
    assert not twin.trained and model.trained and twin.module is not model.module
    assert all(torch.equal(a, b) for a, b in zip(twin.module.state_dict().values(), again.module.state_dict().values()))
    assert not torch.equal(twin.module[0].weight, model.module[0].weight)
