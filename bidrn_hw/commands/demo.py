"""The main job: the trained tiny BiDRN from one image to a mesh, through its simulated accelerators.

Stages (each records its result in DIR/stages.json when it finishes; a rerun skips every finished stage whose
inputs did not change and whose files are still there, and redoes the rest and what depends on them):

1. input image: one synthetic frame with its ground truth (or ``--image PATH``), DIR/input.png, DIR/sample.npz
2. export: the shipped trained checkpoint's hardware variant (integer encoders, calibrated on 8 training
   frames) runs on the image; the frames each encoder receives (the resized image, the two hand crops, the
   face crop at the predicted boxes, as uint8) and its integer outputs are kept, and each encoder is exported
   to QONNX (DIR/partitions/<name>/)
3. QONNX execution of each partition on those frames against the Brevitas hardware variant
4. compile each partition (FINN passes, folding, RTL, estimates: DIR/build/<name>/)
5. simulate each in Verilator on those frames (repeated ``--repeat`` times back to back, so the steady-state
   cycles per frame show), compared integer for integer with FINN's execution of the compiled graph and
   with the Brevitas hardware variant
6. host part: BoxNet, crops, heads and the SMPL-X layer run on the RTL's outputs; the crops the host cuts
   from the RTL's body features must be the very frames the hand/face RTL was fed -> DIR/mesh.obj
7. whole-frame estimates for the tiny, edge and paper configs (bidrn_hw.flow.frame_estimate)
8. with ``--bitstream``: each partition's ECP5 bitstream (Yosys, nextpnr-ecp5, ecppack)

Then DIR/report.html (self-contained) is written and a short summary printed.
"""
from __future__ import annotations

import json
import shutil
import time
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from finn.core.onnx_exec import execute_onnx
from PIL import Image, UnidentifiedImageError
from qonnx.core.modelwrapper import ModelWrapper
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from ..body.smplx_layer import BodyModel
from ..devices import device_budget
from ..errors import InputFileError, MismatchError, ToolError, UsageError
from ..flow import host_ops
from ..flow.build import compile_partition
from ..flow.frame_estimate import estimate_config
from ..fpga.ecp5 import build_bitstream
from ..model.configs import get_config
from ..model.export import export_hardware_encoder, run_qonnx
from ..model.hardware import encoder_inputs, to_hardware_network, to_uint8_levels
from ..partition import FPGA_PARTITIONS as PARTITIONS
from ..partition import partition_input_hw
from ..report import write_report
from ..rtl_sim import accelerator
from ..train.checkpoint import load_demo_model
from ..train.data import SyntheticGenerator, SyntheticWholeBody
from ..train.evaluation import stacked_images
from ..train.metrics import MeshMetrics
from .demo_stages import Stages, atomic_dir, atomic_save, atomic_write_text, file_digest
from .simulate import _to_stream

ESTIMATE_CONFIGS = ("tiny", "edge", "paper")
DEFAULT_ESTIMATES = ("tiny", "edge")
DEFAULT_TARGET_FPS = 500.0
CALIBRATION_FRAMES = 8
RESIDUAL_BITS = 8


def add_arguments(parser):
    parser.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")
    parser.add_argument("--image", default=None, metavar="PATH",
                        help="an image file (PNG, JPEG, ...) instead of the synthetic frame; it is centre-cropped "
                             "to 3:4 and resized to the tiny config's 96x128")
    parser.add_argument("--index", type=int, default=0,
                        help="which synthetic validation frame (default 0; ignored with --image)")
    parser.add_argument("--checkpoint", default=None, metavar="PT",
                        help="a tiny BiDRN checkpoint (default: the trained one shipped with the package)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="stream each partition's frames this many times back to back (default 2; >= 2 "
                             "measures the steady-state cycles per frame)")
    parser.add_argument("--stall", type=float, default=0.0,
                        help="probability of a tvalid gap / tready stall per cycle in simulation (default 0)")
    parser.add_argument("--estimates", default=",".join(DEFAULT_ESTIMATES), metavar="CONFIGS",
                        help="configs to estimate whole frames for (export, FINN lowering, joint folding), "
                             "comma-separated from tiny,edge,paper (default: tiny,edge; paper's lowering alone takes "
                             "longer than the demo's 15-minute budget on a 2-core machine); 'none' skips")
    parser.add_argument("--target-fps", type=float, default=DEFAULT_TARGET_FPS, metavar="N",
                        help=f"fold each partition for N encoder runs/s at --freq-mhz under --device's budget "
                             f"(default {DEFAULT_TARGET_FPS:g}: each partition alone fits the ECP5-85F, the design "
                             f"--bitstream builds); 0: pixel folding, the fastest, whose Verilator builds take many "
                             f"minutes")
    parser.add_argument("--bitstream", action="store_true",
                        help="also build each partition's ECP5 bitstream (not timed in the 15-minute budget)")
    parser.add_argument("--device", default="ecp5-85k", help="ECP5 device for --bitstream (default ecp5-85k)")
    parser.add_argument("--freq-mhz", type=float, default=50.0, help="clock for --bitstream (default 50 MHz)")
    parser.add_argument("--seed", type=int, default=0, help="stall pattern seed")
    parser.add_argument("--fresh", action="store_true", help="redo every stage")


# ---------------------------------------------------------------------------------------------------------
def load_image(path: str, size_hw: tuple[int, int]):
    """An image file -> (H, W, 3) uint8 at ``size_hw``: centre-cropped to its aspect ratio, then resized."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"--image {path}: file not found")
    if not p.is_file():
        raise InputFileError(f"--image {path}: not a file")
    try:
        with Image.open(p) as im:
            im.load()
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputFileError(f"--image {path}: not a readable image file ({type(exc).__name__}: {exc})") from None
    h, w = size_hw
    iw, ih = rgb.size
    if iw < 2 or ih < 2:
        raise InputFileError(f"--image {path}: image of {iw}x{ih} pixels is too small")
    target = w / h
    if iw / ih > target:  # too wide: crop the sides
        cw = round(ih * target)
        box = ((iw - cw) // 2, 0, (iw - cw) // 2 + cw, ih)
    else:
        ch = round(iw / target)
        box = (0, (ih - ch) // 2, iw, (ih - ch) // 2 + ch)
    return np.asarray(rgb.crop(box).resize((w, h), Image.BILINEAR), dtype=np.uint8)


class Demo:
    """What the stages share, built on first use (a rerun that skips everything loads no model)."""

    def __init__(self, args, out: Path):
        self.args, self.out = args, out
        self.cfg = get_config("tiny")

    @cached_property
    def body(self):
        return BodyModel()

    @cached_property
    def net(self):
        return load_demo_model(self.args.checkpoint, body_model=self.body)

    @cached_property
    def hw_net(self):
        """The hardware variant: the three encoders integer, calibrated on the first training frames."""
        calibration = SyntheticWholeBody(self.cfg, size=CALIBRATION_FRAMES, split="train",
                                         generator=SyntheticGenerator(self.cfg, self.body))
        return to_hardware_network(self.net, stacked_images(calibration, CALIBRATION_FRAMES), RESIDUAL_BITS)

    def image_tensor(self):
        image = np.load(self.out / "sample.npz")["image"]
        return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0

    # ---- stages ------------------------------------------------------------------------------------
    def stage_input(self) -> dict:
        h, w = self.cfg.image_input
        if self.args.image:
            image = load_image(self.args.image, (h, w))
            arrays = {"image": image}
            source = {"kind": "file", "path": str(Path(self.args.image).resolve())}
        else:
            s = SyntheticGenerator(self.cfg, self.body).generate(0, [self.args.index], split="val", with_vertices=True)
            arrays = {k: s[k][0] for k in ("image", "boxes", "vertices", "cam_trans", "joints_img")}
            source = {"kind": "synthetic", "split": "val", "seed": 0, "index": self.args.index}
        atomic_save(self.out / "sample.npz", lambda p: np.savez(p, **arrays))
        atomic_save(self.out / "input.png", lambda p: Image.fromarray(arrays["image"]).save(p))
        return {"source": source, "height": h, "width": w, "ground_truth": "vertices" in arrays}

    def stage_export(self) -> dict:
        """Run the hardware variant on the image, keep each encoder's uint8 frames and integer outputs,
        export each encoder to QONNX."""
        hw_net = self.hw_net
        captured = encoder_inputs(hw_net, self.image_tensor())
        summary = {}
        for name in PARTITIONS:
            enc = getattr(hw_net, name).hardware
            frames = to_uint8_levels(captured[name])  # (N, 3, H, W): 1 body, 2 hands (left flipped), 1 face
            with torch.no_grad():
                outputs = torch.stack([enc(x[None]) for x in frames])
            size = partition_input_hw(self.cfg, name)
            with atomic_dir(self.out / "partitions" / name) as tmp:
                qonnx = export_hardware_encoder(enc, size, tmp / "model.onnx")
                np.save(tmp / "inputs.npy", frames[:, None].numpy().astype(np.uint8))
                np.save(tmp / "outputs.npy", outputs.numpy().astype(np.int64))
                info = {"frames": int(frames.shape[0]), "input_shape": [1, *frames.shape[1:]],
                        "output_shape": list(outputs.shape[1:]), "output_scale": enc.scale,
                        "residual_bits": RESIDUAL_BITS, "nodes": len(qonnx.graph.node),
                        "channels_flipped": enc.report.channels_flipped,
                        "negative_slopes_clamped": enc.report.negative_slopes_clamped}
                (tmp / "partition.json").write_text(json.dumps(info, indent=2))
            summary[name] = info
        return {"partitions": summary, "calibration_frames": CALIBRATION_FRAMES}

    def stage_qonnx(self) -> dict:
        result = {}
        for name in PARTITIONS:
            pdir = self.out / "partitions" / name
            model = ModelWrapper(str(pdir / "model.onnx"))
            inputs, expected = np.load(pdir / "inputs.npy"), np.load(pdir / "outputs.npy")
            mismatches = sum(int((run_qonnx(model, x.astype(np.float32)) != y).sum()) for x, y in zip(inputs, expected))
            result[name] = {"frames": len(inputs), "mismatches": mismatches, "bit_exact": mismatches == 0}
        return {"partitions": result, "bit_exact": all(r["bit_exact"] for r in result.values())}

    def stage_compile(self, name: str, status) -> dict:
        pdir = self.out / "partitions" / name
        check = [np.load(pdir / "inputs.npy")[0].astype(np.float32)]
        result = compile_partition(pdir / "model.onnx", self.out / "build" / name, check_inputs=check,
                                   part=self.args.device, fclk_mhz=self.args.freq_mhz,
                                   target_fps=self.args.target_fps or None,
                                   log=lambda msg: status(f"compile {name}: {str(msg)[:70]}"))
        est = json.loads((self.out / "build" / name / "estimates.json").read_text())
        return {"top": result["top"], "layers": result["layers"], "dir": str(self.out / "build" / name),
                "part": est["part"], "fclk_mhz": est["fclk_mhz"], "cycles_per_frame": est["cycles_per_frame"],
                "fps": est["fps"], "latency_cycles": est["latency_cycles"], "bottleneck": est["bottleneck"],
                "resources": est["resources"], "fits": est["fits"],
                "folding": (est.get("folding") or {}).get("mode", "pixel")}

    def stage_simulate(self, name: str, status) -> dict:
        build = self.out / "build" / name
        pdir = self.out / "partitions" / name
        inputs, reference = np.load(pdir / "inputs.npy"), np.load(pdir / "outputs.npy")
        n, repeat = len(inputs), self.args.repeat
        accel = accelerator.load_design(build)
        frames = _to_stream(np.concatenate([inputs] * repeat), accel["inputs"][0])
        accelerator.check_frames(accel, [frames])
        status(f"simulate {name}: Verilator build (cached) and {len(frames)} frames")
        start = time.time()
        sim = accelerator.simulate(build, [frames], stall=self.args.stall, seed=self.args.seed)
        sim_s = time.time() - start
        produced = sim["outputs"][0]
        status(f"simulate {name}: FINN execution of hw.onnx for comparison")
        hw = ModelWrapper(str(build / "hw.onnx"))
        iname, oname = hw.graph.input[0].name, hw.graph.output[0].name
        finn = np.stack([execute_onnx(hw, {iname: f[None].astype(np.float32)})[oname][0] for f in frames[:n]])
        vs_finn = int((produced != np.concatenate([finn] * repeat)).sum())
        out = host_ops.from_stream(host_ops.get(hw), produced)
        out = out.transpose(0, 3, 1, 2) if out.ndim == 4 else out
        ref = np.concatenate([reference] * repeat).reshape(out.shape)
        vs_brevitas = int((out != ref).sum())
        if vs_finn or vs_brevitas:
            raise MismatchError(f"{name}: the RTL's outputs differ from FINN's execution of {build / 'hw.onnx'} in "
                                f"{vs_finn} values and from the Brevitas hardware variant in {vs_brevitas}")
        rtl = out[:n].reshape(reference.shape)
        atomic_save(self.out / "simulation" / f"{name}.npy", lambda p: np.save(p, rtl.astype(np.int64)))
        done = sim["frame_done_cycles"]
        return {"frames": int(len(frames)), "distinct_frames": n, "repeat": repeat, "stall": self.args.stall,
                "bit_exact": True, "mismatches_vs_finn": vs_finn, "mismatches_vs_brevitas": vs_brevitas,
                "cycles_per_frame": sim["cycles_per_frame"], "first_frame_cycles": int(done[0]) if done else None,
                "estimated_cycles_per_frame": accel.get("estimated_cycles_per_frame"),
                "total_cycles": int(sim["cycles"]), "simulation_s": round(sim_s, 2),
                "outputs": str(self.out / "simulation" / f"{name}.npy")}

    def stage_host(self) -> dict:
        """The host part on the RTL's outputs: each encoder of the hardware network is replaced by the
        RTL's recorded output for the frame it is given (which must be the frame the RTL was fed)."""
        hw_net, image = self.hw_net, self.image_tensor()
        with torch.no_grad():
            ref = hw_net(image)  # Brevitas hardware variant, end to end
            float_pred = self.net(image)  # the float (fake-quantized) model it came from
        originals = {name: getattr(hw_net, name) for name in PARTITIONS}
        try:
            for name in PARTITIONS:
                pdir = self.out / "partitions" / name
                setattr(hw_net, name, rtl_replay(name, np.load(pdir / "inputs.npy"),
                                                np.load(self.out / "simulation" / f"{name}.npy"),
                                                originals[name].scale))
            with torch.no_grad():
                pred = hw_net(image)
        finally:
            for name, module in originals.items():
                setattr(hw_net, name, module)
        same = bool(torch.equal(pred["vertices"], ref["vertices"]))
        verts = pred["vertices"][0].numpy()
        faces = self.body.faces.numpy().astype(np.int64)

        def write_obj(p):
            with open(p, "w") as f:
                f.writelines(f"v {x:.5f} {y:.5f} {z:.5f}\n" for x, y, z in verts)
                f.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)

        atomic_save(self.out / "mesh.obj", write_obj)
        arrays = {"vertices": verts, "faces": faces, "boxes": pred["boxes"][0].numpy(),
                  "cam_trans": pred["cam_trans"][0].numpy(), "joints": pred["joints"][0].numpy(),
                  "float_vertices": float_pred["vertices"][0].numpy()}
        atomic_save(self.out / "prediction.npz", lambda p: np.savez(p, **arrays))
        result = {"mesh": str(self.out / "mesh.obj"), "vertices": int(verts.shape[0]), "faces": int(faces.shape[0]),
                  "joints": int(pred["joints"].shape[1]), "mesh_equals_brevitas_hardware_variant": same,
                  "body_model": "stand-in" if self.body.is_standin else str(self.body.path)}
        sample = np.load(self.out / "sample.npz")
        if "vertices" in sample:
            metrics = MeshMetrics.for_body_model(self.body)
            gt = torch.from_numpy(sample["vertices"])[None]
            result["metrics_rtl_mm"] = {k: round(float(v[0]), 1) for k, v in metrics(pred["vertices"], gt).items()}
            result["metrics_float_mm"] = {k: round(float(v[0]), 1)
                                          for k, v in metrics(float_pred["vertices"], gt).items()}
        return result

    def stage_estimate(self, config: str, status) -> dict:
        """Whole-frame joint fold and estimate of ``config`` on its target device. For ``tiny`` these are the
        demo's own partitions (the trained checkpoint); ``edge`` and ``paper`` are exported with random weights
        (weights do not change the estimate, only the shapes do)."""
        work = self.out / "estimates" / config
        source = f"bidrn-hw export --config {config} (random weights)"
        if config == "tiny":
            with atomic_dir(work / "tiny_export") as tmp:
                for name in PARTITIONS:
                    (tmp / name).mkdir()
                    shutil.copy(self.out / "partitions" / name / "model.onnx", tmp / name / "model.onnx")
            source = "this demo's partitions (the trained checkpoint)"
        est = estimate_config(config, work, progress=lambda msg: status(f"estimate {config}: {str(msg)[:70]}"))
        est.pop("pass_seconds", None)  # per-pass lowering seconds: in the benchmark, too long for the report
        return {"estimate": est, "source": source}

    def stage_bitstream(self, name: str) -> dict:
        try:
            return build_bitstream(self.out / "build" / name, device=self.args.device, freq_mhz=self.args.freq_mhz)
        except ToolError as exc:  # e.g. does not fit the device: reported, the other partitions still build
            return {"error": str(exc), "device": self.args.device}


def rtl_replay(name, inputs, outputs, scale):
    """A module that stands in for an encoder inside the hardware network: it returns the RTL's output levels
    (times the residual scale) for the frames it is given, after checking they are the frames the RTL was fed
    (``inputs`` (N, 1, 3, H, W) uint8, ``outputs`` (N, 1, C, h, w) integers)."""
    class RTLReplay(nn.Module):
        def __init__(self):
            super().__init__()
            self.fed = torch.from_numpy(inputs.astype("float32"))[:, 0]
            self.produced = torch.from_numpy(outputs.astype("float32"))[:, 0]
            self.scale = scale

        def forward(self, x):
            levels = to_uint8_levels(x)
            if levels.shape != self.fed.shape or not torch.equal(levels, self.fed):
                raise MismatchError(f"{name}: the host's frames (shape {tuple(levels.shape)}) are not the frames "
                                    f"the RTL simulated (shape {tuple(self.fed.shape)})")
            return self.produced * self.scale

    return RTLReplay()


# ---------------------------------------------------------------------------------------------------------
def run(args) -> dict:
    if args.repeat < 1:
        raise UsageError(f"--repeat must be >= 1, got {args.repeat}")
    if not args.target_fps >= 0 or args.target_fps == float("inf"):
        raise UsageError(f"--target-fps must be >= 0 (0: pixel folding), got {args.target_fps}")
    if args.freq_mhz is not None and not (0 < args.freq_mhz < float("inf")):
        raise UsageError(f"--freq-mhz must be a positive number, not {args.freq_mhz}")

    device_budget(args.device)  # an unknown part fails before anything is written
    if not 0.0 <= args.stall < 1.0:
        raise UsageError(f"--stall must be in [0, 1), got {args.stall}")
    configs = [] if args.estimates.strip().lower() in ("", "none") else [c.strip() for c in args.estimates.split(",")]
    unknown = [c for c in configs if c not in ESTIMATE_CONFIGS]
    if unknown:
        raise UsageError(f"--estimates: unknown config {unknown[0]!r}; choose from {', '.join(ESTIMATE_CONFIGS)}")
    image_key = None
    if args.image:
        load_image(args.image, get_config("tiny").image_input)  # a bad --image fails before anything is written
        image_key = file_digest(Path(args.image))
    ckpt_key = None
    if args.checkpoint:
        if not Path(args.checkpoint).is_file():
            raise InputFileError(f"--checkpoint {args.checkpoint}: file not found")
        ckpt_key = file_digest(Path(args.checkpoint))

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "stages.json").is_file())):
        # the demo replaces its own sub-folders (partitions/, build/...): never in a folder it did not make
        raise UsageError(f"--out {out}: exists and is not a demo folder (no stages.json); refusing to write into "
                         f"it: choose a new or empty folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(f"--out {out}: cannot create it ({exc.strerror})") from None
    if not (out / "stages.json").is_file():  # marks the folder as the demo's from the start (a rerun after
        atomic_write_text(out / "stages.json", "{}")  # Ctrl-C in the first stage is not refused)
    stages = Stages(out, args.fresh)
    console = Console(stderr=True, quiet=args.json)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=args.json) as progress:
        demo = Demo(args, out)
        plan = [("input image", demo.stage_input, {"image": image_key, "index": None if args.image else args.index},
                 ["input.png", "sample.npz"], [])]
        plan.append(("export partitions", demo.stage_export, {"checkpoint": ckpt_key, "bits": RESIDUAL_BITS},
                     [f"partitions/{p}/{f}" for p in PARTITIONS for f in ("model.onnx", "inputs.npy", "outputs.npy")],
                     ["input image"]))
        plan.append(("QONNX vs Brevitas", demo.stage_qonnx, None, [], ["export partitions"]))
        for p in PARTITIONS:
            plan.append((f"compile {p}", lambda p=p: demo.stage_compile(p, status),
                         {"part": args.device, "fclk_mhz": args.freq_mhz, "target_fps": args.target_fps},
                         [f"build/{p}/accel.json", f"build/{p}/estimates.json"], ["export partitions"]))
        for p in PARTITIONS:
            plan.append((f"simulate {p}", lambda p=p: demo.stage_simulate(p, status),
                         {"repeat": args.repeat, "stall": args.stall, "seed": args.seed},
                         [f"simulation/{p}.npy"], [f"compile {p}"]))
        plan.append(("host part and SMPL-X mesh", demo.stage_host, None, ["mesh.obj", "prediction.npz"],
                     [f"simulate {p}" for p in PARTITIONS]))
        for c in configs:
            plan.append((f"estimate {c}", lambda c=c: demo.stage_estimate(c, status), None, [],
                         ["export partitions"] if c == "tiny" else []))
        if args.bitstream:
            for p in PARTITIONS:
                plan.append((f"bitstream {p}", lambda p=p: demo.stage_bitstream(p),
                             {"device": args.device, "freq_mhz": args.freq_mhz}, [], [f"compile {p}"]))
        task = progress.add_task("demo", total=len(plan) + 1)

        def status(text: str) -> None:
            progress.update(task, description=text)

        results = {}
        for name, fn, key, files, deps in plan:
            if stages.is_done(name, key, files, deps):
                progress.console.print(f"[dim]{name}: done earlier ({stages.done[name]['seconds']} s), skipped[/dim]")
            results[name] = stages.run(name, fn, key=key, files=files, deps=deps, on_start=status)
            if name in stages.ran:
                progress.console.print(f"{name}: {results[name]['seconds']} s")
            progress.update(task, advance=1)
        status("report")

        summary = summarize(out, results, stages)
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
        report = write_report(out, summary)
        progress.update(task, advance=1, description="done")
    return {"bit_exact": summary["bit_exact"], "cycles_per_frame": summary["cycles_per_frame_text"],
            "mesh": summary["mesh"], "mpvpe_mm": summary.get("mpvpe_mm"), "estimates": summary["estimates_text"],
            "bitstream": summary.get("bitstream_text"), "stages_run": len(stages.ran),
            "stages_skipped": len(plan) - len(stages.ran), "seconds": summary["seconds_this_run"],
            "report": str(report)}


def summarize(out: Path, results: dict, stages: Stages) -> dict:
    """Everything the report and the printed summary need, in one JSON-able dict (DIR/summary.json)."""
    sims = {p: results[f"simulate {p}"] for p in PARTITIONS}
    compiles = {p: results[f"compile {p}"] for p in PARTITIONS}
    qonnx = results["QONNX vs Brevitas"]
    host = results["host part and SMPL-X mesh"]
    bit_exact = (qonnx["bit_exact"] and all(s["bit_exact"] for s in sims.values())
                 and host["mesh_equals_brevitas_hardware_variant"])
    estimates = {k.split(" ", 1)[1]: {**v["estimate"], "source": v["source"]}
                 for k, v in results.items() if k.startswith("estimate ")}
    bitstreams = {k.split(" ", 1)[1]: v for k, v in results.items() if k.startswith("bitstream ")}
    summary = {
        "out": str(out), "config": "tiny", "bit_exact": bit_exact,
        "input": results["input image"], "export": results["export partitions"], "qonnx": qonnx,
        "compile": compiles, "simulate": sims, "host": host, "estimates": estimates, "bitstreams": bitstreams,
        "mesh": host["mesh"], "mpvpe_mm": (host.get("metrics_rtl_mm") or {}).get("mpvpe_mm"),
        "stage_seconds": {name: results[name]["seconds"] for name in results},
        "seconds_total_stages": round(sum(results[name]["seconds"] for name in results), 1),
        "seconds_this_run": round(sum(results[name]["seconds"] for name in stages.ran), 1),
        "cycles_per_frame_text": {p: f"{s['cycles_per_frame']} measured, {s['estimated_cycles_per_frame']} estimated"
                                  for p, s in sims.items()},
        "estimates_text": {c: f"{e['frame_fps']:,} frames/s on {e['part']} at {e['fclk_mhz']:g} MHz"
                              f"{'' if e['fits'] else ' (does not fit)'}" for c, e in estimates.items()},
    }
    if bitstreams:
        summary["bitstream_text"] = {p: (f"Fmax {b['fmax_mhz']} MHz" if "fmax_mhz" in b else b.get("error", "failed"))
                                     for p, b in bitstreams.items()}
    return summary
