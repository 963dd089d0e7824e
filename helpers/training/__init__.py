"""Train a small convolutional network of your own on the CPU, then take it apart with the course's tools.

- Data: :func:`load_dataset` gives a :class:`LabelledImages` from the course's own shapes
  (:mod:`helpers.shapes_dataset`, offline), CIFAR-10 (torchvision, downloaded to ``data/datasets``
  when the network is allowed) or any folder of images with one subfolder per class.
- Network: :class:`SmallConvNet`, four convolutional layers (the first 5x5, so its filters have
  room to become Gabor-like) and a linear read-out; ``width`` sets the channel counts.
- Training: :func:`train_classifier` is seeded and deterministic (the same seed gives bitwise the
  same weights on the same CPU), shows a tqdm bar and returns the loss/accuracy history with the
  network wrapped by :func:`helpers.wrapping.wrap_model`, so every tool of the course works on it.
- :func:`trained_model` trains once and keeps the result in ``data/cache/trained/``, keyed by every
  setting, so two notebooks asking for the same network share one training run.

Modules, one job each: :mod:`.data` (labelled data sets), :mod:`.networks` (:class:`SmallConvNet` and
its wrapping), :mod:`.fitting` (training, evaluation, the untrained control), :mod:`.store` (saving and
loading trained networks, their cache and fingerprints, the course's network), :mod:`.evaluation`
(per-class accuracy with its confidence interval, per-unit class purity).
"""
from .data import LabelledImages, cifar10_data, folder_data, load_dataset, shapes_data
from .evaluation import ClassAccuracy, class_accuracy, compare_class_accuracy, predicted_classes, top_examples_purity
from .fitting import TrainingResult, train_classifier, untrained_classifier
from .networks import NORMALIZE_MEAN, NORMALIZE_STD, SMALL_NET_LAYERS, SmallConvNet, wrap_small_net
from .store import (
    CACHE_FORMAT, TrainedCacheError, course_network,
    course_network_settings, folder_fingerprint, load_trained, save_trained, trained_model, trained_model_path,
    trained_model_settings,
)

__all__ = [
    "LabelledImages", "shapes_data", "cifar10_data", "folder_data", "load_dataset",
    "NORMALIZE_MEAN", "NORMALIZE_STD", "SMALL_NET_LAYERS", "SmallConvNet", "wrap_small_net",
    "TrainingResult", "train_classifier", "untrained_classifier",
    "CACHE_FORMAT", "TrainedCacheError", "save_trained",
    "load_trained", "folder_fingerprint", "trained_model_settings", "trained_model_path", "trained_model",
    "course_network_settings", "course_network",
    "top_examples_purity", "class_accuracy", "ClassAccuracy", "compare_class_accuracy", "predicted_classes",
]
