"""The shared comparison of a student's function with the course's (helpers.checks.withheld), and the course
functions each implementation check withholds: reached through its module while the student's function runs,
the course's own implementation earns nothing."""
from __future__ import annotations

import importlib

import pytest
import torch

from helpers.checks import ExerciseError
from helpers.checks.withheld import answer_without, compare_with_course


def course_double(values: torch.Tensor) -> torch.Tensor:
    return 2 * values


def test_compare_with_course_scores_parts_and_copies_inputs() -> None:
    def careless(values: torch.Tensor) -> torch.Tensor:  # right, but it overwrites its input
        values.mul_(2)
        return values

    parts = {"one": [(torch.ones(3),)], "two": [(torch.arange(4.0),), (torch.zeros(2),)]}
    assert compare_with_course(parts, careless, course_double, {}, "doubled", rtol=0, atol=0, hint="").fraction == 1
    assert parts["two"][0][0].tolist() == [0.0, 1.0, 2.0, 3.0]  # the student's function got a copy
    half_right = compare_with_course(parts, lambda v: 2 * v if len(v) == 3 else v, course_double, {}, "doubled",
                                     rtol=0, atol=0, hint="")
    assert [part.ok for part in half_right.parts] == [True, False]
    assert "differs from the course's implementation" in half_right.parts[1].problem


def test_answer_without_withholds_only_while_the_student_runs() -> None:
    module = importlib.import_module("helpers.stats")
    original = module.correlation_columns

    def cheat(a: torch.Tensor) -> torch.Tensor:
        return module.correlation_columns(a, a)

    with pytest.raises(ExerciseError, match="course's own implementation"):
        answer_without({module: ("correlation_columns",)}, cheat, torch.randn(5, 2))
    assert module.correlation_columns is original


def _through_module(path: str, name: str, adapt=lambda function, *args: function(*args)):
    """A student's answer that calls the course's ``path.name`` through its module, at call time."""
    def answer(*args):
        return adapt(getattr(importlib.import_module(path), name), *args)
    return answer


CASES = {
    "curve stimulus": ("helpers.checks.curves", "check_curve",
                       lambda **kw: importlib.import_module("helpers.stimuli.curves").curve(**kw)),
    "effective number": ("helpers.checks.polysemanticity", "check_effective_number",
                         _through_module("helpers.polysemanticity", "effective_number")),
    "toy loss": ("helpers.checks.superposition", "check_toy_loss",
                 _through_module("helpers.superposition", "toy_loss",
                                 lambda f, w, b, x, i: f(w[None], b[None], x[None], i)[0])),
    "feature dimensionality": ("helpers.checks.superposition", "check_feature_dimensionality",
                               _through_module("helpers.superposition", "feature_dimensionality")),
    "natural image": ("helpers.checks.trust", "check_natural_image",
                      _through_module("helpers.featurevis.param", "natural_image_from_phases")),
    "redirected gradient": ("helpers.checks.trust", "check_redirected_gradient",
                            _through_module("helpers.featurevis.render", "redirected_gradient")),
    "transformed weights": ("helpers.checks.dog_heads", "check_transform_weights",
                            _through_module("helpers.weights.equivariance", "transform_weights")),
    "confusion matrix": ("helpers.checks.own_model", "check_confusion_matrix",
                         _through_module("helpers.checks.own_model", "confusion_counts")),
    "training step": ("helpers.checks.own_model", "check_training_step",
                      _through_module("helpers.checks.own_model", "training_step")),
    "linear CKA": ("helpers.checks.universality", "check_linear_cka",
                   _through_module("helpers.universality", "linear_cka")),
    "line energy": ("helpers.checks.circuits", "check_line_energy",
                    _through_module("helpers.cleanroom", "quadrature_energy")),
    "Fourier image": ("helpers.checks.features", "check_fourier_image",
                      lambda spectrum, size: importlib.import_module("helpers.featurevis.param").FourierImage(
                          size, spectrum.shape[0]).decorrelated()),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_course_function_reached_through_its_module_earns_nothing(case: str, exercise_probe) -> None:
    module, check, answer = CASES[case]
    exercise_probe.rejected(getattr(importlib.import_module(module), check), answer)


def test_withholding_reaches_re_exports_of_the_function_but_not_of_a_dependency() -> None:
    import helpers.featurevis
    import helpers.weights
    from helpers.checks.withheld import withheld
    from helpers.weights import equivariance

    render_module = importlib.import_module("helpers.featurevis.render")
    with withheld(equivariance, "spatial_pattern"):
        with pytest.raises(ExerciseError):
            helpers.weights.spatial_pattern(torch.ones(2, 3, 3))
    with withheld(render_module, "BatchedObjectives"):  # render refuses; the objectives stay usable from the package
        assert helpers.featurevis.BatchedObjectives is importlib.import_module("helpers.featurevis.objectives").BatchedObjectives
    assert helpers.weights.spatial_pattern is equivariance.spatial_pattern
