"""The clean-room splice: hand-written curve units, calibrated to a family's members, in place of them."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..models import CircuitModel
from ..stats import pearson
from .edits import spliced


@dataclass(frozen=True)
class CleanroomSplice:
    """Hand-built curve units ready to stand in for a family: one per member, calibrated to it.

    Member ``f``'s activation becomes ``clamp(blank[f] + gain[f] * cleanroom_f + offset[f], low, high)``,
    where ``cleanroom_f`` is the hand-built unit turned to the member's preferred orientation and
    ``gain``/``offset`` are fitted (least squares) on the family's own screen stimuli.
    """

    layer: str
    channels: list[int]
    orientations: np.ndarray
    settings: object  # a CurveDetectorSettings
    gain: np.ndarray
    offset: np.ndarray
    blank: np.ndarray
    fit: np.ndarray  # (F,) correlation of the calibrated hand-built unit with the member on the screen
    low: float = 0.0
    high: float = 6.0
    stride: float = 16.0
    first_center: tuple[float, float] = (0.0, 0.0)  # (x, y) pixel centre of map position (0, 0)

    def key(self) -> str:
        """A description of the splice for the model's fingerprint."""
        return f"cleanroom {self.settings} {np.round(self.orientations, 3).tolist()} {np.round(self.gain, 6).tolist()}"

    def raw_maps(self, images: torch.Tensor, size: tuple[int, int], orientations: np.ndarray | None = None) -> torch.Tensor:
        """Hand-built units' pre-activation (N, F, h, w) at each map position's receptive-field centre."""
        from ..cleanroom import curve_kernel, line_energy

        settings = self.settings
        orientations = self.orientations if orientations is None else orientations
        kernels = torch.stack([curve_kernel(settings.rotated_to(float(o)), images.device) for o in orientations])  # (F, D, k, k)
        half = kernels.shape[-1] // 2
        energy = line_energy(images, settings.orientations, settings.line_scale)
        h, w = size
        stride = int(round(self.stride))
        x0, y0 = int(np.floor(self.first_center[0])), int(np.floor(self.first_center[1]))
        need_y, need_x = y0 + (h - 1) * stride + half + 1, x0 + (w - 1) * stride + half + 1
        pad = max(half, 0)
        extra_y, extra_x = max(0, need_y - energy.shape[-2]), max(0, need_x - energy.shape[-1])
        padded = torch.nn.functional.pad(energy, (pad, extra_x, pad, extra_y))
        top, left = y0 - half + pad, x0 - half + pad
        if top < 0 or left < 0:
            padded = torch.nn.functional.pad(padded, (max(0, -left), 0, max(0, -top), 0))
            top, left = max(top, 0), max(left, 0)
        window = padded[..., top : top + (h - 1) * stride + 2 * half + 1, left : left + (w - 1) * stride + 2 * half + 1]
        return torch.nn.functional.conv2d(window, kernels, stride=stride)[..., :h, :w]

    def compute(self, images: torch.Tensor, size: tuple[int, int], orientations: np.ndarray | None = None) -> torch.Tensor:
        """The calibrated activation (N, F, h, w) that replaces the members."""
        raw = self.raw_maps(images, size, orientations).double()
        as_column = lambda v: torch.as_tensor(v, dtype=torch.float64, device=raw.device).view(1, -1, 1, 1)  # noqa: E731
        value = as_column(self.blank) + as_column(self.gain) * raw + as_column(self.offset)
        return value.clamp(self.low, self.high).float()


def fit_cleanroom_splice(model: CircuitModel, family: "object", settings: "object | None" = None, *,
                         orientations: int = 16, batch_size: int = 64) -> CleanroomSplice:
    """Hand-built units for each member of a curve family, calibrated to it (see :class:`CleanroomSplice`).

    Calibration images: dark curves on a white ground at the family's placement, ``orientations``
    directions offset by half a step from the screen's (so not the stimuli later tested) at every
    radius of the screen, and straight lines; each member's pre-activation minus the blank image's is
    fitted as gain x hand-built response + offset.
    """
    from dataclasses import replace

    from ..cleanroom import settings_for_family
    from ..dataset_examples import field_geometry
    from ..stimuli.curves import blank, curve, line
    from ..probing import unit_responses

    settings = settings or settings_for_family(family)
    screen = family.screen
    placement = screen.placement
    geometry = field_geometry(model, family.layer, placement.size)
    top, left, bottom, right = geometry.box(0, 0)
    activation = model.layer(family.layer).module_path
    high = 6.0 if isinstance(model.module.get_submodule(activation), nn.ReLU6) else float("inf")
    count = len(family)
    splice = CleanroomSplice(family.layer, family.channels, np.asarray(family.orientations, dtype=np.float64), settings,
                             np.zeros(count), np.zeros(count), np.zeros(count), np.zeros(count),
                             high=high, stride=geometry.stride, first_center=((left + right) / 2, (top + bottom) / 2))
    if not count:
        return splice
    style = {"length": float(screen.style["length"]), "width": float(screen.style["width"]), "foreground": 0.0, "background": 1.0}
    step = 360.0 / orientations
    images = [curve(placement.size, orientation=step / 2 + i * step, radius=float(r), center=placement.center, **style)
              for i in range(orientations) for r in screen.radii]
    images += [line(placement.size, angle=float(a), center=placement.center, **style) for a in np.arange(0, 180, step)]
    images = torch.stack(images + [blank(placement.size, 1.0)])
    real = unit_responses(model, family.units, images, pre_activation=True, batch_size=batch_size).numpy().astype(np.float64)
    real, resting = real[:-1] - real[-1], real[-1]
    _, rows, cols = model.layer_shapes(placement.size)[family.layer]
    centre = replace(splice, first_center=(splice.first_center[0] + (cols // 2) * geometry.stride,
                                           splice.first_center[1] + (rows // 2) * geometry.stride))
    raw = centre.raw_maps(images[:-1], (1, 1))[:, :, 0, 0].double().cpu().numpy()  # (N, F) at the centre unit only
    gains, offsets, fits = [], [], []
    for f in range(count):
        x, y = raw[:, f], real[:, f]
        (gain, offset), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)
        gains.append(gain)
        offsets.append(offset)
        fits.append(pearson(x, y))
    return replace(splice, gain=np.asarray(gains), offset=np.asarray(offsets), blank=resting, fit=np.asarray(fits))


@contextmanager
def cleanroom_spliced(model: CircuitModel, splice: CleanroomSplice, *, orientation_offset: float = 0.0) -> Iterator[None]:
    """The family's members replaced by their calibrated hand-built units inside the ``with`` block.

    ``orientation_offset`` turns every hand-built unit (180: each prefers the opposite curve), a control.
    """
    orientations = (splice.orientations + orientation_offset) % 360
    if not len(splice.channels):
        yield None
        return
    with spliced(model, splice.layer, list(splice.channels), lambda images, size: splice.compute(images, size, orientations),
                 key=f"{splice.key()} offset {orientation_offset}"):
        yield None
