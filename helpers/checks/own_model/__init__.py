"""Self-checks for the exercises of lesson 09 (your own model and data set), one module per kind of exercise.

:mod:`.training_loop`: exercises 1, 2, 10, 11 and 12 (a confusion matrix, a training step, the untrained twin's
batch-norm statistics, per-class accuracy with a confidence interval, a training epoch with its held-out accuracy);
:mod:`.weights_and_units`: exercises 3, 4 and 6-9 (a weight-banding score, a branch census's chance tail, a wrapped network, class purity, a layer's strongest kernels, a
branch census). Everything a lesson or a test imports is re-exported here.
"""
from .training_loop import (
    check_class_accuracy, check_confusion_matrix, check_training_epoch, check_training_step, check_twin_batch_norm,
    confusion_counts, training_step,
)
from .weights_and_units import (
    check_band_shares, check_branch_census, check_chance_tail, check_class_purity, check_strongest_kernels,
    check_wrapped,
)

__all__ = [
    "confusion_counts", "training_step", "check_confusion_matrix", "check_training_step",
    "check_twin_batch_norm", "check_class_accuracy", "check_training_epoch", "check_band_shares", "check_chance_tail", "check_wrapped",
    "check_class_purity", "check_strongest_kernels", "check_branch_census",
]
