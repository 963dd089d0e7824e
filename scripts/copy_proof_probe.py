"""The half of scripts/copy_proof.py that runs inside the lesson's kernel, after its student edition ran.

``probe(namespace, payload, result)`` collects candidate answers from the kernel's namespace and the
numbers the notebook printed, then re-runs every graded check cell with each answer name replaced by
each candidate of the same kind as the teacher's answer, in grading mode (a check returns its Score and
never raises). It writes what it found as JSON to ``result``. Nothing here imports the course: the
checks are reached through the names the notebook defined, as a student would reach them.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import io
import json
import math
import os
import re
import resource
import signal
import time
import types
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

#: A number as printed: optional sign, digits with an optional fraction, an optional exponent, maybe a %.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?%?")
#: Words a check might print that could be a string answer (unit and layer names included).
WORD = re.compile(r"[A-Za-z_][\w.:/-]{0,79}")
#: Names of the kernel's own machinery, never candidates.
KERNEL_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open", "display", "input", "print", "breakpoint"}
SMALL = 1024           # a tensor, array or container this small gives its entries as candidates
MAX_NUMBERS = 300      # nearest number (or string, tensor) candidates tried per answer
MAX_CALLABLES = 400    # callables tried per function answer
NEAR = 0.1             # every candidate within 10 % of the teacher's answer must be tried


class CallTimeout(BaseException):
    """One check call ran past its time; a BaseException, so no check or student wrapper swallows it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CallTimeout` in the main thread after ``seconds``."""
    def expire(signum: int, frame: object) -> None:
        raise CallTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Candidate:
    """One candidate answer and where it came from (``printed``, ``name``, ``name.attr[3]``...)."""

    value: object
    origin: str


@dataclass
class Pool:
    """Every candidate answer the student edition offers, by kind."""

    numbers: dict[float, str] = field(default_factory=dict)
    strings: dict[str, str] = field(default_factory=dict)
    arrays: list[Candidate] = field(default_factory=list)
    callables: list[Candidate] = field(default_factory=list)
    others: list[Candidate] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def add_number(self, value: float, origin: str) -> None:
        """Remember a finite number (deduplicated by value)."""
        if math.isfinite(value):
            self.numbers.setdefault(float(value), origin)

    def add_text(self, text: str, origin: str) -> None:
        """Every number in a printed text (a percentage also as a fraction)."""
        for match in NUMBER.finditer(text):
            token = match.group()
            try:
                number = float(token.rstrip("%"))
            except ValueError:
                continue
            self.add_number(number, origin)
            if token.endswith("%"):
                self.add_number(number / 100, origin)

    def add_words(self, text: str, origin: str) -> None:
        """Every word of a printed text, as a string candidate."""
        for word in WORD.findall(text):
            self.strings.setdefault(word, origin)

    def add(self, value: object, origin: str, depth: int) -> None:
        """Add a reachable value, its entries when small, and its attributes while ``depth`` allows."""
        if isinstance(value, (bool, np.bool_)):
            return
        if isinstance(value, (int, float, np.integer, np.floating)):
            self.add_number(float(value), origin)
            return
        if isinstance(value, str):
            if len(value) <= 200:
                self.strings.setdefault(value, origin)
            return
        if id(value) in self.seen or isinstance(value, type):
            return
        self.seen.add(id(value))
        if isinstance(value, torch.Tensor) or isinstance(value, np.ndarray):
            if value.ndim == 0:
                self.add_number(float(value), origin)
                return
            self.arrays.append(Candidate(value, origin))
            flat = value.detach().cpu().flatten() if isinstance(value, torch.Tensor) else value.ravel()
            if len(flat) <= SMALL and (flat.dtype != object):
                for i, entry in enumerate(flat.tolist()):
                    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
                        self.add_number(float(entry), f"{origin}[{i}]")
            return
        if isinstance(value, types.ModuleType):
            if depth > 0 and value.__name__.startswith("helpers"):
                for name, inner in vars(value).items():
                    if not name.startswith("_") and not isinstance(inner, types.ModuleType):
                        self.add(inner, f"{origin}.{name}", 0)
            return
        if callable(value):
            if not (getattr(value, "__module__", "") or "").startswith(("builtins", "IPython", "ipykernel")) \
                    and not getattr(value, "__name__", "").startswith("check_"):
                self.callables.append(Candidate(value, origin))
            if not hasattr(value, "__dict__") or isinstance(value, (types.FunctionType, types.MethodType)):
                return
        self.others.append(Candidate(value, origin))
        if depth <= 0:
            return
        if isinstance(value, (list, tuple, set, frozenset)) and len(value) <= SMALL:
            for i, entry in enumerate(value):
                self.add(entry, f"{origin}[{i}]", depth - 1)
        elif isinstance(value, dict) and len(value) <= SMALL:
            for key, entry in value.items():
                self.add(key, f"{origin} key", depth - 1)
                self.add(entry, f"{origin}[{key!r}]", depth - 1)
        elif hasattr(value, "to_numpy") and getattr(value, "size", SMALL + 1) <= SMALL:
            with contextlib.suppress(Exception):
                self.add(np.asarray(value.to_numpy(), dtype=float), f"{origin}.to_numpy()", depth)
        else:
            for name, inner in attributes(value):
                self.add(inner, f"{origin}.{name}", depth - 1)


def attributes(value: object) -> Iterator[tuple[str, object]]:
    """An object's public attributes one level down: its fields, and for the course's own classes also
    its properties and methods (a dataclass's ``left_score``, a model's ``unit``)."""
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):
        yield from ((name, inner) for name, inner in list(fields.items()) if not name.startswith("_"))
    kind = type(value)
    if not kind.__module__.startswith("helpers"):
        return
    for name, member in inspect.getmembers(kind):
        if name.startswith("_") or (isinstance(fields, dict) and name in fields):
            continue
        if isinstance(member, (property, functools.cached_property, types.FunctionType)):
            try:
                with time_limit(5), contextlib.redirect_stdout(io.StringIO()):
                    inner = getattr(value, name)
            except (Exception, CallTimeout):
                continue
            yield name, inner


def trivial_functions() -> list[Candidate]:
    """Functions that do nothing: what a student might pass without writing anything."""
    def first(*args: object, **kwargs: object) -> object:
        return args[0] if args else next(iter(kwargs.values()), 0)

    def zeros_like_first(*args: object, **kwargs: object) -> object:
        value = first(*args, **kwargs)
        return torch.zeros_like(value) if isinstance(value, torch.Tensor) else np.zeros_like(value)

    return [Candidate(first, "a function returning its first argument"),
            Candidate(zeros_like_first, "a function returning zeros like its first argument"),
            Candidate(lambda *args, **kwargs: 0, "a function returning 0"),
            Candidate(lambda *args, **kwargs: 1.0, "a function returning 1.0")]


def collect(namespace: dict, printed: list[tuple[str, str]]) -> Pool:
    """The candidate pool: printed numbers first, then every value reachable from the namespace."""
    pool = Pool()
    for origin, text in printed:
        pool.add_text(text, origin)
    for name, value in list(namespace.items()):
        if name.startswith("_") or name in KERNEL_NAMES or name.startswith("my_"):
            continue
        with contextlib.suppress(Exception):
            pool.add(value, name, depth=2)
    return pool


def kind_of(value: object) -> str:
    """The kind of an answer: function, int, number, string, array, or the type's name."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if callable(value) and not isinstance(value, (torch.Tensor, np.ndarray)):
        return "function"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)) or (isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return "array"
    return type(value).__name__


def callable_like(candidate: object, teacher: Callable) -> bool:
    """False when ``candidate`` cannot be called the way the teacher's function can (a check calls the
    answer as its signature says): such a candidate can only fail, so it needs no check call."""
    try:
        wanted, offered = inspect.signature(teacher), inspect.signature(candidate)
    except (TypeError, ValueError):
        return True
    positional = [p for p in wanted.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in positional)
    keywords = {p.name: None for p in wanted.parameters.values() if p.kind == p.KEYWORD_ONLY and p.default is p.empty}
    for count in range(required, len(positional) + 1):
        try:
            offered.bind(*[None] * count, **keywords)
            return True
        except TypeError:
            continue
    return False


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.abs(b).max()) if b.size else 0.0
    return float(np.abs(a - b).max()) / (scale or 1.0) if a.size else 0.0


def candidates_for(pool: Pool, teacher: object, kind: str) -> tuple[list[Candidate], int]:
    """Candidates of the teacher's kind, nearest to the teacher's answer first; and how many are near it
    (within 10 %, or equal), which must all be tried."""
    if kind == "function":
        callables = [c for c in pool.callables if callable_like(c.value, teacher)][:MAX_CALLABLES] + trivial_functions()
        return callables, len(callables)
    if kind == "bool":
        return [Candidate(True, "True"), Candidate(False, "False")], 2
    if kind in ("int", "number"):
        target = float(teacher)
        values = [(abs(v - target) / (abs(target) or 1.0), v, o) for v, o in pool.numbers.items()
                  if kind == "number" or float(v).is_integer()]
        values.sort(key=lambda item: item[0])
        cast = int if kind == "int" else float
        chosen = [Candidate(cast(v), o) for _, v, o in values[:MAX_NUMBERS]]
        return chosen, sum(d <= NEAR for d, _, _ in values)
    if kind == "string":
        strings = sorted(pool.strings.items(), key=lambda item: (item[0] != teacher, item[0].lower() != teacher.lower()))
        return [Candidate(v, o) for v, o in strings[:MAX_NUMBERS]], sum(v.lower() == teacher.lower() for v in pool.strings)
    if kind == "array":
        wanted = np.asarray(teacher.detach().cpu() if isinstance(teacher, torch.Tensor) else teacher, dtype=float)
        same = []
        for candidate in pool.arrays:
            value = candidate.value
            if tuple(value.shape) != wanted.shape:
                continue
            with contextlib.suppress(Exception):
                array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=float)
                converted = (torch.as_tensor(array, dtype=teacher.dtype, device=teacher.device)
                             if isinstance(teacher, torch.Tensor) else array.astype(teacher.dtype))
                same.append((_distance(array, wanted), Candidate(converted, candidate.origin)))
        same.sort(key=lambda item: item[0])
        return [c for _, c in same[:MAX_NUMBERS]], sum(d <= NEAR for d, _ in same)
    same_type = [c for c in pool.others if type(c.value) is type(teacher)][:MAX_NUMBERS]
    return same_type, len(same_type)


@dataclass
class CheckCell:
    """A graded check cell, compiled once: its statements, and its last expression (the score)."""

    source: str

    def __post_init__(self) -> None:
        tree = ast.parse(self.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        self.body = compile(tree, "<check>", "exec")
        self.last = compile(ast.Expression(last.value), "<check>", "eval") if last is not None else None

    def run(self, namespace: dict, seconds: float, networks: tuple[torch.nn.Module, ...] = ()) -> tuple[float | None, str]:
        """The check's score with this namespace (None when it raised or ran out of time), and its output.

        The ``networks`` are put back in the train/eval modes and the hooks they had: a candidate such as
        a bound ``train`` method, or a ``register_forward_hook`` handed a tensor, must not change what the
        next check measures."""
        modes = [(module, module.training) for network in networks for module in network.modules()]
        hooks = [(table, dict(table)) for network in networks for module in network.modules()
                 for table in _hook_tables(module)]
        out = io.StringIO()
        score: float | None = None
        try:
            with time_limit(seconds), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(self.body, namespace)
                value = eval(self.last, namespace) if self.last is not None else None
            score = float(value) if isinstance(value, (int, float)) else None
        except CallTimeout:
            out.write("\n[copy-proof: the check ran out of time]")
        except Exception as error:  # a candidate may crash a check: it earns nothing
            out.write(f"\n[copy-proof: the check raised {type(error).__name__}: {error}]")
        finally:
            _close_figures()
            for module, training in modes:
                module.training = training
            for table, kept in hooks:
                table.clear()
                table.update(kept)
        return score, out.getvalue()


def _hook_tables(module: torch.nn.Module) -> list[dict]:
    """The dictionaries in which ``module`` keeps its hooks (forward, pre-forward, backward, state-dict...)."""
    return [value for key, value in vars(module).items() if key.startswith("_") and "hooks" in key and isinstance(value, dict)]


def _close_figures() -> None:
    with contextlib.suppress(Exception):
        import matplotlib.pyplot as plt
        plt.close("all")


def printed_value(text: str, value: float) -> list[str]:
    """The printed numbers in ``text`` that are ``value`` rounded to the digits printed (at least 3 significant)."""
    found = []
    for match in NUMBER.finditer(text):
        token = match.group().rstrip("%")
        digits = re.sub(r"[eE].*", "", token).lstrip("+-").replace(".", "").lstrip("0")
        if len(digits) < 3:
            continue
        decimals = len(token.split(".")[1]) if "." in token and "e" not in token.lower() else 0
        with contextlib.suppress(ValueError):
            if abs(float(token) - value) <= 0.5 * 10 ** -decimals + 1e-12 * abs(value):
                found.append(match.group())
    return found


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def attack(namespace: dict, pool: Pool, exercise: dict, call_seconds: float, budget: float) -> dict:
    """Re-run one check with every candidate in place of each answer name; returns what earned points."""
    check = CheckCell(exercise["check_source"])
    teacher_space = dict(namespace)
    report = {"grade_id": exercise["grade_id"], "points": exercise["points"], "tried": 0, "full": [],
              "partial": [], "leaks": [], "kinds": {}, "untried_near": 0, "problems": []}
    try:
        with time_limit(max(call_seconds, 60)), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            exec(exercise["teacher_source"], teacher_space)
    except (Exception, CallTimeout) as error:
        report["problems"].append(f"the teacher's answer cell raised {type(error).__name__}: {error}")
        return report
    answers = {name: teacher_space[name] for name in exercise["answer_names"] if name in teacher_space}
    missing = [name for name in exercise["answer_names"] if name not in answers]
    if missing or not answers:
        report["problems"].append(f"the teacher's answer cell does not define {missing or 'an answer'}")
        return report
    base = {**namespace, **answers}
    networks = tuple({id(module): module for c in pool.others
                      for module in (c.value, getattr(c.value, "module", None)) if isinstance(module, torch.nn.Module)}.values())
    teacher_score, teacher_output = check.run(dict(base), max(call_seconds, 60), networks)
    report["teacher_score"] = teacher_score
    if teacher_score is None or teacher_score < exercise["points"]:
        report["problems"].append(f"the teacher's answer scores {teacher_score} of {exercise['points']}: "
                                  "no candidate can be judged against a check that fails the course's answer "
                                  f"(the check said: {teacher_output.strip()[-400:]})")
        return report
    start = time.perf_counter()
    for name, teacher in answers.items():
        kind = kind_of(teacher)
        report["kinds"][name] = kind
        candidates, near = candidates_for(pool, teacher, kind)
        outputs: list[str] = []
        tried_here = 0
        for candidate in candidates:
            if time.perf_counter() - start > budget:
                report["untried_near"] += max(0, near - tried_here)
                break
            score, output = check.run({**base, name: candidate.value}, call_seconds, networks)
            tried_here += 1
            entry = f"{name} = {candidate.origin}" if kind == "function" else \
                f"{name} = {_short(candidate.value)} ({candidate.origin})"
            if score is not None and score >= exercise["points"]:
                report["full"].append(entry)
            else:
                outputs.append(output)
                if score:
                    report["partial"].append(f"{entry} ({score:g})")
        report["tried"] += tried_here
        if kind in ("int", "number", "string"):  # the check's own messages, fed back as answers
            echoed = Pool()
            for text in outputs:
                (echoed.add_words if kind == "string" else echoed.add_text)(text, "a check's message")
            if kind == "number" and not float(teacher).is_integer():
                leaks = sorted({hit for text in outputs for hit in printed_value(text, float(teacher))})
                report["leaks"] += [f"{name}: a wrong answer's message prints {hit}" for hit in leaks]
            known = {c.value for c in candidates}
            again, _ = candidates_for(echoed, teacher, kind)
            for candidate in [c for c in again if c.value not in known][:50]:
                if time.perf_counter() - start > budget:
                    break
                score, _ = check.run({**base, name: candidate.value}, call_seconds, networks)
                report["tried"] += 1
                if score is not None and score >= exercise["points"]:
                    report["full"].append(f"{name} = {_short(candidate.value)} ({candidate.origin})")
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def probe(namespace: dict, payload_path: str, result_path: str) -> None:
    """Run every exercise's attack in grading mode and write the reports to ``result_path`` as JSON."""
    cpu_start = cpu_seconds()
    with open(payload_path, encoding="utf-8") as file:
        payload = json.load(file)
    os.environ["CIRCUITS_GRADING"] = "1"
    os.environ.pop("CIRCUITS_STRICT", None)
    pool = collect(namespace, [tuple(item) for item in payload["printed"]])
    sizes = {"numbers": len(pool.numbers), "strings": len(pool.strings), "arrays": len(pool.arrays),
             "callables": len(pool.callables), "others": len(pool.others)}
    reports = [attack(namespace, pool, exercise, payload["call_seconds"], payload["budget"])
               for exercise in payload["exercises"]]
    with open(result_path, "w", encoding="utf-8") as file:
        json.dump({"pool": sizes, "exercises": reports, "cpu_student_s": round(cpu_start, 1),
                   "cpu_probe_s": round(cpu_seconds() - cpu_start, 1)}, file)


def cpu_seconds() -> float:
    """CPU time (user + system) this kernel and its finished children have used so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_in_kernel(payload_path: str, result_path: str) -> str:
    """The code the driver sends to the kernel: load this file and probe the kernel's namespace."""
    here = os.path.abspath(__file__)
    return ("import importlib.util as _cp_util\n"
            f"_cp_spec = _cp_util.spec_from_file_location('copy_proof_probe', {here!r})\n"
            "_cp_module = _cp_util.module_from_spec(_cp_spec)\n"
            "__import__('sys').modules['copy_proof_probe'] = _cp_module\n"
            "_cp_spec.loader.exec_module(_cp_module)\n"
            f"_cp_module.probe(globals(), {payload_path!r}, {result_path!r})\n")

