"""The model zoo: load any of the course's models by name, and pick the default one.

``load_model()`` with no name gives the *active* model: ``CIRCUITS_MODEL`` if set, else the paper's
InceptionV1 when its weights are on disk, else the offline EfficientNet-Lite0.
"""
from __future__ import annotations

import os
from typing import Callable

from .models import CircuitModel, UnknownNameError, _closest

OFFLINE_DEFAULT = "efficientnet_lite0"


def _efficientnet(name: str) -> Callable[[], CircuitModel]:
    def build() -> CircuitModel:
        from .efficientnet_lite import build_efficientnet_lite

        return build_efficientnet_lite(name)

    return build


def _inceptionv1() -> CircuitModel:
    from .inceptionv1 import load_inceptionv1

    return load_inceptionv1()


def _torchvision(name: str) -> Callable[[], CircuitModel]:
    def build() -> CircuitModel:
        from .torchvision_models import load_torchvision_model

        return load_torchvision_model(name)

    return build


MODELS: dict[str, Callable[[], CircuitModel]] = {
    "inceptionv1": _inceptionv1,
    "efficientnet_lite0": _efficientnet("efficientnet_lite0"),
    "efficientnet_lite1": _efficientnet("efficientnet_lite1"),
    "efficientnet_lite2": _efficientnet("efficientnet_lite2"),
    "googlenet": _torchvision("googlenet"),
    "alexnet": _torchvision("alexnet"),
    "vgg16": _torchvision("vgg16"),
    "resnet18": _torchvision("resnet18"),
}

_loaded: dict[str, CircuitModel] = {}


def available_models() -> list[str]:
    """Every model name :func:`load_model` accepts."""
    return list(MODELS)


def weights_available(name: str) -> bool:
    """True when a model's weights are on this machine already (no download needed)."""
    check_name(name)
    if name.startswith("efficientnet_lite"):
        from .efficientnet_lite import weights_path

        path = weights_path(name)
        return path is not None and path.exists()
    if name == "inceptionv1":
        from .inceptionv1 import weights_file

        return weights_file().exists()
    from .torchvision_models import weights_file as torchvision_weights_file

    return torchvision_weights_file(name).exists()


def check_name(name: str) -> str:
    """Return ``name`` if it is a zoo model, else raise an error listing the zoo."""
    if name not in MODELS:
        raise UnknownNameError(f"Unknown model {name!r}.{_closest(name, available_models())}")
    return name


def default_model_name() -> tuple[str, str]:
    """The active model's name and the reason it was chosen."""
    chosen = os.environ.get("CIRCUITS_MODEL", "").strip()
    if chosen:
        return check_name(chosen), "CIRCUITS_MODEL is set"
    if weights_available("inceptionv1"):
        return "inceptionv1", "its weights are in data/weights/ (the paper's model)"
    return OFFLINE_DEFAULT, (
        "InceptionV1 weights are not in data/weights/; run `make weights` with a network "
        "connection to get the paper's model"
    )


def load_model(name: str | None = None, *, verbose: bool = True) -> CircuitModel:
    """Load a zoo model by name (the active model when ``name`` is None); loaded models are reused."""
    reason = "asked for by name"
    if name is None:
        name, reason = default_model_name()
    check_name(name)
    if name not in _loaded:
        _loaded[name] = MODELS[name]()
    if verbose:
        print(f"Active model: {name} ({reason}).")
    return _loaded[name]
