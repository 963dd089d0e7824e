"""How fast does :func:`helpers.dataset_examples.scan_layer` stream images, against the machine's limit?

Prints, for one layer of a model on the offline patches:

- images/s of a full scan (top-k, band reservoir, histograms, statistics) and of the forward pass
  alone (stopped at the layer), so the scanner's own overhead is visible;
- the forward FLOPs per image up to the layer, counted with ``torch.utils.flop_counter.FlopCounterMode``;
- the peak float32 matmul rate of this machine (a large square ``torch.mm``), and the fraction of the
  forward-only FLOP limit (peak / FLOPs per image) that the scan reaches.

Usage: ``python benchmarks/dataset_examples_speed.py --model efficientnet_lite0 --layer blocks.3.2 --images 256``
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers.activations import capture
from helpers.dataset_examples import scan_layer
from helpers.images import offline_patches
from helpers.zoo import load_model


def peak_matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of ``size`` x ``size`` matrix products on this machine (2 n^3 FLOPs each)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def forward_flops_per_image(model, layer: str, size: int) -> float:
    """FLOPs of one image's forward pass, stopped at ``layer``."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        capture(model, torch.rand(1, 3, size, size), layer)
    return float(counter.get_total_flops())


def forward_images_per_second(model, layer: str, source) -> float:
    """Images/s of the forward pass alone (reading images included) over the whole source."""
    start = time.perf_counter()
    with torch.inference_mode():
        for images in source:
            capture(model, images, layer)
    return len(source) / (time.perf_counter() - start)


def main() -> None:
    """Run the benchmark from the command line and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--layer", default="blocks.3.2")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = load_model(args.model)
    source = offline_patches(args.images, size=args.size, batch_size=args.batch_size)
    peak = peak_matmul_gflops()
    flops = forward_flops_per_image(model, args.layer, args.size)
    limit = peak * 1e9 / flops

    forward_only = forward_images_per_second(model, args.layer, source)
    start = time.perf_counter()
    examples = scan_layer(model, args.layer, source, cache=False, progress=False)
    scan_rate = len(source) / (time.perf_counter() - start)

    print(f"{args.model} {args.layer}: {examples.channels} units, {args.images} images at {args.size} px, "
          f"{torch.get_num_threads()} threads")
    print(f"peak float32 matmul       {peak:10.1f} GFLOP/s")
    print(f"forward FLOPs per image   {flops / 1e9:10.3f} GFLOP (to {args.layer})")
    print(f"forward-only FLOP limit   {limit:10.1f} images/s")
    print(f"forward pass alone        {forward_only:10.1f} images/s  ({forward_only / limit:.1%} of the limit)")
    print(f"full scan                 {scan_rate:10.1f} images/s  ({scan_rate / limit:.1%} of the limit, "
          f"{scan_rate / forward_only:.0%} of the forward-only rate)")
    print(f"stored state              {examples.nbytes / 1e6:10.2f} MB (independent of the number of images)")


if __name__ == "__main__":
    main()
