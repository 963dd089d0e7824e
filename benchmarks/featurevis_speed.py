"""How fast is feature visualization on this CPU? Prints unit-steps per second and % of matmul peak.

Usage: python benchmarks/featurevis_speed.py [--steps 6] [--threads N] [--batch 16] [--size 128]

For InceptionV1 (random weights) at mixed3b and EfficientNet-Lite0 at blocks.2.1 (the layer with
mixed3b's 16x16 grid at 128 px), 128 px images, the standard transforms:
  * unit-steps/s of :func:`helpers.featurevis.render` with 1 and with ``--batch`` units per batch;
  * FLOPs of one step (forward + backward, torch.utils.flop_counter) and the share of the
    measured float32 matmul peak that the step reaches;
  * a naive loop for comparison: one unit at a time, the whole network run at every step.
Numbers depend on what else runs on the machine: compare the ratios within one run. Each rate
is also given per CPU second x threads (process CPU time), which other jobs disturb much less;
on a quiet machine the two agree when the threads scale.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers import load_model
from helpers.featurevis import BatchedObjectives, make_param, neuron, render, standard_transforms
from helpers.models import CircuitModel


class Timer:
    """Wall-clock and process CPU seconds of a block (CPU time is robust to other jobs on the machine)."""

    def __enter__(self) -> "Timer":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def matmul_peak_gflops(size: int = 2048, repeats: int = 8) -> tuple[float, float]:
    """Float32 GFLOP/s of a large square torch.mm, best of ``repeats``: per wall second and per CPU second x threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        with Timer() as timer:
            torch.mm(a, b)
        best_wall, best_cpu = min(best_wall, timer.wall), min(best_cpu, timer.cpu / torch.get_num_threads())
    return 2 * size**3 / best_wall / 1e9, 2 * size**3 / best_cpu / 1e9


def step_flops(model: CircuitModel, layer: str, batch: int, size: int) -> float:
    """FLOPs of one optimization step (parameterization, transforms, forward to the layer, backward)."""
    objectives = BatchedObjectives(model, [neuron(layer, c) for c in range(batch)])
    image_param = make_param("fourier", size, batch)
    generator = torch.Generator().manual_seed(0)
    chain = standard_transforms()
    with FlopCounterMode(display=False) as counter:
        (-objectives(chain(image_param(), generator)).sum()).backward()
    return float(counter.get_total_flops())


def render_rate(model: CircuitModel, layer: str, batch: int, size: int, steps: int, **options) -> tuple[float, float]:
    """Unit-steps per wall second and per CPU second x threads of render() on ``batch`` units (after a warm-up)."""
    units = [neuron(layer, c) for c in range(batch)]
    render(model, units, steps=2, size=size, progress=False, redirect_steps=1, **options)
    with Timer() as timer:
        render(model, units, steps=steps, size=size, progress=False, **options)
    return batch * steps / timer.wall, batch * steps / (timer.cpu / torch.get_num_threads())


def naive_rate(model: CircuitModel, layer: str, units: int, size: int, steps: int) -> tuple[float, float]:
    """Unit-steps per second of a plain loop: one unit at a time, full network every step, no batching."""
    module = dict(model.module.named_modules())[model.layer(layer).module_path]
    chain = standard_transforms()
    seen: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda _m, _i, output: seen.__setitem__("value", output))
    try:
        timer = Timer().__enter__()
        for channel in range(units):
            image_param = make_param("fourier", size, 1, seed=channel)
            optimizer = torch.optim.Adam(image_param.parameters(), lr=0.05)
            generator = torch.Generator().manual_seed(channel)
            for _ in range(steps):
                optimizer.zero_grad()
                model(chain(image_param(), generator))
                value = seen["value"]
                (-value[:, channel, value.shape[2] // 2, value.shape[3] // 2].sum()).backward()
                optimizer.step()
        timer.__exit__()
        return units * steps / timer.wall, units * steps / (timer.cpu / torch.get_num_threads())
    finally:
        handle.remove()


def report(model: CircuitModel, layer: str, args: argparse.Namespace, peaks: tuple[float, float]) -> None:
    """Print one model's rates and their share of the matmul peak (wall clock, then CPU time)."""
    print(f"\n{model.name} at {layer}, {args.size} px, {args.steps} steps, standard transforms")
    print("  unit-steps/s per wall second [per CPU second x threads]; GFLOP/s and % of the matmul peak likewise")
    for batch in (1, args.batch):
        flops = step_flops(model, layer, batch, args.size) / batch
        for channels_last in (False, True):
            rates = render_rate(model, layer, batch, args.size, args.steps, channels_last=channels_last)
            achieved = [flops * rate / 1e9 for rate in rates]
            print(f"  batch {batch:>3} {'channels_last' if channels_last else 'NCHW         '}: "
                  f"{rates[0]:6.2f} [{rates[1]:6.2f}] unit-steps/s  {flops / 1e9:5.3f} GFLOP/unit-step  "
                  f"{achieved[0]:5.1f} [{achieved[1]:5.1f}] GFLOP/s = {100 * achieved[0] / peaks[0]:4.1f}% [{100 * achieved[1] / peaks[1]:4.1f}%] of peak")
    rates = naive_rate(model, layer, units=2, size=args.size, steps=args.steps)
    print(f"  naive loop (one unit at a time, full network, NCHW): {rates[0]:6.2f} [{rates[1]:6.2f}] unit-steps/s")


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="optimization steps timed per measurement")
    parser.add_argument("--batch", type=int, default=16, help="units per batch for the batched measurement")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peaks = matmul_peak_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; float32 matmul peak: "
          f"{peaks[0]:.1f} GFLOP/s per wall second [{peaks[1]:.1f} per CPU second x threads]")
    from helpers.inceptionv1_weights import build_inceptionv1

    torch.manual_seed(0)
    report(build_inceptionv1(), "mixed3b", args, peaks)
    report(load_model("efficientnet_lite0", verbose=False), "blocks.2.1", args, peaks)


if __name__ == "__main__":
    main()
