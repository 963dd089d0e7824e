"""Side by side with Lucent: contrast, activation and time to reach Lucent's activation on the same units.

Usage: python benchmarks/compare_lucent.py [--model efficientnet_lite0] [--layer blocks.3.2]
       [--units 4] [--steps 512] [--size 128] [--threads N] [--per-unit] [--device cpu|cuda]

Every method optimizes a *channel* objective (mean over positions) for each unit, with Adam at lr
0.05 and its own standard transforms, at the same image size (Lucent is told ``fixed_image_size``
so it does not upsample to 224 px):
  * Lucent's ``render_vis`` (Fourier parameterization, decorrelated colours), one unit per call
    through the full network (its API optimizes one objective per call);
  * the course's :func:`render` with its Fourier default, all units in one batch (``--per-unit``
    adds one call per unit);
  * the course's :func:`render` with ``param="natural"`` (natural-spectrum magnitudes, phases
    optimized), all units in one batch.
Each course method runs twice: optimizing the unit before its non-linearity (the course's default,
which keeps a gradient when a ReLU6 saturates) and after it (what Lucent optimizes), so a gap to
Lucent's activation can be told apart from a difference of objective.

On the CPU, seconds are process CPU seconds (user + system), not wall time: on a shared machine
other jobs change wall time from one method to the next, CPU time much less; run with ``--threads 1``
to compare like with like. On a GPU they are wall seconds, once the queued work has finished.

One scorer judges every image, without transforms: the unit's post-activation value averaged
over positions (what Lucent's objective reads). Printed: per method the seconds, the mean pixel
standard deviation of its images (contrast as displayed, no stretching), the mean activation
reached, and the seconds it needs to reach Lucent's final activation (interpolated from images
kept every 1/32 of the run and a constant time per step); without Lucent, the lowest final
activation of all methods is the threshold.

``--device`` (default: the course's choice, a GPU when there is one) puts both on the same device. Lucent
itself always uses ``cuda:0`` when PyTorch sees a GPU, so on such a machine it runs only with ``--device cuda``
(or ``cuda:0``); elsewhere it is skipped with a message. GPU timings wait for the queued work to finish.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from helpers import load_model
from helpers.featurevis import channel, objective_values, render
from helpers.models import CircuitModel


class PreprocessedModule(nn.Module):
    """The course model as a plain module taking images in [0, 1] (what Lucent hooks by module name)."""

    def __init__(self, model: CircuitModel):
        super().__init__()
        self.preprocess = model.preprocess
        self.net = model.module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(images))


def clock(device: torch.device) -> float:
    """Seconds so far: this process's CPU time on the CPU; wall time on a GPU, once its queued work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return time.perf_counter()
    return time.process_time()


def score(model: CircuitModel, layer: str, channels: list[int], images: torch.Tensor) -> torch.Tensor:
    """Post-activation channel mean of each image's own unit (the common scorer)."""
    return objective_values(model, [channel(layer, c) for c in channels], images, pre_activation=False)


def lucent_run(model: CircuitModel, layer: str, channels: list[int], steps: int, size: int, checkpoints: list[int]) -> tuple[float, dict[int, torch.Tensor]]:
    """Render each unit with Lucent's render_vis; returns seconds and {step: images}."""
    from lucent.optvis import param as lucent_param
    from lucent.optvis import render as lucent_render

    wrapped = PreprocessedModule(model).eval()
    name = "net_" + model.layer(layer).module_path.replace(".", "_")
    per_step: dict[int, list[torch.Tensor]] = {k: [] for k in checkpoints}
    start = clock(model.device)
    for index, unit in enumerate(channels):
        torch.manual_seed(index)
        images = lucent_render.render_vis(
            wrapped, f"{name}:{unit}", param_f=lambda: lucent_param.image(size), thresholds=tuple(checkpoints),
            preprocess=False, progress=False, show_image=False, fixed_image_size=size,
        )
        for k, array in zip(checkpoints, images):
            per_step[k].append(torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float())
    seconds = clock(model.device) - start
    return seconds, {k: torch.cat(v) for k, v in per_step.items()}


def ours_run(model: CircuitModel, layer: str, channels: list[int], steps: int, size: int, checkpoints: list[int],
             batched: bool, param: str = "fourier", pre_activation: bool = True) -> tuple[float, dict[int, torch.Tensor]]:
    """Render with helpers.featurevis (parameterization ``param``, the objective read before the non-linearity
    or after it, as Lucent reads it): all units in one batch, or one call per unit."""
    options = dict(steps=steps, size=size, progress=False, snapshot_steps=checkpoints, pre_activation=pre_activation,
                   param=param)
    if param == "natural":  # measure (or load) the spectrum before the clock starts: a one-off, cached cost
        from helpers.featurevis.param import make_param

        make_param("natural", size, 1)
    start = clock(model.device)
    if batched:
        snapshots = render(model, [channel(layer, c) for c in channels], **options).snapshots
    else:
        runs = [render(model, channel(layer, c), seed=i, **options).snapshots for i, c in enumerate(channels)]
        snapshots = {k: torch.cat([r[k] for r in runs]) for k in checkpoints}
    return clock(model.device) - start, snapshots


def seconds_to_reach(threshold: float, curve: list[tuple[int, float]], seconds_per_step: float) -> float:
    """Seconds until the mean activation first reaches ``threshold`` (linear between checkpoints)."""
    previous_step, previous_value = 0, -float("inf")
    for step, value in curve:
        if value >= threshold:
            if previous_value == -float("inf"):
                return step * seconds_per_step
            fraction = (threshold - previous_value) / max(value - previous_value, 1e-9)
            return (previous_step + fraction * (step - previous_step)) * seconds_per_step
        previous_step, previous_value = step, value
    return float("nan")


def main() -> None:
    """Run every method once and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="efficientnet_lite0", help="zoo model (inceptionv1 uses random weights)")
    parser.add_argument("--layer", default="blocks.3.2")
    parser.add_argument("--units", type=int, default=4, help="how many units (channels 0, 7, 14, ...)")
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the course's choice)")
    parser.add_argument("--per-unit", action="store_true", help="also time the course's render one unit per call")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model == "inceptionv1":
        from helpers.inceptionv1_weights import build_inceptionv1

        from helpers.config import select_device

        torch.manual_seed(0)
        model = build_inceptionv1().to(select_device(args.device))
    else:
        model = load_model(args.model, device=args.device, verbose=False)
    lucent_device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")  # what Lucent picks, always
    channels = [7 * i % model.channels(args.layer) for i in range(args.units)]
    checkpoints = sorted({max(1, args.steps * k // 32) for k in range(1, 33)})
    print(f"{model.name} {args.layer} channels {channels}, {args.size} px, {args.steps} steps, on {model.device}"
          + (f" ({torch.cuda.get_device_name(model.device)})" if model.device.type == "cuda" else f", {torch.get_num_threads()} threads"))

    lucent = "lucent render_vis (one unit per call)"
    results = {}
    if model.device != lucent_device:
        print(f"Lucent skipped: it always runs on {lucent_device} on this machine, and the model is on {model.device}.")
    else:
        try:
            results[lucent] = lucent_run(model, args.layer, channels, args.steps, args.size, checkpoints)
        except Exception as error:  # report precisely what breaks, then go on with ours
            print(f"Lucent failed: {type(error).__name__}: {error}")
    if args.per_unit:
        results["course fourier, one unit per call"] = ours_run(model, args.layer, channels, args.steps, args.size, checkpoints, batched=False)
    for param in ("fourier", "natural"):
        for pre_activation in (True, False):
            where = "pre-activation" if pre_activation else "post-activation"
            results[f"course {param}, {where}, {len(channels)} in a batch"] = ours_run(
                model, args.layer, channels, args.steps, args.size, checkpoints, batched=True, param=param,
                pre_activation=pre_activation)

    curves = {}
    for method, (_seconds, snapshots) in results.items():
        curves[method] = [(k, float(score(model, args.layer, channels, snapshots[k]).mean())) for k in checkpoints]
    if lucent in curves:
        threshold, what = curves[lucent][-1][1], f"Lucent's {args.steps}-step activation"
    else:
        threshold, what = min(curve[-1][1] for curve in curves.values()), "the lowest final activation"
    print(f"\nthreshold = {what} = {threshold:.3f}")
    print(f"{'method':<46} {'seconds':>8} {'pixel std':>10} {'activation':>11} {'s to threshold':>15}")
    for method, (seconds, snapshots) in results.items():
        reach = seconds_to_reach(threshold, curves[method], seconds / args.steps)
        contrast = float(snapshots[checkpoints[-1]].flatten(1).std(dim=1).mean())
        print(f"{method:<46} {seconds:8.1f} {contrast:10.3f} {curves[method][-1][1]:11.3f} {reach:15.1f}")
    print("\nmean activation by step:", {m: [round(v, 2) for _k, v in c[7::8]] for m, c in curves.items()}, "at steps", checkpoints[7::8])


if __name__ == "__main__":
    main()
