"""scripts/claims_table.py: the gate that every learned claim passes on the trained model and fails on each control."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_run(folder: Path, model: str, trained: bool, claims: list[tuple[str, bool, bool]]) -> Path:
    """One lesson's claim log: (statement, learned, passed) per claim."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"lesson": "01_x", "model": model, "trained": trained, "fast": False,
              "claims": [{"statement": s, "learned": learned, "passed": passed, "measured": "m"} for s, learned, passed in claims]}
    (folder / "01_x.json").write_text(json.dumps(record))
    return folder


def table(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "claims_table.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_a_clean_table_exits_zero_and_a_learned_claim_passing_on_a_control_fails(tmp_path) -> None:
    trained = write_run(tmp_path / "t", "lite0", True, [("a", True, True), ("b", False, True)])
    control = write_run(tmp_path / "c", "lite0", False, [("a", True, False), ("b", False, True)])
    assert table(trained, control).returncode == 0
    leaky = write_run(tmp_path / "c2", "lite0", False, [("a", True, True), ("b", False, True)])
    result = table(trained, leaky)
    assert result.returncode == 1 and "a: passes on the control too" in result.stdout


def test_a_further_control_gates_the_same_way_and_its_own_claims_must_fail(tmp_path) -> None:
    trained = write_run(tmp_path / "t", "lite0", True, [("a", True, True)])
    control = write_run(tmp_path / "c", "lite0", False, [("a", True, False)])
    clean = write_run(tmp_path / "i", "inceptionv1", False, [("a", True, False), ("paper unit", True, False)])
    assert table(trained, control, "--control", f"iv1={clean}").returncode == 0
    leaky = write_run(tmp_path / "i2", "inceptionv1", False, [("a", True, True), ("paper unit", True, True)])
    result = table(trained, control, "--control", f"iv1={leaky}")
    assert result.returncode == 1
    assert "a: passes on iv1 too" in result.stdout and "paper unit: passes on iv1" in result.stdout
    # --also shows the same folder for information only
    assert table(trained, control, "--also", f"iv1={leaky}").returncode == 0
    # another architecture's run names its own model: a claim it did not evaluate is no problem there
    other_names = write_run(tmp_path / "i3", "inceptionv1", False, [("a, on inceptionv1", True, False)])
    assert table(trained, control, "--control", f"iv1={other_names}").returncode == 0
    # but the main control must evaluate every learned claim
    result = table(trained, write_run(tmp_path / "c3", "lite0", False, [("b", True, False)]))
    assert result.returncode == 1 and "a: not evaluated on the control" in result.stdout


def test_missing_and_malformed_input_is_named(tmp_path) -> None:
    trained = write_run(tmp_path / "t", "lite0", True, [("a", True, True)])
    result = table(trained, tmp_path / "nowhere")
    assert result.returncode != 0 and "not a folder of claim logs" in result.stderr
    result = table(trained, trained, "--control", "no-equals-sign")
    assert result.returncode != 0 and "--control takes NAME=FOLDER" in result.stderr
