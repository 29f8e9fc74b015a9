"""FIFOs that keep a pipeline at its slowest layer's rate (FINN sizes these by RTL simulation; we size them
from the folding): a layer that takes its input in bursts holds its producer between bursts, and where the
producer is (near) the bottleneck those held cycles are lost throughput. Each pass puts a StreamingFIFO in
front of such a layer, deep enough for what the producer makes while it waits.

* :class:`InsertGeneratorInputFIFOs`: sliding window generators (their writer may run only BUF_DEPTH ahead).
* :class:`InsertMVAUInputFIFOs`: MVAUs with NF > 1 fed by anything but a window generator (they read an input
  vector during fold 0 only).

Branch FIFOs of residual joins (deadlock, not rate) are in :mod:`.fifos`.
"""
from __future__ import annotations

import math

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..layers import base_op, is_mvau, layer_cycles_of
from ..layers.swg import swg_geometry, swg_params, swg_parallel_geometry
from .fifos import insert_input_fifo


class InsertGeneratorInputFIFOs(Transformation):
    """A StreamingFIFO before every sliding window generator whose input arrives slower than it could take
    it (an upstream layer is the slower one).

    ``swg.sv`` lets its writer run at most BUF_DEPTH elements ahead of the current window, so while the
    reader emits a row of windows the writer is held, and with it every layer upstream. When the upstream
    is fast that costs nothing; when it is (near) the bottleneck, the held cycles add up per row. The FIFO
    takes what the upstream produces meanwhile, so the upstream keeps its rate: its depth is the input beats
    the upstream can produce during ROWS rows of windows, plus a margin. A row of windows lasts as long as
    the slowest layer downstream takes for one output row (the reader is paced by its consumer: a folded
    MVAU takes NF * SF cycles per window), not the generator's own row time. Measured on the tiny face
    encoder auto-folded for the ECP5-85F (four MVAUs at the bottleneck rate): own-row sizing ran 14% above
    the estimated cycles per frame, consumer-paced sizing within 1% (`bidrn-hw simulate`;
    tests/test_accelerator_tiny.py checks 5%).
    ``swg_parallel.sv`` holds its input while its one output register waits on the consumer, so on window
    rows it is paced by its consumer the same way (one beat per window instead of K*K*CF).
    Pixel folding rarely needs one (there the generators are the slow layers)."""

    MARGIN = 4
    ROWS = 4

    def apply(self, model: ModelWrapper):
        upstream = _upstream_cycles(model)
        downstream = _downstream_cycles(model)
        for node in list(model.graph.node):
            if base_op(node) != "ConvolutionInputGenerator":
                continue
            producer = model.find_producer(node.input[0])
            if producer is not None and base_op(producer) == "StreamingFIFO":
                continue
            inst = getCustomOp(node)
            own = layer_cycles_of(model, node)
            arrive = upstream.get(producer.name, 0) if producer is not None else 0
            if arrive <= own:
                continue
            module, p = swg_params(inst)
            if module == "swg_parallel":  # one window of all channels per beat
                g, simd, beats_per_window = swg_parallel_geometry(p), p["CH"], 1
            else:
                g, simd = swg_geometry(p), p["SIMD"]
                beats_per_window = g["kk"] * g["cf"]
            row_cycles = max(g["ow"] * beats_per_window, downstream[node.name] / g["oh"])
            depth = min(g["n_in"], math.ceil(self.ROWS * row_cycles * g["n_in"] / arrive)) + self.MARGIN
            shape = list(model.get_tensor_shape(node.input[0]))
            insert_input_fifo(model, node, depth, shape[:-1] + [g["cf"], simd])
        return model, False


def _upstream_cycles(model: ModelWrapper) -> dict[str, int]:
    """Per node: the largest cycles per frame among it and its ancestors (the rate its output can reach)."""
    out: dict[str, int] = {}
    for node in model.graph.node:  # topologically sorted
        preds = [model.find_producer(t) for t in node.input if model.get_initializer(t) is None]
        out[node.name] = max([layer_cycles_of(model, node)] + [out[p.name] for p in preds if p is not None])
    return out


def _downstream_cycles(model: ModelWrapper) -> dict[str, int]:
    """Per node: the largest cycles per frame among it and its descendants (the pace its output is taken at)."""
    out: dict[str, int] = {}
    for node in reversed(model.graph.node):
        succs = [s for t in node.output for s in model.find_consumers(t)]
        out[node.name] = max([layer_cycles_of(model, node)] + [out[s.name] for s in succs])
    return out


class InsertMVAUInputFIFOs(Transformation):
    """A StreamingFIFO before every MVAU with NF > 1 whose producer cannot afford to wait.

    ``mvau.sv`` (like FINN's) takes an input vector's SF beats during fold 0 and none during folds 1..NF-1,
    so its producer is held for (NF-1)*SF cycles per vector: NF-1 of every NF cycles the MVAU runs. That is
    free when the producer has the slack (its own cycles plus the held ones within the slowest layer's);
    otherwise the FIFO takes what the producer makes while held, at most one frame's input: the beats of
    (NF-1)*SF cycles at the producer's rate, plus a margin. Measured on CNV-w1a1 with FINN's Pynq-Z1
    folding, where the fully connected MVAU_6 and MVAU_7 both take 32,768 cycles: 64,710 cycles/frame
    without (the two alternate), within 5% of 32,768 with (tests/test_bnn_pynq.py). Generator-fed MVAUs
    are left to :class:`InsertGeneratorInputFIFOs` (the generator's buffer and its input FIFO hold them)."""

    MARGIN = 4

    def apply(self, model: ModelWrapper):
        upstream = _upstream_cycles(model)
        slowest = max(upstream.values(), default=0)
        for node in list(model.graph.node):
            if not is_mvau(node):
                continue
            inst = getCustomOp(node)
            mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
            sf, nf = mw // inst.get_nodeattr("SIMD"), mh // inst.get_nodeattr("PE")
            producer = model.find_producer(node.input[0])
            if nf <= 1 or producer is None or base_op(producer) in ("ConvolutionInputGenerator", "StreamingFIFO"):
                continue
            own = layer_cycles_of(model, node)
            arrive = upstream[producer.name]
            held = own * (nf - 1) // nf
            if arrive + held <= slowest:
                continue
            folded = list(inst.get_folded_input_shape(0))
            n_in = math.prod(folded[:-1])  # input beats per frame
            depth = min(n_in, math.ceil((nf - 1) * sf * n_in / max(arrive, 1))) + self.MARGIN
            insert_input_fifo(model, node, depth, folded)
        return model, False


