"""Self-checks for lesson 07's exercises (toy models of superposition and sparse dictionaries), one module per kind.

:mod:`.toy_and_dictionary`: exercises 1-10 (the toy model's loss, dimensionality, training loop, antipodal partners
and regular polygons; a dictionary's loss, training step and the units that hold a direction); :mod:`.dictionary_account`:
exercise 11 (a dictionary's account of a layer: features active, variance explained, dead features);
:mod:`.interference`: exercise 12 (the largest interference a represented feature of a toy model suffers);
:mod:`.recovery`: exercise 13 (how well a set of directions finds a toy model's kept features, against the principal
axes). Everything a lesson or a test imports is re-exported here.
"""
from .dictionary_account import check_dictionary_account, hand_built_dictionary
from .interference import check_largest_interference
from .recovery import check_kept_feature_cosines
from .toy_and_dictionary import (
    PARAMETER_NAMES, TRAINING_BATCH, TRAINING_SEEDS, TRAINING_SLACK, TRAINING_STEPS, check_antipodal_partners,
    check_dictionary_loss, check_dictionary_step, check_feature_dimensionality, check_polygon_deviation,
    check_square_of_pairs, check_toy_loss, check_train_toy_model, check_units_to_hold,
)

__all__ = [
    "PARAMETER_NAMES", "TRAINING_BATCH", "TRAINING_SEEDS", "TRAINING_SLACK", "TRAINING_STEPS", "check_square_of_pairs",
    "check_toy_loss", "check_dictionary_loss", "check_dictionary_step", "check_feature_dimensionality",
    "check_units_to_hold", "check_antipodal_partners", "check_polygon_deviation", "check_train_toy_model",
    "check_dictionary_account", "hand_built_dictionary", "check_largest_interference", "check_kept_feature_cosines",
]
