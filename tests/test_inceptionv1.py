"""InceptionV1: architecture against the reference facts, TF padding, labels, and the download path.

The reference facts (every state-dict name and shape, padding, layer shapes) are committed in
data/reference/inceptionv1.json. Downloads go to a local HTTP server.
"""
from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import helpers.inceptionv1 as inception
import helpers.inceptionv1_weights as inception_weights
from helpers.config import REPO_ROOT
from helpers.download import DownloadError
from helpers.files import WeightsFileError, file_sha256

REFERENCE = REPO_ROOT / "data" / "reference" / "inceptionv1.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def random_model():
    return inception_weights.build_inceptionv1(seed=0)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> Path:
    """Point every InceptionV1 path at an empty folder, and allow (local) downloads."""
    folder = tmp_path / "weights"
    monkeypatch.setattr(inception_weights, "WEIGHTS_DIR", folder)
    monkeypatch.delenv("CIRCUITS_OFFLINE", raising=False)
    return folder


@pytest.fixture(scope="module")
def weights_bytes() -> bytes:
    """A random state dict with the real names and shapes, serialised like the published file."""
    generator = torch.Generator().manual_seed(1)
    shapes = {name: t.shape for name, t in inception.InceptionV1().state_dict().items()}
    state = {name: torch.randn(shape, generator=generator) * 0.01 for name, shape in shapes.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _label_lines() -> list[str]:
    return ["dummy"] + [f"name of class {i}" for i in range(1, 1001)]


def _labels_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("tensorflow_inception_graph.pb", b"not used")
        bundle.writestr(inception_weights.LABELS_MEMBER, "\n".join(_label_lines()) + "\n")
    return buffer.getvalue()


# --- architecture ------------------------------------------------------------------------------

def test_state_dict_names_and_shapes_match_the_reference(reference, random_model):
    expected = reference["state_dict_shapes"]
    state = random_model.module.state_dict()
    assert list(state) == list(expected)  # same names, in the published order
    assert {name: list(t.shape) for name, t in state.items()} == expected
    assert len(state) == reference["weights"]["num_tensors"] == 116
    assert sum(t.numel() for t in state.values()) == reference["weights"]["num_parameters"] == 7_066_380


def test_a_state_dict_with_the_reference_shapes_loads_strictly(reference):
    generator = torch.Generator().manual_seed(0)
    state = {name: torch.randn(shape, generator=generator) for name, shape in reference["state_dict_shapes"].items()}
    model = inception_weights.build_inceptionv1(state)
    for name, tensor in model.module.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_layer_shapes_and_logits_at_224(reference, random_model):
    shapes = random_model.layer_shapes(224)
    assert random_model.layer_names == list(reference["layers_output_shape_at_224"])
    assert {name: list(shape) for name, shape in shapes.items()} == reference["layers_output_shape_at_224"]
    assert all(random_model.channels(name) == shape[0] for name, shape in shapes.items())
    assert random_model(torch.rand(2, 3, 224, 224)).shape == (2, 1008)
    assert len(random_model.labels) == 1008


def test_other_input_sizes_run_through_the_classifier(random_model):
    # The graph's 7x7 average pool is an adaptive one here: identical at 224, still defined at 128.
    assert random_model.layer_shapes(128)["mixed5b"] == (1024, 4, 4)
    assert random_model(torch.rand(1, 3, 128, 128)).shape == (1, 1008)


def test_every_padding_matches_tensorflow_same(reference, random_model):
    modules = dict(random_model.module.named_modules())
    listed = {entry["padded_input_of"]: entry for entry in reference["padding_tf_same"]}
    for name, entry in listed.items():
        module = modules[name]
        assert module.tf_padding == tuple(entry["pad_left_right_top_bottom"]), name
        assert module.pad_value == float(entry["fill"]), name
    for name, module in modules.items():  # everything else is unpadded
        if hasattr(module, "tf_padding") and name not in listed:
            assert module.tf_padding == (0, 0, 0, 0), name


def test_stride2_max_pool_pads_with_minus_infinity_like_tensorflow(random_model):
    pool = random_model.module.maxpool0
    x = -1 - torch.rand(1, 2, 6, 6)  # all negative, so a zero fill would show up as 0 at the border
    out = pool(x)
    assert out.shape == (1, 2, 3, 3)  # TF SAME: ceil(6 / 2)
    for i in range(3):
        for j in range(3):  # window rows 2i..2i+2, cut at the border (TF pads bottom/right only)
            expected = x[:, :, 2 * i : min(2 * i + 3, 6), 2 * j : min(2 * j + 3, 6)].amax(dim=(2, 3))
            assert torch.equal(out[:, :, i, j], expected)
    assert (out < 0).all()


def test_convolution_padding_equals_explicit_zero_padding(random_model):
    net = random_model.module
    x = torch.randn(1, 3, 20, 20)
    conv0 = net.conv2d0_pre_relu_conv  # uneven padding (2, 3, 2, 3)
    manual = F.conv2d(F.pad(x, (2, 3, 2, 3)), conv0.weight, conv0.bias, stride=2)
    assert torch.allclose(conv0(x), manual, atol=1e-5)
    conv5 = net.mixed3a_5x5_pre_relu_conv  # even padding, done natively by nn.Conv2d
    y = torch.randn(1, 16, 9, 9)
    manual = F.conv2d(F.pad(y, (2, 2, 2, 2)), conv5.weight, conv5.bias)
    assert torch.allclose(conv5(y), manual, atol=1e-5)


def test_preprocessing_maps_unit_range_to_the_graphs_range(random_model):
    x = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)
    assert torch.allclose(random_model.preprocess(x).flatten(), x.flatten() * 255 - 117, atol=1e-4)


def test_one_local_response_norm_setting_is_used_everywhere(random_model):
    norms = [m for m in random_model.module.modules() if isinstance(m, nn.LocalResponseNorm)]
    assert len(norms) == 2
    for norm in norms:
        assert (norm.size, norm.alpha, norm.beta, norm.k) == tuple(inception.LOCAL_RESPONSE_NORM[k] for k in ("size", "alpha", "beta", "k"))


def test_layers_are_parameterless_relus_seeing_pre_and_post_activations(random_model):
    net = random_model.module
    seen = {}
    hooks = [getattr(net, name).register_forward_hook(lambda _m, i, o, name=name: seen.__setitem__(name, (i[0], o)))
             for name in ("conv2d0", "mixed3b")]
    branch_ends = {}
    for branch, chain in inception.branch_modules("mixed3b").items():
        hooks.append(getattr(net, chain[-1]).register_forward_hook(
            lambda _m, _i, o, branch=branch: branch_ends.__setitem__(branch, o)))
    try:
        random_model(torch.rand(1, 3, 224, 224))
    finally:
        for hook in hooks:
            hook.remove()
    for layer in random_model.layers:
        module = getattr(net, layer.name)
        assert isinstance(module, nn.ReLU) and not list(module.parameters())
        assert layer.module_path == layer.pre_activation_path == layer.name
    for pre, post in seen.values():
        assert (pre < 0).any() and torch.equal(post, pre.clamp(min=0))
    concatenated = torch.cat([branch_ends[b] for b in ("1x1", "3x3", "5x5", "pool_reduce")], dim=1)
    assert torch.equal(seen["mixed3b"][1], concatenated.clamp(min=0))


def test_tables_name_real_modules(random_model):
    modules = dict(random_model.module.named_modules())
    for layer, (previous, between) in inception.LAYER_INPUTS.items():
        assert previous in modules and all(name in modules for name in between), layer
    for layer, block in inception.MIXED_BLOCKS.items():
        chains = inception.branch_modules(layer)
        assert all(name in modules for chain in chains.values() for name in chain)
        assert modules[chains["3x3"][-1]].out_channels == block.conv_3x3
        assert modules[chains["1x1"][0]].in_channels == block.in_channels
    with pytest.raises(ValueError, match="not a mixed layer"):
        inception.branch_modules("conv2d0")


def test_describe_unit_names_the_branch(reference, random_model):
    shapes = reference["state_dict_shapes"]
    widths = [shapes[f"mixed3b_{b}_pre_relu_conv.weight"][0] for b in ("1x1", "3x3", "5x5", "pool_reduce")]
    assert widths == [128, 192, 96, 64]  # so 1x1 = 0-127, 3x3 = 128-319, 5x5 = 320-415, pool = 416-479
    cases = {0: ("1x1", 0), 127: ("1x1", 127), 128: ("3x3", 0), 319: ("3x3", 191), 320: ("5x5", 0),
             415: ("5x5", 95), 416: ("pool_reduce", 0), 479: ("pool_reduce", 63)}
    for channel, (branch, offset) in cases.items():
        assert random_model.describe_unit(f"mixed3b:{channel}").endswith(f"channel {offset} of branch {branch})")
    # mixed4d: 1x1 has 112 channels, so channel 123 is the 3x3 branch's channel 11
    assert "channel 11 of branch 3x3" in random_model.describe_unit("mixed4d:123")
    assert "branch" not in random_model.describe_unit("conv2d1:5")


def test_wrong_shape_state_dict_is_refused_with_the_tensor_name():
    state = inception.InceptionV1().state_dict()
    state["mixed4a_3x3_pre_relu_conv.bias"] = torch.zeros(200)
    with pytest.raises(WeightsFileError, match="mixed4a_3x3_pre_relu_conv.bias"):
        inception_weights.build_inceptionv1(state)


# --- labels ------------------------------------------------------------------------------------

def test_label_file_line_i_names_output_i(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(_label_lines()) + "\n")
    labels = inception_weights.read_labels(path)
    assert len(labels) == 1008
    assert labels[0] == "dummy" and labels[1] == "name of class 1" and labels[1000] == "name of class 1000"
    assert labels[1001:] == ["unused"] * 7
    path.write_text("dummy\nkit fox\n")
    with pytest.raises(ValueError, match="has 2 lines"):
        inception_weights.read_labels(path)


def test_model_uses_the_label_file_when_present(weights_dir):
    weights_dir.mkdir()
    inception_weights.labels_file().write_text("\n".join(_label_lines()))
    labels = inception_weights.build_inceptionv1().labels
    assert labels[5] == "name of class 5" and labels[1007] == "unused"


# --- downloading -------------------------------------------------------------------------------

def test_download_then_load(http_server, weights_dir, weights_bytes, capsys):
    (http_server.root / "inception5h.pth").write_bytes(weights_bytes)
    (http_server.root / "inception5h.zip").write_bytes(_labels_zip())
    path = inception_weights.download_weights(http_server.url("inception5h.pth"), http_server.url("inception5h.zip"), progress=False)
    assert path == inception_weights.weights_file() and path.read_bytes() == weights_bytes
    record = json.loads(inception_weights.record_file().read_text())
    assert record["sha256"] == file_sha256(path) and record["url"] == http_server.url("inception5h.pth")
    assert sorted(p.name for p in weights_dir.iterdir()) == sorted(
        [path.name, inception_weights.record_file().name, inception_weights.LABELS_MEMBER])

    model = inception_weights.load_inceptionv1(progress=False)
    saved = torch.load(io.BytesIO(weights_bytes), weights_only=True)
    assert torch.equal(model.module.mixed4d_5x5_pre_relu_conv.weight, saved["mixed4d_5x5_pre_relu_conv.weight"])
    assert model.labels[3] == "name of class 3"
    assert "Note" not in capsys.readouterr().out


def test_load_downloads_when_missing_and_notes_missing_labels(http_server, weights_dir, weights_bytes, monkeypatch, capsys):
    (http_server.root / "inception5h.pth").write_bytes(weights_bytes)
    monkeypatch.setattr(inception_weights, "WEIGHTS_URL", http_server.url("inception5h.pth"))
    monkeypatch.setattr(inception_weights, "LABELS_URL", http_server.url("no-such-labels.zip"))
    model = inception_weights.load_inceptionv1(progress=False)
    out = capsys.readouterr().out
    assert "labels not downloaded" in out and "HTTP 404" in out
    assert "Note: no InceptionV1 label file" in out
    assert model.labels[:2] == ["class 0", "class 1"]


def test_truncated_download_is_not_kept(http_server, weights_dir, weights_bytes):
    (http_server.root / "inception5h.pth").write_bytes(weights_bytes)
    http_server.cut_after["inception5h.pth"] = len(weights_bytes) // 2
    with pytest.raises(DownloadError, match="cut short|broke off"):
        inception_weights.download_weights(http_server.url("inception5h.pth"), labels=False, progress=False)
    assert not weights_dir.exists() or list(weights_dir.iterdir()) == []


def test_download_with_a_wrong_shape_is_not_kept(http_server, weights_dir):
    state = inception.InceptionV1().state_dict()
    state["mixed5b_1x1_pre_relu_conv.weight"] = torch.zeros(10, 832, 1, 1)
    torch.save(state, http_server.root / "inception5h.pth")
    with pytest.raises(DownloadError, match="mixed5b_1x1_pre_relu_conv.weight"):
        inception_weights.download_weights(http_server.url("inception5h.pth"), labels=False, progress=False)
    assert list(weights_dir.iterdir()) == []


def test_corrupt_file_on_disk_is_a_clear_error(weights_dir, weights_bytes):
    weights_dir.mkdir()
    inception_weights.weights_file().write_bytes(weights_bytes[: len(weights_bytes) // 3])
    with pytest.raises(WeightsFileError, match="truncated or corrupt"):
        inception_weights.load_inceptionv1(progress=False)


def test_file_changed_since_download_is_detected(http_server, weights_dir, weights_bytes):
    (http_server.root / "inception5h.pth").write_bytes(weights_bytes)
    inception_weights.download_weights(http_server.url("inception5h.pth"), labels=False, progress=False)
    state = torch.load(inception_weights.weights_file(), weights_only=True)
    state["conv2d0_pre_relu_conv.bias"] += 1
    torch.save(state, inception_weights.weights_file())
    with pytest.raises(WeightsFileError, match="changed since it was downloaded"):
        inception_weights.load_inceptionv1(progress=False)


def test_no_network_gives_a_clear_error(http_server, weights_dir, monkeypatch):
    monkeypatch.setattr(inception_weights, "WEIGHTS_URL", http_server.url("inception5h.pth"))
    http_server.stop()
    with pytest.raises(FileNotFoundError, match="download failed: no connection") as caught:
        inception_weights.load_inceptionv1(progress=False)
    assert str(inception_weights.weights_file()) in str(caught.value)
    assert not weights_dir.exists() or list(weights_dir.iterdir()) == []


def test_offline_missing_weights_names_file_url_and_makes_no_request(http_server, weights_dir, monkeypatch):
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as caught:
        inception_weights.load_inceptionv1(progress=False)
    message = str(caught.value)
    assert "CIRCUITS_OFFLINE" in message and str(inception_weights.weights_file()) in message
    assert inception_weights.WEIGHTS_URL in message and "prepare_data.py" in message
    with pytest.raises(DownloadError, match="CIRCUITS_OFFLINE"):
        inception_weights.download_weights(http_server.url("inception5h.pth"), progress=False)
    assert http_server.requests == []


def test_random_build_is_seeded():
    first = inception_weights.build_inceptionv1(seed=3).module.conv2d0_pre_relu_conv.weight
    again = inception_weights.build_inceptionv1(seed=3).module.conv2d0_pre_relu_conv.weight
    assert torch.equal(first, again)
    assert not math.isclose(float(first.sum()), float(inception_weights.build_inceptionv1(seed=4).module.conv2d0_pre_relu_conv.weight.sum()))


# --- local response normalisation against TensorFlow's formula ---------------------------------

def _tensorflow_lrn(x: torch.Tensor, depth_radius: int, bias: float, alpha: float, beta: float) -> torch.Tensor:
    """tf.nn.local_response_normalization written out (float64 loops, no PyTorch LRN call):

    sqr_sum[c] = sum(x[c'] ** 2 for c' in c - depth_radius .. c + depth_radius, inside the channel range)
    out[c] = x[c] / (bias + alpha * sqr_sum[c]) ** beta
    """
    x = x.double()
    channels = x.shape[1]
    out = torch.empty_like(x)
    for c in range(channels):
        window = range(max(0, c - depth_radius), min(channels, c + depth_radius + 1))
        sqr_sum = sum(x[:, d] ** 2 for d in window)
        out[:, c] = x[:, c] / (bias + alpha * sqr_sum) ** beta
    return out


def test_local_response_norm_is_tensorflows_formula(random_model):
    # The graph's LRN: depth_radius 5, bias 2, alpha 1e-4, beta 0.5 (inception5h's graph definition).
    generator = torch.Generator().manual_seed(0)
    for norm in (random_model.module.localresponsenorm0, random_model.module.localresponsenorm1):
        channels = 64 if norm is random_model.module.localresponsenorm0 else 192
        # Activations of the size LRN meets in the network (post-ReLU, up to a few hundred), so alpha * sum matters.
        x = torch.rand(2, channels, 5, 5, generator=generator) * 300
        expected = _tensorflow_lrn(x, depth_radius=5, bias=2.0, alpha=1e-4, beta=0.5)
        got = norm(x).double()
        relative = ((got - expected).abs() / expected.abs().clamp(min=1e-12)).max().item()
        assert relative < 1e-6, relative
        # The window matters: the old ports' settings (size 9, k 1; size 10, asymmetric) are measurably different.
        for size, k in ((9, 1.0), (10, 2.0)):
            other = nn.LocalResponseNorm(size, alpha=size * 1e-4, beta=0.5, k=k)(x).double()
            assert ((other - expected).abs() / expected.abs()).max().item() > 1e-3


def test_feature_visualization_swap_of_the_lrn_keeps_tensorflows_formula(random_model):
    from helpers.featurevis import BandedLocalResponseNorm

    x = torch.rand(1, 64, 6, 6, generator=torch.Generator().manual_seed(1)) * 300
    banded = BandedLocalResponseNorm(random_model.module.localresponsenorm0)(x).double()
    expected = _tensorflow_lrn(x, depth_radius=5, bias=2.0, alpha=1e-4, beta=0.5)
    assert ((banded - expected).abs() / expected.abs()).max().item() < 1e-5


def test_dataset_example_caches_change_with_the_lrn_setting(random_model, monkeypatch):
    # A scan cached with another LRN (no weights of its own) must not be served for this network.
    from helpers.dataset_examples import model_fingerprint

    before = model_fingerprint(random_model)
    monkeypatch.setattr(random_model.module.localresponsenorm0, "size", 10)
    assert model_fingerprint(random_model) != before
