"""Dataset examples: the images that make each unit of a layer fire, found in one streaming pass.

:func:`scan_layer` runs a layer over an :class:`~helpers.images.ImageSource` once and keeps, for
*every* unit of the layer at the same time (:func:`scan_layers` does several layers in the same pass):

- the ``max_examples`` images with the largest activation (the unit's maximum over positions), with the
  position of that maximum;
- a *band* of moderately activating images (by default between the 50th and 90th percentile of the
  per-image maximum): what the unit does on ordinary inputs, not only on its favourite ones;
- a histogram of its activation over all positions, its mean and standard deviation, and the
  fraction of positions where it fires (value > 0, i.e. non-zero after the ReLU).

Memory stays fixed however many images stream past:

- top-k: a (units, k) table merged with each batch;
- band: one *reservoir sample* (Vitter's algorithm R) of ``reservoir`` images shared by all units,
  storing each unit's maximum and its position on those images. At the end the percentiles are
  read from the reservoir (exact while the source has at most ``reservoir`` images, otherwise a
  uniform random sample's estimate, within about ``1/sqrt(reservoir)`` in rank) and the band
  members are reservoir images whose value lies between them, spread evenly over the band;
- histogram: ``bins`` fixed-width bins per unit starting at ``min(0, first value)``; when a value
  falls past the top, the range doubles and neighbouring bins merge in pairs (so the counts stay
  exactly those of binning every value with the final edges); likewise at the bottom.

Only image indices and positions are stored, never pixels: ``source[i]`` reads an image again, and
the patches are cropped to the unit's receptive field around the position of its maximum.
Results are cached in ``data/cache/`` keyed by the model (name and a fingerprint of its weights),
layer, source and every setting.

Modules, one job each (each imports only those listed before it): :mod:`.geometry` (receptive-field
boxes and cropping), :mod:`.examples` (the :class:`DatasetExamples` result container),
:mod:`.histogram` (the streaming histogram), :mod:`.cache` (model fingerprint, cache files),
:mod:`.scan` (:func:`scan_layer` and :func:`scan_layers`).
"""
from .cache import FORMAT_VERSION, cache_path, load_cache, model_fingerprint, save_cache
from .examples import DatasetExamples
from .geometry import MAX_FIELD_SEARCH_SIZE, FieldGeometry, crop_box, field_geometry
from .histogram import StreamingHistogram
from .scan import ScanSettings, scan_layer, scan_layers

__all__ = [
    "scan_layer", "scan_layers", "ScanSettings", "DatasetExamples", "FieldGeometry", "field_geometry", "crop_box",
    "MAX_FIELD_SEARCH_SIZE", "StreamingHistogram", "cache_path", "model_fingerprint", "load_cache", "save_cache",
    "FORMAT_VERSION",
]
