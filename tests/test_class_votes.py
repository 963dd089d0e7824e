"""helpers.class_votes: units' direct votes for classes, read for a set of classes."""
import pytest
import torch
from torch import nn

from helpers.class_votes import class_set_circuit, class_set_reading, class_votes, classifier_weights
from helpers.wrapping import wrap_model
from test_polysemanticity import tiny_classifier


def test_class_votes_go_through_the_classifier():
    model = tiny_classifier()
    votes = classifier_weights(model)
    assert votes.shape == (4, 5) and torch.equal(class_votes(model, "conv2"), votes)
    expected = votes @ model.module[2].weight[:, :, 0, 0]
    assert torch.allclose(class_votes(model, "conv1"), expected, atol=1e-5)


def test_classifier_weights_refuses_a_model_without_a_final_linear_layer():
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model = wrap_model(module, {"conv": "1"}, name="no_classifier", input_size=16)
    with pytest.raises(ValueError, match="Linear"):
        classifier_weights(model)


def test_a_set_is_read_by_its_standardized_vote_and_its_top_share():
    votes = torch.tensor([[4.0, 0.0], [3.0, 1.0], [0.0, 2.0], [1.0, 3.0]])  # (4 classes, 2 units)
    reading = class_set_reading(votes, [0, 1], count=2)
    # unit 0: mean 2, std sqrt(10/3); classes 0 and 1 sit at +2 and +1 -> mean +1.5 / std; its top 2 are classes 0, 1
    assert torch.allclose(reading[0], torch.tensor([1.5 / (10 / 3) ** 0.5, -1.0 / (5 / 3) ** 0.5]))
    assert torch.equal(reading[1], torch.tensor([1.0, 0.0]))
    assert torch.equal(class_set_reading(torch.full((4, 1), 2.0), [0], count=1)[0], torch.zeros(1))  # no spread: 0


def test_the_circuit_picks_the_unit_that_votes_most_for_the_set():
    model = tiny_classifier()
    circuit = class_set_circuit(model, "conv1", [1, 2], receivers=2, count=2)
    reading = class_set_reading(class_votes(model, "conv1"), [1, 2], count=2)
    assert circuit.unit.channel == int(reading[0].argmax()) and circuit.share == float(reading[1, circuit.unit.channel])
    assert circuit.outputs.other_layer == "conv2" and len(circuit.receiver_votes) == len(circuit.outputs.excitatory) <= 2
    assert torch.equal(circuit.next_votes, classifier_weights(model))
    others = circuit.receiver_shares([0])
    assert all(0.0 <= share <= 1.0 for share in others + circuit.receiver_shares())
    with pytest.raises(ValueError, match="class indices"):
        class_set_circuit(model, "conv1", [7])
    with pytest.raises(ValueError, match="count"):
        class_set_circuit(model, "conv1", [1], count=5)


def test_the_circuit_says_whether_the_set_is_passed_on():
    model = tiny_classifier()
    circuit = class_set_circuit(model, "conv1", [1, 2], receivers=2, count=2)
    median = float(circuit.next_reading[0].median())
    above = sum(vote > median for vote in circuit.receiver_votes)
    assert circuit.receivers_above_median() == above
    assert circuit.passed_on(share=0.0) == (above >= len(circuit.receiver_votes) - 1)
    assert not circuit.passed_on(share=1.01)
    assert f"({above} of {len(circuit.receiver_votes)} above)" in circuit.receivers_summary()
    text = circuit.describe("thing", {"zeros": [0]})
    assert text.startswith(f"thing unit {circuit.unit}: {circuit.share:.0%} of its top-2 class votes are things")
    assert len(text.splitlines()) == 2 + len(circuit.outputs.excitatory) and "zeros" in text.splitlines()[-1]


def test_the_circuit_figure_shows_the_unit_and_its_receivers():
    from helpers.plotting.superposition import circuit_votes_figure

    model = tiny_classifier()
    circuit = class_set_circuit(model, "conv1", [1, 2], receivers=2, count=2)
    figure = circuit_votes_figure(circuit, model.labels, name="thing", count=2)
    assert len(figure.axes) == 1 + len(circuit.outputs.excitatory)
    assert figure.axes[0].get_title() == f"{circuit.unit} (thing unit)"
