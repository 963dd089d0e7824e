"""Lesson 09's one-call measurements (helpers.own_model_studies) and its accuracy with intervals
(helpers.training.evaluation.compare_class_accuracy), on tiny hand-made inputs: no zoo model, seconds of training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers import own_model_studies as studies
from helpers.training import TrainingResult, compare_class_accuracy, shapes_data, untrained_classifier
from helpers.training.evaluation import ClassAccuracy, class_accuracy_interval


@pytest.fixture(scope="module")
def tiny_run():
    """Shapes of 3 classes, a "run" of three epochs built from untrained networks' weights (no training), its twin."""
    data = shapes_data(count=48, seed=4, classes=["circle", "line", "corner"])
    twin = untrained_classifier(data, width=2, seed=0).model
    other = untrained_classifier(data, width=2, seed=1).model
    states = [net.module.state_dict() for net in (twin, other, other)]
    run = TrainingResult(other, {"step_loss": [1.0], "test_accuracy": [0.5]}, {"head": "average"}, states)
    return data, run, twin


def test_against_twin_passes_only_above_the_twin() -> None:
    assert studies.against_twin(0.8, 0.2, 0.5)[0] and not studies.against_twin(0.8, 0.6, 0.5)[0]
    assert not studies.against_twin(0.4, 0.2, 0.5)[0]
    assert "untrained twin 0.20" in studies.against_twin(0.8, 0.2, 0.5)[1]


def test_most_frequent_mistake_reads_off_the_diagonal() -> None:
    confusion = np.array([[5, 3, 0], [1, 9, 0], [0, 0, 2]])
    line = studies.most_frequent_mistake(confusion, ["a", "b", "c"])
    assert "a taken for b" in line and "(3 of 8 images)" in line
    assert confusion[0, 0] == 5  # the student's matrix is left as it was


def test_compare_class_accuracy_and_its_summary(tiny_run) -> None:
    data, run, twin = tiny_run
    accuracy = compare_class_accuracy({"net": run.model, "twin": twin}, data)
    with torch.no_grad():
        predicted = run.model(data.images).argmax(1).cpu()  # every image at once, not batch by batch
    values, low, high = class_accuracy_interval(predicted, data.labels, len(data.classes))
    assert np.allclose(accuracy["net"].values, values, equal_nan=True) and np.allclose(accuracy["net"].low, low)
    assert (accuracy["net"].low <= accuracy["net"].values).all() and (accuracy["net"].values <= accuracy["net"].high).all()
    assert accuracy["net"].counts.sum() == len(data)
    assert accuracy["net"].mean() == pytest.approx(float(np.mean(values)))
    summary = studies.accuracy_summary(accuracy, data.classes, 1 / 3)
    assert summary.count("\n") == 1 and "95% interval" in summary
    beside = studies.intervals_beside((values, low, high), accuracy["net"], data.classes)
    assert len(beside.splitlines()) == 3 and "circle" in beside


def test_class_accuracy_hardest_skips_missing_classes() -> None:
    result = ClassAccuracy(np.array([0.9, np.nan, 0.4]), np.zeros(3), np.ones(3), np.array([10, 0, 5]))
    assert result.hardest() == 2 and result.mean() == pytest.approx(0.65)


def test_first_layer_counts_and_peaks_by_stage(tiny_run) -> None:
    data, run, twin = tiny_run
    counts = studies.first_layer_counts({"your network": run.model, "untrained twin": twin})
    assert sum(counts["your network"].values()) == 2  # width 2: two first-layer filters, each of one type
    summary = studies.filter_counts_summary(counts)
    assert "Oriented filters:" in summary and "untrained twin" in summary
    peaks = studies.peaks_by_stage(run, twin, data.images[:10], "conv4")
    assert list(peaks)[0] == "after epoch 1" and list(peaks)[-1] == "untrained twin" and len(peaks) == 4
    assert all(value.shape == (10, run.model.channels("conv4")) for value in peaks.values())


def test_recurrence_tables_and_layers_gained(tiny_run) -> None:
    data, run, twin = tiny_run
    recurrence = studies.seed_recurrence({"pair": (run.model, twin)}, data.images[:16])
    assert list(recurrence) == ["pair", "trained, images shuffled"]
    assert set(recurrence["pair"]) == set(run.model.layer_names)
    assert "pair" in studies.recurrence_table(recurrence)
    assert studies.layers_gained({"a": 0.9, "b": 0.5}, {"a": 0.5, "b": 0.45}, margin=0.1) == ["a"]


def test_purity_and_banding_tables() -> None:
    summary = studies.purity_summary({"net": np.array([1.0, np.nan, 0.5])})
    assert "2 units fire; mean share 0.75" in summary
    table = studies.banding_table({"net": (0.40, 0.25)}, 0.25)
    assert "+0.150" in table and "0.250 each" in table


def test_profile_gaps() -> None:
    trained = [("first", 0.5, 0.1), ("a", 0.3, 0.25), ("b", 0.2, 0.3), ("last", 0.6, 0.2)]
    random = [("first", 0.25, 0.25), ("a", 0.25, 0.25), ("b", 0.25, 0.25), ("last", 0.26, 0.24)]
    gaps = studies.profile_gaps(trained, random)
    assert gaps.last_path == "last" and gaps.last == pytest.approx(0.4) and gaps.random == pytest.approx(0.02)
    assert gaps.middle == pytest.approx(0.05)  # the first layer is left out
    assert np.isnan(studies.profile_gaps(trained[-2:], random[-2:]).middle)
    assert "gap +0.400" in gaps.describe("net")


def test_curve_family_census_needs_branches(tiny_run) -> None:
    assert studies.curve_family_census(tiny_run[1].model) is None


def test_twin_agreement_of_a_twin_with_itself(tiny_run) -> None:
    data, _, twin = tiny_run
    assert studies.twin_agreement(twin.module.cpu(), twin, data.images[:20]) == 1.0
    constant = nn.Sequential(nn.Flatten(), nn.Linear(3 * data.size * data.size, 3))
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
    expected = float((twin(data.images[:20]).argmax(1).cpu() == 2).float().mean())
    assert studies.twin_agreement(constant, twin, data.images[:20]) == pytest.approx(expected)


def test_screen_table_and_describe_family() -> None:
    class Family(list):
        layer = "conv4"

        def table(self) -> str:
            return "the table"

    screens = {"net": ({"conv3": Family([1]), "conv4": Family([1, 2])}, {"conv3": Family(), "conv4": Family([3])})}
    table = studies.screen_table(screens)
    assert "curves conv4" in table and "high-low conv3" in table
    assert studies.describe_family(Family([1, 2])) == "the table"
    assert "has 1 member(s), in conv4" in studies.describe_family(Family([1]))


def test_recurrence_summary_names_the_layers_gained() -> None:
    recurrence = {"trained seeds 0 / 1": {"a": 0.9, "b": 0.5}, "untrained seeds 0 / 1": {"a": 0.5, "b": 0.45}}
    summary = studies.recurrence_summary(recurrence, margin=0.1)
    assert summary.startswith(studies.recurrence_table(recurrence))
    assert summary.endswith("Layers where trained seeds match clearly better (by more than 0.1) than untrained ones: a")
    recurrence["trained seeds 0 / 1"]["a"] = 0.55
    assert summary != studies.recurrence_summary(recurrence) and studies.recurrence_summary(recurrence).endswith("ones: none")


def test_census_lines() -> None:
    from helpers.branches import article_family_censuses

    assert "no branch census" in studies.census_line("net", None)
    censuses = article_family_censuses()
    label, first = next(iter(censuses.items()))
    assert studies.censuses_table(censuses).splitlines()[0] == f"{label:18s} {first.describe()}"
    assert studies.census_line("inceptionv1", first) == f"inceptionv1 {first.layer}, the curve units the screen finds: {first.describe()}"


def test_band_profiles_of_a_model_and_its_random_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import zoo
    from helpers.weights import banding

    profiles = {"trained": [("first", 0.5, 0.1), ("mid", 0.3, 0.2), ("last", 0.6, 0.2)],
                "random": [("first", 0.25, 0.25), ("mid", 0.25, 0.25), ("last", 0.26, 0.24)]}
    monkeypatch.setattr(zoo, "load_model", lambda name, weights, verbose: weights)
    monkeypatch.setattr(banding, "band_profile", lambda model: profiles["random" if model == "random" else "trained"])

    class Model:
        name = "net"

    found, gaps = studies.band_profiles(Model())
    assert found == {"trained": profiles["trained"], "random-weights copy": profiles["random"]}
    assert gaps == studies.profile_gaps(profiles["trained"], profiles["random"])


def test_own_model_verdicts_keep_the_claims_bars() -> None:
    accuracy = {"your network": np.array([0.9, 0.8]), "untrained twin": np.array([0.1, 0.2])}
    purity = {"your network": np.array([0.6, np.nan]), "untrained twin": np.array([0.3, 0.2])}
    recurrence = {"trained seeds 0 / 1": {"conv4": 0.7}, "untrained seeds 0 / 1": {"conv4": 0.4}}
    banding = {"your network": (0.3, 0.3), "upright shapes": (0.35, 0.3), "upright shapes, flatten head": (0.3, 0.3),
               "untrained twin": (0.25, 0.25)}
    bands = studies.ProfileGaps("last", 0.2, 0.01, 0.0, 0.5, 0.3)
    verdicts = studies.own_model_verdicts(accuracy, 0.125, purity, recurrence, banding, bands, "net", None)
    assert all(passed for passed, _ in verdicts.values()) and "census" not in verdicts
    assert verdicts["learned"] == studies.against_twin(0.85, 0.15000000000000002, 0.5)
    assert verdicts["banding"][1] == ("horizontal - vertical: your network +0.000, upright shapes +0.050, "
                                      "upright shapes, flatten head +0.000, untrained twin +0.000")
    banding["upright shapes, flatten head"] = (0.35, 0.3)  # a flatten head that bands too: not the pooling's doing
    recurrence["untrained seeds 0 / 1"]["conv4"] = 0.65  # untrained networks that match as well
    failed = studies.own_model_verdicts(accuracy, 0.125, purity, recurrence, banding, studies.ProfileGaps("last", 0.2, 0.15, 0, 0.5, 0.3),
                                        "net", None)
    assert not failed["banding"][0] and not failed["recurrence"][0] and not failed["active bands"][0]


def test_own_model_verdicts_census_of_a_branched_model() -> None:
    from helpers.branches import article_family_censuses

    census = next(iter(article_family_censuses().values()))
    accuracy = {"your network": np.array([0.9]), "untrained twin": np.array([0.1])}
    banding = {"upright shapes": (0.35, 0.3), "upright shapes, flatten head": (0.3, 0.3), "untrained twin": (0.25, 0.25)}
    verdicts = studies.own_model_verdicts(accuracy, 0.125, {"your network": np.ones(2), "untrained twin": np.zeros(2)},
                                          {"trained seeds 0 / 1": {"conv4": 0.7}, "untrained seeds 0 / 1": {"conv4": 0.4}},
                                          banding, studies.ProfileGaps("last", 0.2, 0.01, 0.0, 0.5, 0.3), "inceptionv1", census)
    enriched = census.most_enriched
    assert verdicts["census"] == (census.size >= 5 and census.share(enriched.branch) >= 0.8 and census.p_value < 0.01,
                                  f"{census.size} units; {enriched.branch} holds {census.share(enriched.branch):.0%} "
                                  f"({enriched.expected:.1f} expected by chance); p = {census.p_value:.1e}")
