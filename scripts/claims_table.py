"""Set every lesson's claims on the trained model beside the same claims on the random-weights control.

Each run of the lessons with ``CIRCUITS_CLAIMS_LOG=FOLDER`` leaves one ``<lesson>.json`` per lesson
(see ``helpers.claims``). This script reads the trained run's folder and the control run's folder,
prints one row per claim, and exits with status 1 when a learned claim fails on the trained model,
passes on the control, or was not evaluated on the control (a lesson that did not reach its
"What we verified" cell). ``--control NAME=FOLDER`` adds another random-weights control with the same rules
(e.g. InceptionV1's architecture with random weights): every learned claim it evaluated must fail there, those
shared with the trained run and those only it evaluated (InceptionV1's own units, and statements that name the
model); a claim it did not evaluate is no problem there, since its statement may name another model.
``--also NAME=FOLDER`` adds columns for information only.

Usage: python scripts/claims_table.py TRAINED CONTROL [--control inceptionv1-random=FOLDER] [--also NAME=FOLDER]
       [--markdown OUT.md]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_run(folder: Path) -> dict[tuple[str, str], dict]:
    """{(lesson, statement): claim record plus the run's model facts} for every log in ``folder``."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder of claim logs; run the lessons with CIRCUITS_CLAIMS_LOG={folder}.")
    claims = {}
    for path in sorted(folder.glob("*.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
            for claim in run["claims"]:
                claims[run["lesson"], claim["statement"]] = {**claim, "model": run["model"], "trained": run["trained"],
                                                             "fast": run["fast"]}
        except (ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"{path} is not a claim log ({error}); delete it and run the lesson again.") from error
    return claims


def outcome(claim: dict | None) -> str:
    return "-" if claim is None else ("PASS" if claim["passed"] else "FAIL")


def compare(trained: dict, control: dict, extra: dict[str, dict],
            controls: dict[str, dict] | None = None) -> tuple[list[list[str]], list[str]]:
    """The table's rows and the list of problems (learned claims that do not separate trained from a control).

    ``controls``: further random-weights controls: every learned claim they evaluated must fail there; claims that
    only they evaluated get a row of their own.
    """
    controls = controls or {}
    rows, problems = [], []
    only_in_controls = sorted({key for run in controls.values() for key in run} - set(trained))
    for key in sorted(trained) + only_in_controls:
        lesson, statement = key
        claim, against = trained.get(key), control.get(key)
        verdicts = []
        if claim is None:  # evaluated only on a further control (e.g. InceptionV1's own units)
            passing = [name for name, run in controls.items() if key in run and run[key]["learned"] and run[key]["passed"]]
            verdicts += [f"passes on {name}" for name in passing]
        elif claim["learned"]:
            if not claim["passed"]:
                verdicts.append("fails on the trained model")
            if against is None:
                verdicts.append("not evaluated on the control")
            elif against["passed"]:
                verdicts.append("passes on the control too")
            # A further control may be another architecture, whose claims name their own model (another
            # statement): there a claim only has to fail wherever it was evaluated.
            verdicts += [f"passes on {name} too" for name, run in controls.items() if key in run and run[key]["passed"]]
        elif not claim["passed"]:
            verdicts.append("fails (own control)")
        verdict = "; ".join(verdicts)
        if verdict:
            problems.append(f"{lesson}: {statement}: {verdict}")
        kind = "own control" if claim is not None and not claim["learned"] else "learned"
        rows.append([lesson, statement, kind, outcome(claim), outcome(against),
                     *[outcome(run.get(key)) for run in {**controls, **extra}.values()], verdict or "ok"])
    return rows, problems


def named_folders(items: list[str], option: str) -> dict[str, dict]:
    """{NAME: claims} from ``NAME=FOLDER`` arguments."""
    runs = {}
    for item in items:
        name, _, folder = item.partition("=")
        if not name or not folder:
            raise SystemExit(f"{option} takes NAME=FOLDER, got {item!r}.")
        runs[name] = read_run(Path(folder))
    return runs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trained", type=Path)
    parser.add_argument("control", type=Path)
    parser.add_argument("--control", dest="controls", action="append", default=[], metavar="NAME=FOLDER",
                        help="another random-weights control: learned claims must fail there too")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=FOLDER", help="a column for information only")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as markdown")
    options = parser.parse_args(argv)
    trained, control = read_run(options.trained), read_run(options.control)
    if not trained:
        raise SystemExit(f"{options.trained} holds no claim logs: no lesson reached its 'What we verified' cell.")
    controls, extra = named_folders(options.controls, "--control"), named_folders(options.also, "--also")
    rows, problems = compare(trained, control, extra, controls)
    header = ["lesson", "claim", "kind", "trained", "random control", *controls, *extra, "verdict"]
    markdown = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    markdown += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    print("\n".join(markdown))
    learned = sum(1 for row in rows if row[2] == "learned")
    print(f"\n{len(rows)} claims ({learned} about learned features); {len(problems)} problem(s).")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if options.markdown:
        options.markdown.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
