"""Render and scan speed on each device (CPU, CUDA GPU), at the settings of issue 24, side by side.

Usage: python benchmarks/device_speed.py [--devices cpu,cuda] [--model efficientnet_lite0] [--layer blocks.3.2]
       [--units 16] [--steps 256] [--size 128] [--crops 2000] [--crop-size 224] [--batch-size 64] [--threads N]

For each device (default: the CPU, and the GPU when there is one), prints:
- render: seconds for ``--units`` units x ``--steps`` steps at ``--size`` px in one batch
  (:func:`helpers.featurevis.render`, standard transforms), after a 2-step warm-up, and unit-steps/s;
  the peak GPU memory on a GPU;
- scan: seconds for ``--crops`` random crops at ``--crop-size`` px, split into reading the images alone
  (decoding and cropping, on the CPU whatever the device), the forward pass to the layer alone, and the
  full :func:`helpers.dataset_examples.scan_layer` (forward plus the running statistics), so it shows
  which of the three limits the scan.
Then the ratio CPU / GPU for each. On a GPU every timed block ends with ``torch.cuda.synchronize()``.
The model's weights do not change the speed; the trained weights are used when present.
"""
from __future__ import annotations

import argparse
import time

import torch

from helpers.activations import capture
from helpers.dataset_examples import scan_layer
from helpers.featurevis import neuron, render
from helpers.images import offline_patches
from helpers.zoo import load_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work) -> float:
    """Seconds that ``work()`` takes on ``device``, queued GPU work included."""
    _sync(device)
    start = time.perf_counter()
    work()
    _sync(device)
    return time.perf_counter() - start


def render_seconds(model, layer: str, units: int, steps: int, size: int) -> float:
    """Seconds to render ``units`` units of ``layer`` in one batch (after a short warm-up)."""
    objectives = [neuron(layer, c) for c in range(units)]
    render(model, objectives, steps=2, size=size, progress=False, redirect_steps=1)
    return timed(model.device, lambda: render(model, objectives, steps=steps, size=size, progress=False))


def scan_seconds(model, layer: str, crops: int, size: int, batch_size: int) -> dict[str, float]:
    """Seconds to read the crops alone, to run the forward pass on them alone, and to scan them."""
    source = offline_patches(crops, size=size, batch_size=batch_size)
    reading = timed(model.device, lambda: [None for _ in source])

    def forward() -> None:
        with torch.inference_mode():
            for images in source:
                capture(model, images, layer)

    return {"read images": reading, "forward (with reading)": timed(model.device, forward),
            "full scan": timed(model.device, lambda: scan_layer(model, layer, source, cache=False, progress=False))}


def main() -> None:
    """Run the benchmark on each device and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu",
                        help="comma-separated devices (default: cpu, and cuda when there is one)")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--layer", default="blocks.3.2")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--crops", type=int, default=2000)
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if any(d.startswith("cuda") for d in devices) and not torch.cuda.is_available():
        raise SystemExit("--devices asks for cuda, but this machine has no CUDA GPU PyTorch can use.")
    figures: dict[str, dict[str, float]] = {}
    for name in devices:
        model = load_model(args.model, device=name, verbose=False)
        device = model.device
        label = f"{name} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f"{name} ({torch.get_num_threads()} threads)"
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        row = {"render": render_seconds(model, args.layer, args.units, args.steps, args.size)}
        if device.type == "cuda":
            row["render peak GPU MB"] = torch.cuda.max_memory_allocated(device) / 2**20
        row |= scan_seconds(model, args.layer, args.crops, args.crop_size, args.batch_size)
        figures[label] = row
        print(f"{label}: render {args.units} units x {args.steps} steps at {args.size} px: {row['render']:.1f} s "
              f"({args.units * args.steps / row['render']:.0f} unit-steps/s)"
              + (f", peak GPU memory {row['render peak GPU MB']:.0f} MB" if "render peak GPU MB" in row else ""), flush=True)
        print(f"{label}: scan of {args.crops} crops at {args.crop_size} px: " +
              ", ".join(f"{k} {row[k]:.1f} s" for k in ("read images", "forward (with reading)", "full scan")), flush=True)
    if len(figures) > 1:
        (first, a), *others = figures.items()
        for other, b in others:
            print(f"{first} / {other}: render {a['render'] / b['render']:.1f}x, scan {a['full scan'] / b['full scan']:.1f}x, "
                  f"forward {a['forward (with reading)'] / b['forward (with reading)']:.1f}x")


if __name__ == "__main__":
    main()
