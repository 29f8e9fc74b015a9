"""The main job on built-in defaults: the tiny BiDRN end to end.

Stages (each writes its results under DIR and is skipped when a rerun finds it finished):
body model -> model -> FPGA partitions exported to QONNX -> QONNX execution vs the Brevitas hardware
variant (bit-exact) -> host part and SMPL-X mesh -> Table-1 style counts for tiny/edge/paper.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


def add_arguments(parser):
    parser.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")
    parser.add_argument("--config", default="tiny", help="model config (default: tiny)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="redo every stage")


class Stages:
    """Runs named stages once; a finished stage's result is stored in DIR/stages.json."""

    def __init__(self, out: Path, fresh: bool):
        self.out = out
        self.file = out / "stages.json"
        self.done = {} if fresh or not self.file.exists() else json.loads(self.file.read_text())

    def run(self, name: str, fn, progress, task):
        if name in self.done:
            progress.update(task, description=f"{name} (done earlier)", advance=1)
            return self.done[name]
        progress.update(task, description=name)
        start = time.time()
        result = fn()
        result["seconds"] = round(time.time() - start, 2)
        self.done[name] = result
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.done, indent=2, default=str))
        tmp.replace(self.file)
        progress.update(task, advance=1)
        return result


def run(args) -> dict:
    import numpy as np
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..body.smplx_layer import BodyModel
    from ..model.configs import get_config
    from ..model.counter import count
    from ..model.export import run_qonnx
    from ..model.network import WholeBodyNet
    from ..partition import export_partitions

    cfg = get_config(args.config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out, args.fresh)
    torch.manual_seed(args.seed)

    def make_model():
        body = BodyModel()
        model = WholeBodyNet(cfg, "bidrn", body).eval()
        return model, body

    model, body = make_model()

    def stage_export():
        summary = export_partitions(model, out / "partitions", frames=4, seed=args.seed)
        return {name: {"qonnx": p["qonnx"], "nodes": p["nodes"]} for name, p in summary["partitions"].items()}

    def stage_qonnx_check():
        from qonnx.core.modelwrapper import ModelWrapper

        result = {}
        for name in ("body_encoder", "hand_encoder", "face_encoder"):
            pdir = out / "partitions" / name
            qonnx = ModelWrapper(str(pdir / "model.onnx"))
            inputs, expected = np.load(pdir / "inputs.npy"), np.load(pdir / "outputs.npy")
            mismatches = sum(int((run_qonnx(qonnx, x.astype(np.float32)) != y).sum()) for x, y in zip(inputs, expected))
            result[name] = {"frames": len(inputs), "mismatches": mismatches, "bit_exact": mismatches == 0}
        return result

    def stage_mesh():
        h, w = cfg.image_input
        image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(args.seed))
        start = time.time()
        with torch.no_grad():
            pred = model(image)
        host_s = time.time() - start
        verts = pred["vertices"][0].numpy()
        faces = body.faces.numpy()
        obj = out / "mesh.obj"
        with open(obj, "w") as f:
            f.writelines(f"v {x:.5f} {y:.5f} {z:.5f}\n" for x, y, z in verts)
            f.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)
        return {"mesh": str(obj), "vertices": int(verts.shape[0]), "faces": int(faces.shape[0]),
                "joints": int(pred["joints"].shape[1]), "host_forward_s": round(host_s, 3),
                "body_model": "stand-in" if body.is_standin else str(body.path)}

    def stage_counts():
        return {name: {k: v for k, v in count(WholeBodyNet(get_config(name), "bidrn")).items() if k != "by_module"}
                for name in ("tiny", "edge", "paper")}

    plan = [("export FPGA partitions to QONNX", stage_export),
            ("QONNX execution vs Brevitas hardware variant", stage_qonnx_check),
            ("host part and SMPL-X mesh", stage_mesh),
            ("parameter/OP counts", stage_counts)]
    results = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=args.json) as progress:
        task = progress.add_task("demo", total=len(plan))
        for name, fn in plan:
            results[name] = stages.run(name, fn, progress, task)
    exact = all(p["bit_exact"] for p in results["QONNX execution vs Brevitas hardware variant"].values()
                if isinstance(p, dict))
    summary = {"out": str(out), "config": cfg.name, "bit_exact": exact, "stages": results}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return {"out": str(out), "bit_exact": exact, "mesh": results["host part and SMPL-X mesh"]["mesh"],
            "partitions": [k for k in results["export FPGA partitions to QONNX"] if k != "seconds"],
            "summary": str(out / "summary.json")}
