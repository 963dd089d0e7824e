"""Lesson 09's ablation explorer: moving a control recomputes the wrapped function's result."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from test_interventions import hand_built, images

from helpers.interventions import layer_means, make_probe, probe_responses, random_units
from helpers.widgets.interventions import ablation_choice, ablation_explorer, ablation_tunings


def test_choice_names_the_right_units() -> None:
    model = hand_built()
    family = model.units("a", [1, 3])
    assert ablation_choice(family, "curve family") == family
    assert ablation_choice(family, "one member", member=1) == [family[1]]
    assert ablation_choice([], "one member") == []


def test_explorer_follows_its_controls() -> None:
    model = hand_built()
    family = model.units("a", [1, 3])
    probe = make_probe(model.units("b", [0, 1]), {"curves": images(4, seed=3)}, torch.full((3, 8, 8), 0.5))
    means = layer_means(model, "a", images(6, seed=4))
    angles = np.arange(4) * 90.0
    explorer = ablation_explorer(model, probe, angles, family, "a", means=means)
    assert isinstance(explorer.result, Figure) and explorer.calls == 1
    controls = explorer.controls
    assert all(not getattr(c, "continuous_update", False) for name, c in controls.items() if name != "choice")

    def drawn_after(figure: Figure) -> list[np.ndarray]:
        return [ax.lines[1].get_ydata() for ax in figure.axes if len(ax.lines) > 1]

    _, first_after = ablation_tunings(model, probe, "curves", [family[0]], means)
    assert np.allclose(drawn_after(explorer.result)[1], first_after[:, 1])  # the default: one member, the first
    controls["choice"].value = "curve family"
    _, family_after = ablation_tunings(model, probe, "curves", family, means)
    assert np.allclose(drawn_after(explorer.result)[1], family_after[:, 1])
    controls["choice"].value = "one member"
    controls["member"].value = 1
    assert explorer.calls == 4
    _, one_after = ablation_tunings(model, probe, "curves", [family[1]], means)
    assert np.allclose(drawn_after(explorer.result)[0], one_after[:, 0])
    assert "a:3" in explorer.result.texts[0].get_text()
    # b:1 reads only a:1: ablating a:3 alone leaves it exactly as it was
    intact = probe.evoked(probe_responses(model, probe), "curves")
    assert np.allclose(one_after[:, 1], intact[:, 1])
    before_draw = [ax.lines[2].get_ydata().copy() for ax in explorer.result.axes if len(ax.lines) > 2]
    controls["seed"].value = 3
    assert explorer.calls == 5
    legend = explorer.result.axes[0].get_legend()
    assert any("draw 3" in text.get_text() for text in legend.get_texts())
    drawn = [ax.lines[2].get_ydata() for ax in explorer.result.axes if len(ax.lines) > 2]
    control = random_units(model, "a", 1, np.random.default_rng(3), [u.channel for u in family])
    random_after = ablation_tunings(model, probe, "curves", control, means)[1]
    assert np.allclose(drawn[0], random_after[:, 0]) and len(drawn) == len(before_draw)
