"""Change a network for the duration of a ``with`` block, then put it back exactly: ablate, edit, patch, splice.

Observing a circuit is one kind of evidence; the strongest kind is causal: cut a circuit or rewrite
it, predict what happens, and measure. Every tool here is a context manager that changes the model
only inside its ``with`` block and restores it on the way out, also when the block raises::

    with ablated(model, family.units):                     # the curve family silenced
        after = capture(model, images, "blocks.3.3")        # capture, render and the scans all see it

- :func:`ablated`: units set to zero, or to their mean over a data set (``mode="mean"``, see
  :func:`layer_means`).
- :func:`patched`: units take the activation they had for another input (activation patching).
- :func:`spliced`: units computed by your own function of the input image (a hand-written detector).
- :func:`replaced_weights`: parameter slices overwritten, then restored from a copy (:func:`mean_ablation_weights`:
  the edits that make a mean ablation of the weights).

How: the module whose output is a layer's activation (``Layer.module_path``: for EfficientNet-Lite
the ReLU6 inside ``BatchNormAct2d``, one hook point per layer) is *replaced* by a wrapper that runs
the original module and then changes its output, the way captum.optim swaps ReLUs for redirected
ReLUs. Hooks placed later by :func:`helpers.activations.capture` land on the wrapper, so they read the
changed activation (and a pre-activation reading still sees the unchanged input). The wrapper
carries a buffer describing the change, so the model's fingerprint changes with it and a cached
dataset scan of the intact network is never returned for an intervened one.

:func:`attribution` answers the reverse question without changing anything: which inputs of the
previous layer carry a unit's activation on an image (activation x expanded weight, per input and
position), as the Curve Detectors article does.

Modules, one job each: :mod:`.edits` (the ``with``-block interventions: :func:`ablated`, :func:`patched`,
:func:`spliced`, :func:`replaced_weights`, ...), :mod:`.attribution` (:func:`attribution`, and how much of a unit's attribution falls on chosen inputs:
:func:`attribution_concentration`, beside random and matched units: :func:`concentration_baselines`),
:mod:`.experiments` (ablation experiments on a layer's clients and on the network's predictions:
:func:`probe_damage` (how much an ablation or an edit changed the clients' evoked responses),
:func:`ablation_prediction_change`; a unit's response to its own top dataset examples: :func:`top_example_values`;
one ablation against weight-matched draws: :func:`matched_comparison`; a family's stimuli: :func:`family_stimuli`),
:mod:`.splice` (a calibrated hand-written curve detector spliced in place of a family), :mod:`.verdicts` (lesson 10's
claims measured: :func:`ablation_verdicts`, :func:`article_curve_verdicts`).
"""
from .attribution import (
    Attribution, ConcentrationBaselines, attribution, attribution_concentration, concentration_baselines,
    top_example_attributions,
)
from .edits import (
    InterventionModule, Transform, ablated, intervened_layer, layer_means, mean_ablation_weights, patched, replaced_weights,
    spliced,
)
from .experiments import (
    ClientProbe, PredictionChange, ablation_prediction_change, ablation_reference, evoked_strength, excited_clients,
    input_strength, logits_of, make_probe, matched_channels, matched_units,
    prediction_change, probe_damage, probe_responses, random_ablation_damage, random_units, response_damage, share_lost,
    top_example_values,
)
from .experiments import (
    MatchedComparison, family_stimuli, listed_units_comparison, matched_comparison, random_prediction_changes,
)
from .splice import CleanroomSplice, cleanroom_spliced, fit_cleanroom_splice
from .verdicts import ablation_verdicts, article_curve_verdicts

__all__ = [
    "Transform", "InterventionModule", "intervened_layer", "layer_means", "ablated", "patched", "spliced",
    "replaced_weights", "mean_ablation_weights",
    "Attribution", "attribution", "top_example_attributions", "attribution_concentration",
    "ConcentrationBaselines", "concentration_baselines", "MatchedComparison", "matched_comparison", "listed_units_comparison", "family_stimuli",
    "random_prediction_changes",
    "ClientProbe", "make_probe", "ablation_reference", "excited_clients", "evoked_strength", "probe_responses", "probe_damage", "response_damage", "random_units", "matched_channels", "matched_units",
    "input_strength", "random_ablation_damage", "PredictionChange", "logits_of", "prediction_change",
    "ablation_prediction_change", "top_example_values", "share_lost",
    "CleanroomSplice", "fit_cleanroom_splice", "cleanroom_spliced", "ablation_verdicts", "article_curve_verdicts",
]
