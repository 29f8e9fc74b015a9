"""The main job: `bidrn-hw demo` end to end on the tiny config, resumable."""
import json

from bidrn_hw.cli import main as cli_main


def test_demo_runs_bit_exact_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["bit_exact"] is True
    assert (out / "mesh.obj").stat().st_size > 0
    stages = json.loads((out / "stages.json").read_text())
    assert len(stages) == 4
    mesh_line_count = sum(1 for line in open(out / "mesh.obj") if line.startswith("v "))
    assert mesh_line_count == stages["host part and SMPL-X mesh"]["vertices"]

    # A rerun finds every stage finished and does not redo them.
    before = (out / "stages.json").stat().st_mtime_ns
    assert cli_main(["demo", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bit_exact"] is True
    assert (out / "stages.json").stat().st_mtime_ns == before
