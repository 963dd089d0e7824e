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
