"""Fast and offline switches, seeding and data paths."""
from __future__ import annotations

import torch

from helpers import config


def test_fast_and_offline_flags(monkeypatch) -> None:
    monkeypatch.setenv("CIRCUITS_FAST", "1")
    assert config.is_fast() and config.fast_or_full(1, 2) == 1
    monkeypatch.setenv("CIRCUITS_FAST", "0")
    assert not config.is_fast() and config.fast_or_full(1, 2) == 2
    monkeypatch.setenv("CIRCUITS_OFFLINE", "true")
    assert config.is_offline()


def test_seed_everything_is_repeatable() -> None:
    g1 = config.seed_everything(5)
    a = torch.rand(3, generator=g1), torch.rand(3)
    g2 = config.seed_everything(5)
    b = torch.rand(3, generator=g2), torch.rand(3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_data_paths_do_not_depend_on_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config.WEIGHTS_DIR.is_absolute() and config.WEIGHTS_DIR.parent == config.DATA_DIR


# --- the device (issue 17 point 6): chosen automatically, overridden by CIRCUITS_DEVICE ---------

def _machine(monkeypatch, *, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(config, "cuda_available", lambda: cuda)
    monkeypatch.setattr(config, "mps_available", lambda: mps)
    monkeypatch.setattr(config.torch.cuda, "device_count", lambda: 2 if cuda else 0)


def test_best_device_is_cuda_then_mps_then_cpu(monkeypatch) -> None:
    monkeypatch.delenv("CIRCUITS_DEVICE", raising=False)
    _machine(monkeypatch, cuda=True, mps=True)
    assert config.select_device() == config.torch.device("cuda")
    _machine(monkeypatch, cuda=False, mps=True)
    assert config.select_device() == config.torch.device("mps")
    _machine(monkeypatch, cuda=False, mps=False)
    assert config.select_device() == config.torch.device("cpu")


def test_circuits_device_overrides_and_is_checked(monkeypatch) -> None:
    import pytest

    _machine(monkeypatch, cuda=True, mps=False)
    for value, expected in (("cpu", "cpu"), (" CUDA ", "cuda"), ("cuda:1", "cuda:1")):
        monkeypatch.setenv("CIRCUITS_DEVICE", value)
        assert config.select_device() == config.torch.device(expected)
    monkeypatch.setenv("CIRCUITS_DEVICE", "gpu")
    with pytest.raises(ValueError, match="CIRCUITS_DEVICE='gpu' is not understood; use one of cpu, cuda, mps"):
        config.select_device()
    monkeypatch.setenv("CIRCUITS_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="no MPS device.*CIRCUITS_DEVICE=cpu"):
        config.select_device()
    monkeypatch.setenv("CIRCUITS_DEVICE", "cuda:7")
    with pytest.raises(RuntimeError, match="2 CUDA device"):
        config.select_device()
    _machine(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("CIRCUITS_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        config.select_device()
    assert config.select_device("cpu") == config.torch.device("cpu")  # an argument wins over the variable
