"""Forward hooks taken off a network for a ``with`` block and put back (a pass that hooks already placed must not see)."""
from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

from torch import nn


@contextmanager
def hooks_paused(module: nn.Module) -> Iterator[None]:
    """Take every forward (pre-)hook off ``module``'s submodules for a ``with`` block, and put them back."""
    saved = [(m, m._forward_hooks, m._forward_pre_hooks) for m in module.modules()]
    try:
        for m, _, _ in saved:
            m._forward_hooks, m._forward_pre_hooks = OrderedDict(), OrderedDict()
        yield
    finally:
        for m, hooks, pre_hooks in saved:
            m._forward_hooks, m._forward_pre_hooks = hooks, pre_hooks
