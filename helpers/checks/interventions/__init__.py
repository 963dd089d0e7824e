"""Self-checks for lesson 10's exercises (interventions), one module per kind of exercise.

:mod:`.hooks_and_measures`: exercises 1-7 (an ablation and a patch as forward hooks, the change in the network's
predictions, attribution, its concentration on chosen inputs, the change of evoked responses); :mod:`.weight_edit`:
exercise 8 (a weight edit as a context manager that always restores the weights); :mod:`.mean_ablation`: exercise 9
(the mean a mean ablation holds units at, streamed over batches through a forward hook); :mod:`.matched_control`:
exercise 10 (the weight-matched control's draws). Everything a lesson or a test
imports is re-exported here.
"""
from .hooks_and_measures import (
    SIZE, check_ablation_hook, check_attribution, check_concentration, check_patch_hook, check_prediction_change,
    check_response_change, hand_built_logits, hand_built_network, hand_built_responses, random_images,
)
from .matched_control import check_matched_draws
from .mean_ablation import check_layer_means
from .weight_edit import check_weight_edit

__all__ = [
    "SIZE", "hand_built_network", "hand_built_logits", "hand_built_responses", "random_images", "check_ablation_hook",
    "check_patch_hook", "check_prediction_change", "check_attribution", "check_concentration", "check_response_change",
    "check_weight_edit", "check_layer_means", "check_matched_draws",
]
