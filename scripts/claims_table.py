"""Set every lesson's claims on the trained model beside the same claims on the random-weights control.

Each run of the lessons with ``CIRCUITS_CLAIMS_LOG=FOLDER`` leaves one ``<lesson>.json`` per lesson
(see ``helpers.claims``). This script reads the trained run's folder and the control run's folder,
prints one row per claim, and exits with status 1 when a learned claim fails on the trained model,
passes on the control, or was not evaluated on the control (a lesson that did not reach its
"What we verified" cell). Further folders (``--also NAME=FOLDER``) add columns for information only.

Usage: python scripts/claims_table.py TRAINED CONTROL [--also inceptionv1-random=FOLDER] [--markdown OUT.md]
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


def compare(trained: dict, control: dict, extra: dict[str, dict]) -> tuple[list[list[str]], list[str]]:
    """The table's rows and the list of problems (learned claims that do not separate trained from control)."""
    rows, problems = [], []
    for key in sorted(trained):
        lesson, statement = key
        claim, against = trained[key], control.get(key)
        verdict = ""
        if claim["learned"]:
            if not claim["passed"]:
                verdict = "fails on the trained model"
            elif against is None:
                verdict = "not evaluated on the control"
            elif against["passed"]:
                verdict = "passes on the control too"
        else:
            verdict = "" if claim["passed"] else "fails (own control)"
        if verdict:
            problems.append(f"{lesson}: {statement}: {verdict}")
        rows.append([lesson, statement, "learned" if claim["learned"] else "own control", outcome(claim), outcome(against),
                     *[outcome(run.get(key)) for run in extra.values()], verdict or "ok"])
    return rows, problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trained", type=Path)
    parser.add_argument("control", type=Path)
    parser.add_argument("--also", action="append", default=[], metavar="NAME=FOLDER")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as markdown")
    options = parser.parse_args(argv)
    trained, control = read_run(options.trained), read_run(options.control)
    if not trained:
        raise SystemExit(f"{options.trained} holds no claim logs: no lesson reached its 'What we verified' cell.")
    extra = {}
    for item in options.also:
        name, _, folder = item.partition("=")
        if not folder:
            raise SystemExit(f"--also takes NAME=FOLDER, got {item!r}.")
        extra[name] = read_run(Path(folder))
    rows, problems = compare(trained, control, extra)
    header = ["lesson", "claim", "kind", "trained", "random control", *extra, "verdict"]
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
