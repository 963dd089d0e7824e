"""Where a unit looks in the input: receptive-field geometry and cropping to it.

:class:`FieldGeometry` maps a unit's map position to the input box it sees; :func:`field_geometry`
measures it for a layer (from :func:`helpers.activations.receptive_field`, cached per model, layer and
size); :func:`crop_box` cuts such a box out of an image, padding past its border.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..activations import receptive_field
from ..models import CircuitModel

#: The largest input size tried when looking for a receptive field that does not touch the border.
MAX_FIELD_SEARCH_SIZE = 1024


@dataclass(frozen=True)
class FieldGeometry:
    """Where a unit at map position (row, col) looks in the input: a box of ``height`` x ``width`` pixels.

    Its top-left corner is ``(offset_y + row * stride, offset_x + col * stride)``; the box may run
    past the image's border (deep layers see more than the image).
    """

    height: int
    width: int
    offset_y: float
    offset_x: float
    stride: float

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The input box (top, left, bottom, right) seen by the unit at map position (row, col)."""
        top = int(round(self.offset_y + row * self.stride))
        left = int(round(self.offset_x + col * self.stride))
        return top, left, top + self.height, left + self.width


def field_geometry(model: CircuitModel, layer: str, size: int) -> FieldGeometry:
    """The receptive-field geometry of ``layer`` for ``size``-pixel inputs.

    :func:`helpers.activations.receptive_field` gives the centre unit's box; it is measured at a
    larger input when the box touches the border (so it is not clipped), up to
    ``MAX_FIELD_SEARCH_SIZE`` pixels, then expressed as an offset and a stride.
    """
    probe = size
    while True:
        top, left, bottom, right = receptive_field(model, layer, probe)
        touches = top == 0 or left == 0 or bottom == probe or right == probe
        if not touches or probe * 2 > MAX_FIELD_SEARCH_SIZE:
            break
        probe *= 2
    _, rows, cols = model.layer_shapes(probe)[layer]
    stride = probe / rows
    return FieldGeometry(
        height=bottom - top,
        width=right - left,
        offset_y=top - (rows // 2) * stride,
        offset_x=left - (cols // 2) * stride,
        stride=stride,
    )


def crop_box(image: torch.Tensor, box: tuple[int, int, int, int], pad_value: float = 0.5) -> torch.Tensor:
    """Cut ``box`` (top, left, bottom, right) out of a (3, H, W) image, padding with ``pad_value`` past its border."""
    top, left, bottom, right = box
    _, h, w = image.shape
    patch = torch.full((image.shape[0], bottom - top, right - left), pad_value, dtype=image.dtype)
    src_top, src_left = max(top, 0), max(left, 0)
    src_bottom, src_right = min(bottom, h), min(right, w)
    if src_bottom > src_top and src_right > src_left:
        patch[:, src_top - top : src_bottom - top, src_left - left : src_right - left] = image[
            :, src_top:src_bottom, src_left:src_right
        ]
    return patch

