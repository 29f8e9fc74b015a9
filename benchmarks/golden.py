"""Golden hashes of the flow's outputs, to show that a refactoring leaves its behaviour unchanged byte for byte.

    .venv/bin/python benchmarks/golden.py [--skip paper] [--work DIR] [--compare benchmarks/results/golden.json]

``--compare F`` names, per group, the files whose hashes differ from those in F (exit status 1 if any).

Hashes (SHA-256, first 16 hex digits) of every file that these write, per file:
- ``export --config tiny`` (QONNX per partition, reference frames, partition.json);
- ``compile`` of the three tiny partitions with pixel folding and auto-folded for 500 runs/s at 50 MHz on
  ecp5-85k (the demo's folding); TFC-w1a1 (pixel folding) and CNV-w1a1 with FINN's Pynq-Z1 folding
  (``bidrn_hw/flow/presets/cnv_w1a1_pynq.json``), both exported by ``bnn_pynq.export_bnn_pynq`` with seed 3;
- the whole-frame estimates of ``edge`` and ``paper`` (``frame_estimate.estimate_config``, as
  ``benchmarks/compile_time.py`` reports them; paper takes about two minutes).

What is excluded, being legitimately not deterministic:
- absolute paths: every occurrence of the work directory's absolute path in a file is replaced by ``<WORK>``
  before hashing (``accel.json`` and the RTL named memory files by absolute path before format 2), and the
  random name of the temporary sibling an output folder is built in (``.<name>.tmp-XXXXXXXX``, or
  ``.<name>.XXXXXXXX`` before builddir.py) by the folder's own name (``partition.json`` records the path of
  the model it wrote);
- the estimate's wall-clock figures: the keys ``seconds``, ``pass_seconds``, ``slowest_pass`` (the pass that
  took longest, with its seconds) and ``exported`` (whether an earlier export was reused) of
  ``estimate_config``'s result;
- ``estimates.png``: hashed as its decoded pixels (matplotlib's PNG metadata names its version), via Pillow;
- the names of the tensors folding inserts (FIFOs, width converters: qonnx's ``make_new_valueinfo_name``, an
  unseeded random string; a graph input the lowering exposes can have one): ``hw.onnx`` is hashed with every
  tensor but the initializers renamed ``t<k>`` in order of appearance, ``accel.json`` with the same renaming
  of the stream tensors it names and the sha256 it records of each file (format 2) replaced by the file's
  hash here;
- the build-directory marker's time stamp (``.bidrn-hw.json`` ``created``);
- the repository's own path (``<ROOT>``: a folding file is recorded by its path).
Compiles skip the pass-by-pass exactness check (``--no-check``: it checks, it writes nothing).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY_PARTS = ("body_encoder", "hand_encoder", "face_encoder")
VOLATILE_ESTIMATE_KEYS = ("seconds", "pass_seconds", "slowest_pass", "exported")
TEMP_SIBLING = re.compile(rb"<WORK>((?:/[^/\s\"]+)*)/\.([^/\s\"]+?)\.(?:tmp-)?[A-Za-z0-9_]{8}(?=/)")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _tensor_names(model) -> dict[str, str]:
    """Every tensor name but the initializers' -> t<k>, in order of appearance (inputs, then node by node)."""
    g = model.graph
    constant = {t.name for t in g.initializer}
    names: dict[str, str] = {}
    for t in [i.name for i in g.input] + [t for node in g.node for t in list(node.input) + list(node.output)]:
        if t and t not in constant and t not in names:
            names[t] = f"t{len(names)}"
    return names


def canonical_onnx(path: Path) -> tuple[bytes, dict[str, str]]:
    """The model serialized with its tensors renamed (:func:`_tensor_names`), and the renaming."""
    import onnx

    model = onnx.load(str(path))
    g, names = model.graph, _tensor_names(model)
    for node in g.node:
        node.input[:] = [names.get(t, t) for t in node.input]
        node.output[:] = [names.get(t, t) for t in node.output]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = names.get(vi.name, vi.name)
    for ann in g.quantization_annotation:
        ann.tensor_name = names.get(ann.tensor_name, ann.tensor_name)
    # the residual fusion's record names the skip tensor of each join, often one the fusion removed (so not in
    # the graph): those get names of their own, m<k> in order of appearance
    removed: dict[str, str] = {}
    for prop in list(model.metadata_props) + list(g.metadata_props):
        if prop.key == "bidrn_hw.residual_fusion":
            record = json.loads(prop.value)
            for entry in record:
                if "skip" in entry:
                    t = entry["skip"]
                    entry["skip"] = names.get(t) or removed.setdefault(t, f"m{len(removed)}")
            prop.value = json.dumps(record)
    return model.SerializeToString(), names


def hash_file(path: Path, work: Path) -> str:
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as im:
            return _digest(f"{im.mode}{im.size}".encode() + im.tobytes())
    if path.name == "hw.onnx":
        return _digest(canonical_onnx(path)[0])
    data = path.read_bytes()
    if path.name == ".bidrn-hw.json":
        data = re.sub(rb'"created": "[^"]*"', b'"created": ""', data)
    if path.name == "accel.json" and (path.parent / "hw.onnx").is_file():  # (its stream tensors, files' hashes)
        for f in path.parent.rglob("*"):
            if f.is_file() and f.name not in ("accel.json", ".bidrn-hw.json"):
                digest = hashlib.sha256(f.read_bytes()).hexdigest().encode()
                data = data.replace(digest, hash_file(f, work).encode())
        for name, canonical in canonical_onnx(path.parent / "hw.onnx")[1].items():
            data = data.replace(b'"%s"' % name.encode(), b'"%s"' % canonical.encode())
    data = data.replace(str(ROOT).encode(), b"<ROOT>")
    for w in {str(work), str(work.resolve())}:
        data = data.replace(w.encode(), b"<WORK>")
    return _digest(TEMP_SIBLING.sub(rb"<WORK>\1/\2", data))


def hash_tree(root: Path, work: Path) -> dict:
    return {str(p.relative_to(root)): hash_file(p, work) for p in sorted(root.rglob("*")) if p.is_file()}


def combined(files: dict) -> str:
    return _digest(json.dumps(files, sort_keys=True).encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip", default="", help="comma-separated groups to skip: export,compile,bnn,edge,paper")
    ap.add_argument("--work", default=None, help="work directory (default: a temporary one, removed)")
    ap.add_argument("--compare", default=None, metavar="F", help="an earlier output to compare with")
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
    if args.compare:
        before = json.loads(Path(args.compare).read_text())["groups"]
        differ = False
        for group, files in out["groups"].items():
            old = before.get(group, {})
            diff = sorted(f for f in set(files) | set(old) if files.get(f) != old.get(f))
            differ |= bool(diff)
            print(f"[golden] {group}: {'equal' if not diff else 'differ: ' + ', '.join(diff[:20])}", file=sys.stderr)
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
