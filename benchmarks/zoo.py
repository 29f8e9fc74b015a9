"""The network zoo: networks written the way Brevitas users write them, through the flow as a new user would.

For each network: build it (Brevitas ``bnn_pynq`` models exactly as ``brevitas_examples`` defines them, a
user-style ResNet, a depthwise-separable block, Brevitas' ``quant_mobilenet_v1`` at width 0.25 and 4 bits),
randomize it (weights, BatchNorm statistics measured from data with affine weights of both signs, activation
scales calibrated with Brevitas' calibration mode), report the share of non-zero values and the distinct values
of every activation quantizer's output (a layer with one value is dead: reported as such), export it to QONNX
with a UINT8 image input (FINN's ``Mul(1/255)`` pre-processing), then run the command line:

    bidrn-hw compile model.onnx --out B --target-fps R --fclk-mhz F --part P --json
    bidrn-hw simulate B --inputs frames.npy --outputs rtl.npy --frames 8 --stall 0.3 --json

and compare the RTL's output with **QONNX execution of the export** (``qonnx.core.onnx_exec``, not the flow's
graph): both are ``integer * scale + bias`` with the host scale/bias of accel.json, and the integers must be
equal (the QONNX integer is checked to be an integer to within 1e-3 first).

    .venv/bin/python benchmarks/zoo.py                 # every network; table + benchmarks/results/zoo.json
    .venv/bin/python benchmarks/zoo.py --only tfc-w2a2,resnet --out /tmp/zoo

A network the flow refuses is reported with the one-line error of ``compile`` (its ``kind`` and exit code).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "zoo.json"
CLI = [sys.executable, "-m", "bidrn_hw.cli"]


# --------------------------------------------------------------------------------------------------- networks

def _bnn_pynq(cfg_name: str):
    def build():
        from brevitas_examples.bnn_pynq.models import model_with_cfg

        return model_with_cfg(cfg_name, pretrained=False)[0]
    return build


def _fc_tiny(weight_bits: int, act_bits: int):
    """brevitas_examples' bnn_pynq FC class (TFC/SFC/LFC) with tiny widths: two hidden layers of 16 on an 8x8
    input, the given bit widths (input quantizer at the activations' width, as the shipped configs have it),
    no final quantizer (a QuantLinear and TensorNorm end it): the default test suite's stand-in for TFC."""
    def build():
        from brevitas_examples.bnn_pynq.models.FC import FC

        return FC(num_classes=10, weight_bit_width=weight_bits, act_bit_width=act_bits, in_bit_width=act_bits,
                  in_channels=1, out_features=[16, 16], in_features=(8, 8))
    return build


def _value(t):
    """A QuantTensor's dequantized value (a plain tensor as is: calibration mode returns plain tensors)."""
    return t.value if hasattr(t, "value") else t


def _resnet(separate: bool = False, width: int = 8):
    """A small user-style residual network: QuantIdentity on the input, QuantConv2d with and without bias,
    BatchNorm, QuantReLU, one residual add whose operands share a quantizer and one with separate quantizers
    (a 1x1 projection shortcut with bias; ``separate=True``), average pooling by TruncAvgPool2d and a global one
    by ``.mean``, flatten and a QuantLinear head. ``width``: the first stage's channels (the second has twice)."""
    import brevitas.nn as qnn
    import torch.nn as nn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    class Act4(Uint8ActPerTensorFloat):
        bit_width = 4

    class SAct4(Int8ActPerTensorFloat):
        bit_width = 4

    class W4(Int8WeightPerTensorFloat):
        bit_width = 4

    def conv(cin, cout, k, stride=1, bias=False):
        return qnn.QuantConv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias, weight_quant=W4,
                               bias_quant=None if not bias else __import__("brevitas").quant.Int32Bias)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, shared):
            super().__init__()
            self.c1, self.b1 = conv(cin, cout, 3, stride), nn.BatchNorm2d(cout)
            self.r1 = qnn.QuantReLU(act_quant=Act4, return_quant_tensor=True)
            self.c2, self.b2 = conv(cout, cout, 3), nn.BatchNorm2d(cout)
            # shared: the residual stream and the branch go through the same quantizer before the add
            self.q2 = qnn.QuantIdentity(act_quant=SAct4, return_quant_tensor=True)
            self.proj = None if cin == cout and stride == 1 else conv(cin, cout, 1, stride, bias=True)
            self.qs = self.q2 if shared else qnn.QuantIdentity(act_quant=SAct4, return_quant_tensor=True)
            self.out = qnn.QuantReLU(act_quant=Act4, return_quant_tensor=True)

        def forward(self, x):
            y = self.q2(self.b2(self.c2(self.r1(self.b1(self.c1(x))))))
            s = self.qs(x if self.proj is None else self.proj(x))
            # separate quantizers have different scales: the add is of the dequantized values
            return self.out(y + s if self.qs is self.q2 else _value(y) + _value(s))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=SAct4, return_quant_tensor=True)
            self.stem = conv(3, width, 3, bias=True)
            self.bn = nn.BatchNorm2d(width)
            self.relu = qnn.QuantReLU(act_quant=Act4, return_quant_tensor=True)
            self.block1 = Block(width, width, 1, shared=True)
            self.pool = qnn.TruncAvgPool2d(kernel_size=2, stride=2, bit_width=4, float_to_int_impl_type="floor")
            self.block2 = Block(width, 2 * width, 2, shared=not separate)
            self.qpool = qnn.QuantIdentity(act_quant=Act4, return_quant_tensor=False)
            self.head = qnn.QuantLinear(2 * width, 10, bias=True, weight_quant=W4,
                                        bias_quant=__import__("brevitas").quant.Int32Bias,
                                        input_quant=Act4)

        def forward(self, x):
            x = self.block1(self.relu(self.bn(self.stem(self.inp(x)))))
            x = self.block2(self.pool(x))
            x = self.qpool(_value(x).mean((2, 3), keepdim=True))
            return self.head(x.flatten(1))

    return ResNet()


def _depthwise(width: int = 8):
    """One depthwise-separable block as MobileNet writes it: 3x3 depthwise QuantConv2d (groups = channels),
    BatchNorm, QuantReLU, 1x1 pointwise QuantConv2d, BatchNorm, QuantReLU (``width`` channels in the block,
    twice that out)."""
    import brevitas.nn as qnn
    import torch.nn as nn
    from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    class A4(Uint8ActPerTensorFloat):
        bit_width = 4

    class W4(Int8WeightPerTensorFloat):
        bit_width = 4

    return nn.Sequential(
        qnn.QuantIdentity(act_quant=A4, return_quant_tensor=True),
        qnn.QuantConv2d(3, width, 3, padding=1, bias=False, weight_quant=W4), nn.BatchNorm2d(width),
        qnn.QuantReLU(act_quant=A4, return_quant_tensor=True),
        qnn.QuantConv2d(width, width, 3, padding=1, groups=width, bias=False, weight_quant=W4),
        nn.BatchNorm2d(width), qnn.QuantReLU(act_quant=A4, return_quant_tensor=True),
        qnn.QuantConv2d(width, 2 * width, 1, bias=False, weight_quant=W4), nn.BatchNorm2d(2 * width),
        qnn.QuantReLU(act_quant=A4))


def _mobilenet():
    """Brevitas' quant_mobilenet_v1 (brevitas_examples.imagenet_classification) at width 0.25, 4 bits, for a
    64x64 input (a 2x2 final average pool) and 10 classes."""
    from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

    channels = [[32], [64], [128, 128], [256, 256], [512] * 6, [1024, 1024]]
    channels = [[int(c * 0.25) for c in stage] for stage in channels]
    return MobileNet(channels=channels, first_stage_stride=False, round_average_pool=False, act_bit_width=4,
                     weight_bit_width=4, last_layer_bit_width=4, avg_pool_kernel_size=2, num_classes=10)


@dataclass
class Net:
    build: object
    shape: tuple
    target_fps: float
    part: str = "xc7z020"
    fclk_mhz: float = 100.0
    fast: bool = False          # in tests/test_zoo.py's default subset (tiny widths)
    notes: list = field(default_factory=list)


def networks() -> dict[str, Net]:
    from bidrn_hw.flow.bnn_pynq import NETWORKS

    nets = {}
    for name, (cfg, shape) in NETWORKS.items():
        fc = not name.startswith("cnv")
        # a stated rate each: the FC nets at 100k frames/s, CNV at FINN's BNN-PYNQ folding (3,052 frames/s)
        nets[name] = Net(_bnn_pynq(cfg), shape, 100_000 if fc else 3_052)
    nets["resnet"] = Net(_resnet, (1, 3, 16, 16), 20_000)
    # the same with the second block's add of separately quantized operands (a projection shortcut)
    nets["resnet-separate"] = Net(lambda: _resnet(separate=True), (1, 3, 16, 16), 20_000)
    nets["depthwise"] = Net(_depthwise, (1, 3, 16, 16), 20_000)
    # The default test suite's subset: the same constructs at tiny widths and inputs (tests/test_zoo.py)
    nets["fc-w2a2-tiny"] = Net(_fc_tiny(2, 2), (1, 1, 8, 8), 20_000, fast=True)
    nets["resnet-separate-tiny"] = Net(lambda: _resnet(separate=True, width=4), (1, 3, 8, 8), 20_000, fast=True)
    nets["depthwise-tiny"] = Net(lambda: _depthwise(width=4), (1, 3, 8, 8), 20_000, fast=True)
    nets["mobilenet-v1-0.25-4b"] = Net(_mobilenet, (1, 3, 64, 64), 200)
    return nets


# --------------------------------------------------------------------------------------------- randomization

NORMS = ("BatchNorm1d", "BatchNorm2d", "TensorNorm")
ACTS = ("QuantReLU", "QuantIdentity", "QuantHardTanh", "QuantTanh", "QuantSigmoid")


def _images(n: int, shape: tuple, seed: int) -> np.ndarray:
    """Random UINT8 images (N, C, H, W) as float32: what the exported model's input takes."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape[1:])).astype(np.float32)


def randomize(net, shape: tuple, seed: int = 0, batches: int = 4) -> None:
    """Random weights; every norm's running statistics measured from data (in graph order, each with the
    ones before it already set), its affine weight of both signs and bias random; activation scales
    calibrated on the same data (Brevitas' calibration mode); norms, scales, norms, scales, norms, since a
    scale changes what the norms after it see."""
    import torch
    from brevitas.graph.calibrate import calibration_mode

    gen = torch.Generator().manual_seed(seed)
    data = [torch.from_numpy(_images(16, shape, seed + b)) / 255.0 for b in range(batches)]
    with torch.no_grad():
        for mod in net.modules():
            kind = type(mod).__name__
            if kind.startswith("Quant") and hasattr(mod, "weight") and isinstance(mod.weight, torch.nn.Parameter):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * 2 - 1)
                if getattr(mod, "bias", None) is not None:
                    mod.bias.copy_((torch.rand(mod.bias.shape, generator=gen) * 2 - 1) * 0.5)
            elif kind in NORMS:
                n = mod.running_mean.numel()
                sign = torch.where(torch.rand(n, generator=gen) < 0.25, -1.0, 1.0)
                mod.weight.copy_(sign * (torch.rand(n, generator=gen) + 0.5))
                mod.bias.copy_((torch.rand(n, generator=gen) * 2 - 1) * 0.5)
    norms = [m for m in net.modules() if type(m).__name__ in NORMS]
    net.eval()
    for rnd in range(3):
        for norm in norms:
            seen = []

            def hook(_m, inp, _out, seen=seen):
                x = inp[0].value if hasattr(inp[0], "value") else inp[0]
                dims = [0] + list(range(2, x.dim()))
                seen.append((x.mean(dims), x.var(dims)) if type(norm).__name__ != "TensorNorm"
                            else (x.mean(), x.var()))
            h = norm.register_forward_hook(hook)
            with torch.no_grad():
                for x in data:
                    net(x)
            h.remove()
            with torch.no_grad():
                norm.running_mean.copy_(torch.stack([m for m, _ in seen]).mean(0).reshape(norm.running_mean.shape))
                norm.running_var.copy_(torch.stack([v for _, v in seen]).mean(0).reshape(norm.running_var.shape)
                                       + 1e-3)
        if rnd == 2:
            break  # the norms measured last, with the final scales
        with torch.no_grad(), calibration_mode(net):
            for x in data:
                net(x)
        net.eval()


def activation_stats(net, shape: tuple, seed: int = 99) -> list[dict]:
    """Per activation quantizer (in call order): share of non-zero outputs and number of distinct values, on
    fresh random images."""
    import torch

    stats, hooks = [], []
    for name, mod in net.named_modules():
        if type(mod).__name__ in ACTS:
            def hook(_m, _i, out, name=name):
                v = out.value if hasattr(out, "value") else out
                stats.append({"layer": name, "nonzero": round(float((v != 0).float().mean()), 3),
                              "distinct": int(torch.unique(v).numel())})
            hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        net(torch.from_numpy(_images(8, shape, seed)) / 255.0)
    for h in hooks:
        h.remove()
    return stats


def export(net, shape: tuple, path: Path) -> None:
    """QONNX export with FINN's UINT8 pre-processing in front (flow.bnn_pynq.export_uint8_qonnx)."""
    import torch

    from bidrn_hw.flow.bnn_pynq import export_uint8_qonnx

    export_uint8_qonnx(net, torch.rand(shape), path)


def qonnx_reference(path: Path, frames: np.ndarray) -> np.ndarray:
    """QONNX execution of the exported model, frame by frame (the reference, independent of the flow)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(str(path))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {iname: f[None]})[oname] for f in frames])


# ------------------------------------------------------------------------------------------------------- run

def _cli(args: list[str], timeout: float, inprocess: bool = False) -> tuple[int, dict]:
    """Run the command line with --json; (exit code, its JSON). ``inprocess``: call ``bidrn_hw.cli.main`` here
    (the tests: FINN and torch are imported once), else a subprocess as a user runs it (with a timeout)."""
    if inprocess:
        import contextlib
        import io

        from bidrn_hw.cli import main

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main([*args, "--json"])
        lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("{")]
        return rc, (json.loads(lines[-1]) if lines else {})
    proc = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    try:
        out = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        out = {}
    if proc.returncode and not out.get("error"):  # not a one-line error: a traceback reached the user
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        out = {"error": f"TRACEBACK: {tail}", "kind": "traceback"}
    return proc.returncode, out


def integers(y: np.ndarray, scale, bias, layout: str) -> np.ndarray:
    """(y - bias) / scale in the stream's layout (per-channel scale/bias on the last axis of NHWC/NC)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 4 and layout == "NHWC":
        y = y.transpose(0, 2, 3, 1)
    return (y - np.asarray(bias, dtype=np.float64)) / np.asarray(scale, dtype=np.float64)


def run_network(name: str, net_spec: Net, out: Path, frames: int = 8, stall: float = 0.3, seed: int = 0,
                timeout: float = 3600, cycles: bool = True, inprocess: bool = False) -> dict:
    import torch

    torch.manual_seed(seed)
    start = time.time()
    row: dict = {"network": name, "input": list(net_spec.shape), "target_fps": net_spec.target_fps,
                 "fclk_mhz": net_spec.fclk_mhz, "part": net_spec.part, "compiled": False, "exact": None}
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    net = net_spec.build()
    randomize(net, net_spec.shape, seed)
    acts = activation_stats(net, net_spec.shape)
    row["activations"] = acts
    row["dead_layers"] = [a["layer"] for a in acts if a["distinct"] < 2]
    model_path = work / "model.onnx"
    export(net, net_spec.shape, model_path)
    x = _images(frames, net_spec.shape, seed + 1000)
    np.save(work / "frames.npy", x)
    ref = qonnx_reference(model_path, x)
    build = work / "build"
    rc, res = _cli(["compile", str(model_path), "--out", str(build), "--target-fps", str(net_spec.target_fps),
                    "--fclk-mhz", str(net_spec.fclk_mhz), "--part", net_spec.part], timeout, inprocess)
    row["compile_s"] = round(time.time() - start, 1)
    if rc:
        row.update(error=res.get("error"), error_kind=res.get("kind"), exit_code=rc)
        row["minutes"] = round((time.time() - start) / 60, 2)
        return row
    row["compiled"] = True
    est = res["estimates"]
    row.update(cycles_estimated=est["cycles_per_frame"], fps_estimated=est["fps"],
               lut=est["resources"].get("LUT"), bram=est["resources"].get("BRAM_18K", est["resources"].get("BRAM")),
               dsp=est["resources"].get("DSP"), fits=est["fits"])
    rc, sim = _cli(["simulate", str(build), "--inputs", str(work / "frames.npy"), "--outputs",
                    str(work / "rtl.npy"), "--stall", str(stall), "--seed", str(seed)], timeout, inprocess)
    if rc:
        row.update(exact=False, error=sim.get("error"), error_kind=sim.get("kind"), exit_code=rc)
    else:
        accel = json.loads((build / "accel.json").read_text())
        host = accel["outputs"][0].get("host_ops") or {"scale": 1.0, "bias": 0.0, "layout": "NC"}
        layout = host.get("layout", "NHWC" if ref.ndim == 4 else "NC")
        k_ref = integers(ref, host["scale"], host["bias"], layout)
        k_rtl = integers(np.load(work / "rtl.npy"), host["scale"], host["bias"], layout)
        ref_int = bool(np.all(np.abs(k_ref - np.round(k_ref)) < 1e-3))
        same = k_ref.shape == k_rtl.shape and np.array_equal(np.round(k_ref), np.round(k_rtl))
        row.update(exact=bool(ref_int and same and sim.get("bit_exact")), reference_integer=ref_int,
                   flow_bit_exact=sim.get("bit_exact"),
                   mismatches=int((np.round(k_ref) != np.round(k_rtl)).sum()) if k_ref.shape == k_rtl.shape else -1,
                   cycles_stalled=sim.get("cycles_per_frame"))
        if cycles:  # steady-state cycles per frame without stalls, to compare with the estimate
            rc, sim0 = _cli(["simulate", str(build), "--frames", "3", "--stall", "0"], timeout, inprocess)
            row["cycles_measured"] = sim0.get("cycles_per_frame") if rc == 0 else None
    row["minutes"] = round((time.time() - start) / 60, 2)
    return row


def table(rows: list[dict]) -> str:
    head = "| network | compiled | exact | cycles measured / estimated | LUT | BRAM | DSP | minutes | why not |"
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cyc = f"{r.get('cycles_measured', '-')} / {r.get('cycles_estimated', '-')}" if r["compiled"] else "-"
        why = (r.get("error") or "").replace("|", "/")[:160]
        exact = "-" if r["exact"] is None else ("yes" if r["exact"] else "NO")
        lines.append(f"| {r['network']} | {'yes' if r['compiled'] else 'no'} | {exact} | {cyc} | "
                     f"{r.get('lut', '-')} | {r.get('bram', '-')} | {r.get('dsp', '-')} | {r['minutes']} | {why} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated network names (default: every full-size network)")
    parser.add_argument("--fast", action="store_true", help="only the tiny networks of the default test suite")
    parser.add_argument("--out", default="out/zoo", help="work directory (default out/zoo)")
    parser.add_argument("--results", default=str(RESULTS), help="JSON results file ('' for none)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--stall", type=float, default=0.3)
    args = parser.parse_args(argv)
    nets = networks()
    # default: every network but the tiny test-suite stand-ins; --fast: only those
    names = args.only.split(",") if args.only else [n for n, s in nets.items() if s.fast == args.fast]
    unknown = [n for n in names if n not in nets]
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; known: {', '.join(nets)}")
    rows = []
    for name in names:
        row = run_network(name, nets[name], Path(args.out), args.frames, args.stall)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "activations"}), flush=True)
        if args.results:  # after every network, so that a long run keeps what it finished
            Path(args.results).parent.mkdir(parents=True, exist_ok=True)
            Path(args.results).write_text(json.dumps({"rows": rows, "table": table(rows).splitlines()}, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
