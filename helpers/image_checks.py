"""The one check of every image that enters a network: a float batch (N, C, H, W) in [0, 1], or a message saying how to convert."""
from __future__ import annotations

import torch

#: Images may stray this far outside [0, 1] (interpolation overshoot, jitter) before they are refused as
#: another scale (0..255, a normalised tensor such as torchvision's ``Normalize(0.5, 0.5)`` in [-1, 1], [0, 2]).
IMAGE_RANGE_TOLERANCE = (-0.1, 1.1)
_CONVERT_HINT = ("convert with helpers.images.to_image_tensor(array) (it takes HxW, HxWx3 or HxWx4 arrays, uint8, "
                 "uint16 or floats, and scales by the type's range) and stack images with torch.stack")



def check_images(images: object, *, channels: int | None = 3, what: str = "images") -> torch.Tensor:
    """Refuse anything but a batch of float images (N, C, H, W) in [0, 1], with a message saying how to convert.

    Checks the type, the shape (an (H, W, 3) array, channels last, one unbatched image, an alpha
    channel), the dtype (uint8 and other integers), NaN/infinite values and the value range (0..255
    floats). Returns the tensor unchanged. Values are not read on the ``meta`` device.
    """
    if not isinstance(images, torch.Tensor):
        shape = getattr(images, "shape", None)
        described = f"a {type(images).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")
        raise TypeError(f"{what} must be a torch tensor (N, 3, H, W) of floats in [0, 1], got {described}: {_CONVERT_HINT}.")
    shape = tuple(images.shape)
    if images.dim() == 3:
        if shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4):
            fix = "an (H, W, C) image: use to_image_tensor(image)[None] (or image.permute(2, 0, 1)[None] for floats in [0, 1])"
        else:
            fix = "one image without a batch dimension: pass image[None] (or torch.stack for several)"
        raise ValueError(f"{what} must be a batch (N, 3, H, W); got shape {shape}, {fix}.")
    if images.dim() != 4:
        raise ValueError(f"{what} must be a batch (N, 3, H, W) of images in [0, 1]; got shape {shape}: {_CONVERT_HINT}.")
    if channels is not None and shape[1] != channels:
        if shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4):
            fix = "the channels come last (N, H, W, C): use images.permute(0, 3, 1, 2)"
        elif shape[1] == 4 and channels == 3:
            fix = "4 channels is RGBA: drop the alpha channel with images[:, :3] (to_image_tensor does it for arrays)"
        elif shape[1] == 1 and channels == 3:
            fix = "1 channel is greyscale: repeat it with images.expand(-1, 3, -1, -1)"
        else:
            fix = _CONVERT_HINT
        raise ValueError(f"{what} must have {channels} channels (N, {channels}, H, W); got shape {shape}: {fix}.")
    if not images.is_floating_point():
        scale = {torch.uint8: "255", torch.bool: "1"}.get(images.dtype, "the largest value the type holds")
        raise TypeError(f"{what} are {images.dtype}, but the course's models take floats in [0, 1]: use "
                        f"images.float() / {scale}, or {_CONVERT_HINT}.")
    if images.device.type == "meta" or images.numel() == 0:
        return images
    with torch.no_grad():
        values = images.detach()
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(f"{what} hold NaN or infinite values ({bad} of {values.numel()} entries); every activation "
                             f"would be NaN. Find where they came from (a division by zero, a failed load) and fix them.")
        low, high = (float(v) for v in torch.aminmax(values))
    if low < IMAGE_RANGE_TOLERANCE[0] or high > IMAGE_RANGE_TOLERANCE[1]:
        guess = (" (it looks like 0..255: divide by 255)" if high > 2 and low >= 0 and high <= 255 else
                 " (it looks normalised to [-1, 1]: use (images + 1) / 2)" if low >= -1.01 and high <= 1.01 and low < 0 else
                 " (it looks like [0, 2]: divide by 2)" if low >= 0 and high <= 2.01 else "")
        raise ValueError(f"{what} range from {low:.4g} to {high:.4g}, but the course's models take images in [0, 1]"
                         f"{guess}; {_CONVERT_HINT}. The model's own preprocessing does the normalisation.")
    return images
