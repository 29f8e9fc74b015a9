"""Golden hashes of the flow's outputs, to show that a refactoring leaves its behaviour unchanged byte for byte.

    .venv/bin/python benchmarks/golden.py [--skip paper] [--work DIR] > benchmarks/results/golden.json

Hashes (SHA-256, first 16 hex digits) of every file that these write, per file:
- ``export --config tiny`` (QONNX per partition, reference frames, partition.json);
- ``compile`` of the three tiny partitions with pixel folding and auto-folded for 500 runs/s at 50 MHz on
  ecp5-85k (the demo's folding); TFC-w1a1 (pixel folding) and CNV-w1a1 with FINN's Pynq-Z1 folding
  (``bidrn_hw/flow/presets/cnv_w1a1_pynq.json``), both exported by ``bnn_pynq.export_bnn_pynq`` with seed 3;
- the whole-frame estimates of ``edge`` and ``paper`` (``frame_estimate.estimate_config``, as
  ``benchmarks/compile_time.py`` reports them; paper takes about two minutes).

What is excluded, being legitimately not deterministic:
- absolute paths: every occurrence of the work directory's absolute path in a file is replaced by ``<WORK>``
  before hashing (``accel.json`` and the RTL name memory files by absolute path);
- the estimate's wall-clock figures: the keys ``seconds``, ``pass_seconds``, ``slowest_pass`` (the pass that
  took longest, with its seconds) and ``exported`` (whether an earlier export was reused) of
  ``estimate_config``'s result;
- ``estimates.png``: hashed as its decoded pixels (matplotlib's PNG metadata names its version), via Pillow.
Compiles skip the pass-by-pass exactness check (``--no-check``: it checks, it writes nothing).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY_PARTS = ("body_encoder", "hand_encoder", "face_encoder")
VOLATILE_ESTIMATE_KEYS = ("seconds", "pass_seconds", "slowest_pass", "exported")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def hash_file(path: Path, work: Path) -> str:
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as im:
            return _digest(f"{im.mode}{im.size}".encode() + im.tobytes())
    data = path.read_bytes()
    for w in {str(work), str(work.resolve())}:
        data = data.replace(w.encode(), b"<WORK>")
    return _digest(data)


def hash_tree(root: Path, work: Path) -> dict:
    return {str(p.relative_to(root)): hash_file(p, work) for p in sorted(root.rglob("*")) if p.is_file()}


def combined(files: dict) -> str:
    return _digest(json.dumps(files, sort_keys=True).encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip", default="", help="comma-separated groups to skip: export,compile,bnn,edge,paper")
    ap.add_argument("--work", default=None, help="work directory (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    work = Path(args.work or tempfile.mkdtemp(prefix="golden_"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"groups": {}, "seconds": {}}

    def timed(name, fn):
        t = time.time()
        print(f"[golden] {name}", file=sys.stderr, flush=True)
        out["groups"][name] = fn()
        out["seconds"][name] = round(time.time() - t, 1)

    import contextlib
    import io

    from bidrn_hw.cli import main as cli_main

    exp = work / "tiny_export"

    def export():
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli_main(["export", "--config", "tiny", "--out", str(exp)]) == 0
        return hash_tree(exp, work)

    if "export" not in skip or "compile" not in skip:
        timed("export_tiny", export)

    from bidrn_hw.flow.build import compile_partition

    def compile_tiny(mode):
        files = {}
        for part in TINY_PARTS:
            build = work / f"tiny_{mode}" / part
            kw = {"target_fps": 500.0, "fclk_mhz": 50.0, "part": "ecp5-85k"} if mode == "auto" else {}
            compile_partition(exp / part / "model.onnx", build, **kw)
            files.update({f"{part}/{k}": v for k, v in hash_tree(build, work).items()})
        return files

    if "compile" not in skip:
        timed("compile_tiny_pixel", lambda: compile_tiny("pixel"))
        timed("compile_tiny_auto", lambda: compile_tiny("auto"))

    if "bnn" not in skip:
        from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

        preset = ROOT / "bidrn_hw" / "flow" / "presets" / "cnv_w1a1_pynq.json"

        def bnn(net, folding):
            onnx = work / f"{net}.onnx"
            export_bnn_pynq(net, onnx, seed=3)
            build = work / net
            compile_partition(onnx, build, folding=folding)
            return {"model.onnx": hash_file(onnx, work), **hash_tree(build, work)}

        timed("tfc-w1a1_pixel", lambda: bnn("tfc-w1a1", None))
        timed("cnv-w1a1_pynq_folding", lambda: bnn("cnv-w1a1", preset))

    from bidrn_hw.flow.frame_estimate import estimate_config

    for config in ("edge", "paper"):
        if config in skip:
            continue

        def est(config=config):
            result = estimate_config(config, work / "estimates")
            for k in VOLATILE_ESTIMATE_KEYS:
                result.pop(k, None)
            return {"result": _digest(json.dumps(result, sort_keys=True).encode()),
                    "frame_fps": result["frame_fps"], "resources": result["resources"]}

        timed(f"estimate_{config}", est)

    out["combined"] = {g: combined(v) for g, v in out["groups"].items()}
    print(json.dumps(out, indent=1, sort_keys=True))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
