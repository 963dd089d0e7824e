"""Check the whole course on a GPU in one command: every lesson in full, strict mode, timed, and its claims.

Usage: python scripts/device_check.py [--device cuda|cuda:N] [--out FOLDER] [--no-control] [--timeout S]
       [lessons ...]

1. Refuses at once (exit status 2), before any long work, when the device is not there: on a machine
   without a CUDA GPU it says so. ``--device cpu`` runs the same check on the CPU (to test the script).
2. Runs every lesson (default: every ``notebooks/NN_*.ipynb``) through ``scripts/measure_lessons.py`` in
   full mode, ``CIRCUITS_STRICT=1``, offline, ``CIRCUITS_DEVICE`` set to the device: wall time, CPU
   time, peak host memory and peak GPU memory per lesson, each lesson's claims logged.
3. Unless ``--no-control``: every lesson again in fast mode with random weights (the negative control,
   not strict: its learned claims must fail and are reported), then ``scripts/claims_table.py`` sets the
   two side by side.

Writes FOLDER/lessons.md and .json (the table for docs/teaching.md), FOLDER/control.md and .json,
FOLDER/claims.md and FOLDER/claims/{trained,control}/ (default FOLDER: build/device-check); prints each. Exits 0 when every lesson passed
and the claims table found no problem, 1 otherwise.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be checked on this machine, or None when it can."""
    import torch

    kind, _, index = device.partition(":")
    if kind == "cpu" and not index:
        return None
    if kind != "cuda" or (index and not index.isdigit()):
        return f"--device {device!r} is not understood: use cuda, cuda:N (or cpu, to test this script)."
    if not torch.cuda.is_available():
        return (f"This machine has no CUDA GPU that PyTorch can use (torch {torch.__version__}, "
                f"CUDA build {torch.version.cuda or 'none'}): nothing to check. Run this on a machine with a GPU.")
    if index and int(index) >= torch.cuda.device_count():
        return f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0."
    return None


def describe(device: str) -> str:
    """One line about the machine: the GPU (name, memory), CPU cores, torch's version."""
    import os

    import torch

    line = f"{platform.node()}: {os.cpu_count()} CPU cores, torch {torch.__version__}"
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        line += f", {props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    return line


def commands(device: str, out: Path, lessons: list[str], timeout: int, control: bool) -> list[list[str]]:
    """The commands the check runs, in order (each a list of arguments)."""
    python = sys.executable
    claims = out / "claims"
    gpu = ["--gpu-memory"] if device.startswith("cuda") else []
    steps = [[python, str(SCRIPTS / "measure_lessons.py"), *gpu, "--timeout", str(timeout),
              "--env", "CIRCUITS_STRICT=1", "--env", f"CIRCUITS_DEVICE={device}",
              "--env", f"CIRCUITS_CLAIMS_LOG={claims / 'trained'}", "--out", str(out / "lessons.json"), "--out", str(out / "lessons.md"), *lessons]]
    if control:
        steps.append([python, str(SCRIPTS / "measure_lessons.py"), *gpu, "--fast", "--timeout", str(timeout),
                      "--env", "CIRCUITS_WEIGHTS=random", "--env", f"CIRCUITS_DEVICE={device}",
                      "--env", f"CIRCUITS_CLAIMS_LOG={claims / 'control'}", "--out", str(out / "control.json"), "--out", str(out / "control.md"), *lessons])
        steps.append([python, str(SCRIPTS / "claims_table.py"), str(claims / "trained"), str(claims / "control"),
                      "--markdown", str(out / "claims.md")])
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="lessons to check (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu to test this script")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "device-check", help="folder for the tables and logs")
    parser.add_argument("--no-control", action="store_true", help="skip the random-weights control and the claims table")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    args = parser.parse_args(argv)
    device = args.device.strip().lower()
    problem = device_problem(device)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    missing = [str(p) for p in args.lessons if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    print(f"device check on {device}: {describe(device)}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.out / "claims", ignore_errors=True)  # claim logs of an earlier check would mix in
    status = 0
    for step in commands(device, args.out.resolve(), [str(p.resolve()) for p in args.lessons], args.timeout,
                         not args.no_control):
        print("$ " + " ".join(step), flush=True)
        returncode = subprocess.run(step, cwd=ROOT).returncode
        if returncode not in (0, 1):  # 1: a failing lesson or claim, reported in the tables; anything else stops
            print(f"stopped: the step above exited with {returncode}.", file=sys.stderr)
            return returncode
        status = status or returncode
    print(f"tables in {args.out}: lessons.md/.json" + ("" if args.no_control else ", control.md/.json, claims.md"))
    return status


if __name__ == "__main__":
    sys.exit(main())
