"""The course's shared helpers: every notebook imports what it needs from here.

Layers, from the ground up (no module imports one above it; CONTRIBUTING.md lists every module):
models, zoo, paper, layers, images, stimuli -> activations, probing -> featurevis, dataset_examples, tuning
-> families, rotation, weights, frequency, superposition, universality, interventions ... -> plotting, widgets, checks.
"""
from .activations import capture, receptive_field, unit_activation
from .config import DATA_DIR, fast_or_full, is_fast, is_offline, seed_everything
from .images import ImageFolder, RandomCrops, offline_patches, photo, sample_photos
from .models import CircuitModel, Layer, Unit, UnknownNameError
from .wrapping import wrap_model
from .zoo import available_models, default_model_name, load_model

__all__ = [
    "capture", "receptive_field", "unit_activation",
    "DATA_DIR", "fast_or_full", "is_fast", "is_offline", "seed_everything",
    "ImageFolder", "RandomCrops", "offline_patches", "photo", "sample_photos",
    "CircuitModel", "Layer", "Unit", "UnknownNameError", "wrap_model",
    "available_models", "default_model_name", "load_model",
]
