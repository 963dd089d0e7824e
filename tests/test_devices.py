"""Tensors follow the model's device: caught on a CPU-only machine with a *fake* GPU.

CI has no GPU, so a helper that creates a tensor on the CPU and mixes it with the model's CUDA tensors
(lesson 03's ``check_composed_weight`` and lesson 09's clean-room splice both did) used to pass every
test. PyTorch's ``FakeTensorMode`` makes tensors that carry a device and a shape but no values, and it
checks device propagation exactly as CUDA does: mixing a fake ``cuda:0`` tensor with a CPU one raises
"Expected all tensors to be on the same device". Fake tensors cannot be read (``float()``, ``.numpy()``),
so a helper run this way either finishes or stops at its first value read, and both count as a pass;
only a device mix fails.
"""
from __future__ import annotations

import copy
from unittest import mock

import numpy as np
import pytest
import torch
from torch._subclasses.fake_tensor import DataDependentOutputException, FakeTensorMode

from helpers.cleanroom import (
    ComparisonSet, CurveDetectorSettings, cleanroom_responses, line_energy, match_family,
)
from helpers.interventions.splice import CleanroomSplice

DEVICE_MIX = ("same device", "Input type", "is not on the expected device", "different from other tensors")


def _is_device_mix(error: BaseException) -> bool:
    return any(phrase in str(error) for phrase in DEVICE_MIX)


class _ValueRead(Exception):
    """A fake CPU tensor was turned into a NumPy array: a value read, not a device mix."""


def _numpy_on_fake(tensor: torch.Tensor, *args, **kwargs):
    if tensor.device.type != "cpu":  # as on a real GPU: .numpy() needs .cpu() first
        raise AssertionError(f"can't convert a {tensor.device} tensor to numpy: use .cpu() first")
    raise _ValueRead


def on_fake_gpu(function, *args, **kwargs):
    """Run ``function`` with fake CUDA tensors; fail on a device mix, accept a stop at the first value read."""
    with mock.patch.object(torch.Tensor, "numpy", _numpy_on_fake):
        try:
            return function(*args, **kwargs)
        except (DataDependentOutputException, NotImplementedError, _ValueRead) as error:
            if _is_device_mix(error):
                raise AssertionError(f"{function.__name__} mixes devices: {error}") from error
            return None  # reached a value read, which fake tensors cannot give: no device mix before it
        except RuntimeError as error:
            if _is_device_mix(error):
                raise AssertionError(f"{function.__name__} mixes devices: {error}") from error
            raise


@pytest.fixture
def fake_gpu():
    """Inside it, ``torch.rand(..., device="cuda")`` is a fake CUDA tensor, even on a machine without a GPU."""
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        yield mode


def test_the_fake_gpu_catches_a_device_mix(fake_gpu):
    images = torch.rand(1, 3, 8, 8, device="cuda")
    with pytest.raises(AssertionError, match="mixes devices"):
        on_fake_gpu(torch.nn.functional.conv2d, images, torch.ones(1, 3, 3, 3))  # a CPU weight on CUDA input
    assert on_fake_gpu(lambda: float(images.sum())) is None  # a value read is not a device mix
    assert on_fake_gpu(lambda: images.cpu().numpy()) is None
    with pytest.raises(AssertionError, match="use .cpu"):
        on_fake_gpu(lambda: np.asarray(images))


# --- lesson 09: the clean-room splice ("Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor)")
def test_cleanroom_units_run_on_the_images_device(fake_gpu):
    images = torch.rand(2, 3, 48, 48, device="cuda")
    settings = CurveDetectorSettings(radius=8.0, arc_length=16.0)
    assert on_fake_gpu(line_energy, images, 8).device.type == "cuda"
    assert on_fake_gpu(cleanroom_responses, images, [0.0, 90.0], settings).device.type == "cuda"
    comparison = ComparisonSet("photos on the GPU", images, np.zeros((2, 2)), np.array([0.0, 90.0]), (24.0, 24.0), ("a", "b"))
    on_fake_gpu(match_family, comparison, settings)  # reads its result with .cpu() before NumPy


def test_the_splice_computes_on_the_images_device(fake_gpu):
    count = 3
    splice = CleanroomSplice("layer", [0, 1, 2], np.array([0.0, 90.0, 180.0]), CurveDetectorSettings(radius=8.0, arc_length=16.0),
                             gain=np.ones(count), offset=np.zeros(count), blank=np.zeros(count), fit=np.ones(count),
                             stride=8.0, first_center=(3.5, 3.5))
    images = torch.rand(2, 3, 64, 64, device="cuda")
    out = on_fake_gpu(splice.compute, images, (8, 8))  # what cleanroom_spliced's hook runs inside the forward pass
    assert out.device.type == "cuda" and tuple(out.shape) == (2, count, 8, 8)


# --- lesson 03: check_composed_weight ("Expected all tensors to be on the same device, cuda:0 and cpu")
@pytest.fixture(scope="module")
def lite():
    """EfficientNet-Lite0's architecture with seeded random weights (no weights file needed), on the CPU."""
    from helpers import load_model

    return load_model("efficientnet_lite0", weights="random", device="cpu", verbose=False)


@pytest.fixture
def lite_on_fake_gpu(lite):
    """A copy of it on a fake GPU (the zoo's cached model is left alone)."""
    copied = copy.deepcopy(lite)
    with FakeTensorMode(allow_non_fake_inputs=True):
        yield copied.to("cuda")


def _composed_by_hand(model) -> torch.Tensor:
    """Lesson 03's solution to exercise 2: on the model's device, as a student computes it."""
    def scale(bn):
        return bn.weight / torch.sqrt(bn.running_var + bn.eps)

    source, target = model.module.blocks[3][1], model.module.blocks[3][2]
    project = scale(source.bn3)[:, None] * source.conv_pwl.weight[:, :, 0, 0]
    expand = scale(target.bn1)[:, None] * target.conv_pw.weight[:, :, 0, 0]
    return (scale(target.bn2)[20] * target.conv_dw.weight[20, 0] * (expand @ project)[20, 5]).detach()


def test_expanded_weights_come_back_on_the_cpu_for_a_gpu_model(lite_on_fake_gpu):
    from helpers.weights import unit_weights

    model = lite_on_fake_gpu
    assert model.device.type == "cuda" and _composed_by_hand(model).device.type == "cuda"
    assert on_fake_gpu(unit_weights, model, "blocks.3.1:5", "blocks.3.2:20").device.type == "cpu"  # as capture's results


def test_a_spliced_model_runs_on_the_gpu(lite_on_fake_gpu):
    """Lesson 09's failing cell, end to end: the hand-built units replace three units inside a forward pass."""
    from helpers.interventions import cleanroom_spliced

    model, count = lite_on_fake_gpu, 3
    splice = CleanroomSplice("blocks.3.2", [0, 1, 2], np.array([0.0, 90.0, 180.0]), CurveDetectorSettings(radius=8.0, arc_length=16.0),
                             gain=np.ones(count), offset=np.zeros(count), blank=np.zeros(count), fit=np.ones(count),
                             stride=16.0, first_center=(7.5, 7.5))
    images = torch.rand(2, 3, 96, 96, device="cuda")
    with cleanroom_spliced(model, splice):
        # The network itself (model(...) first checks the images' values, which fake tensors do not have).
        logits = on_fake_gpu(lambda: model.module(model.preprocess(images)))
    assert logits.device.type == "cuda" and tuple(logits.shape) == (2, 1000)


def test_forward_only_helpers_follow_a_gpu_model(lite_on_fake_gpu):
    """Helpers of this engineer's modules that run without reading a value: no device mix on a GPU model.

    (Helpers that capture activations stop at capture's finiteness check, the first value read; helpers that
    take gradients cannot run on a fake GPU at all: autograd asks the real CUDA driver.)
    """
    from helpers.union_weights import weights_between
    from helpers.rotation import recentre, rotate_about
    from helpers.probing import Placement
    from helpers.universality import first_layer_filters

    model = lite_on_fake_gpu
    images = torch.rand(2, 3, 96, 96, device="cuda")
    assert on_fake_gpu(rotate_about, images, 30.0, (40.0, 50.0)).device.type == "cuda"
    assert on_fake_gpu(recentre, images[0], (30.0, 30.0), Placement("blocks.3.2", 64, (32.0, 32.0), 40.0)).device.type == "cuda"
    assert on_fake_gpu(weights_between, model, ["blocks.3.1:0"], ["blocks.3.2:1"]).device.type == "cpu"
    assert on_fake_gpu(first_layer_filters, model).device.type == "cpu"
