"""Analytical FIFO depths for the branches of residual graphs, and the pass that inserts them.

A residual block forks its input (DuplicateStreams) into a main branch (sign, padding, sliding window,
MVAU, ...) and a bypass, and joins them again (ElementwiseAdd). The join can only take a beat when both
branches offer one, so the bypass must hold everything the fork sends it while the main branch fills its
line buffers. We count that in rows of the fork's feature map:

* a sliding window generator emits its first window after ``(K_H - 1) * DIL_H`` rows plus
  ``(K_W - 1) * DIL_W + 1`` pixels of its (padded) input;
* an MVAU needs one whole input vector, every other layer one pixel;
* a nested residual block costs its slower branch;
* rows of a layer's input count ``fork_H / layer_input_H`` rows of the fork (strides shrink maps).

The bypass FIFO gets the difference between the branches plus one row and a small margin (rows are not
consumed uniformly: padding columns, window edges). Deadlock-freedom of these depths is checked by the
stitched simulations, which fail with the stalled stream named (watchdog) instead of hanging.
"""
from __future__ import annotations

import math

from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..errors import UnsupportedError

MARGIN_BEATS = 16


def _base(node) -> str:
    op = node.op_type
    return op[:-4] if op.endswith(("_hls", "_rtl")) else op


# Joins: (op, its two joined stream inputs). A fused residual MVAU (flow.fuse_residual) joins its MVAU's input
# (0) with the skip (3): the skip waits for the convolution's window as the add's bypass did.
JOIN_INPUTS = {"ElementwiseAdd": (0, 1), "MVAUResidual": (0, 3)}


def join_inputs(node) -> list[str]:
    """The tensors a join node joins ([] for any other node)."""
    return [node.input[i] for i in JOIN_INPUTS.get(_base(node), ())]


def _input_h(model: ModelWrapper, node) -> int:
    shape = model.get_tensor_shape(node.input[0])
    return int(shape[1]) if len(shape) == 4 else 1


def _node_rows(model: ModelWrapper, node) -> float:
    """Rows of the node's own input it consumes before its first output."""
    inst = getCustomOp(node)
    shape = model.get_tensor_shape(node.input[0])
    width = int(shape[2]) if len(shape) == 4 else 1
    if _base(node) == "ConvolutionInputGenerator":
        k_h, k_w = inst.get_nodeattr("ConvKernelDim")
        d_h, d_w = inst.get_nodeattr("Dilation")
        return (k_h - 1) * d_h + ((k_w - 1) * d_w + 1) / width
    return 1 / width


def _fork_of(model: ModelWrapper, add) -> object:
    """The nearest DuplicateStreams that is an ancestor of both inputs of ``add``."""
    def ancestors(tensor):
        seen, stack, forks = set(), [tensor], {}
        while stack:
            node = model.find_producer(stack.pop())
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            if _base(node) == "DuplicateStreams":
                forks[node.name] = node
            stack.extend(t for t in node.input if not model.has_initializer(t))
        return forks

    a, b = (ancestors(t) for t in join_inputs(add))
    common = [n for name, n in a.items() if name in b]
    if not common:
        raise UnsupportedError(f"join {add.name}: its inputs have no common DuplicateStreams fork")
    order = {n.name: i for i, n in enumerate(model.graph.node)}
    return max(common, key=lambda n: order[n.name])


def path_rows(model: ModelWrapper, tensor: str, fork, memo: dict) -> float:
    """Rows of ``fork``'s input map consumed before the first beat reaches ``tensor``."""
    fork_h = _input_h(model, fork)
    rows = 0.0
    node = model.find_producer(tensor)
    while node is not None and node.name != fork.name:
        if join_inputs(node):  # nested residual block: its slower branch
            inner, inner_fork = join_rows(model, node, memo)
            rows += inner * fork_h / max(_input_h(model, inner_fork), 1)
            if inner_fork.name == fork.name:
                return rows
            node = model.find_producer(inner_fork.input[0])
            continue
        if _base(node) != "DuplicateStreams":
            rows += _node_rows(model, node) * fork_h / max(_input_h(model, node), 1)
        node = model.find_producer(node.input[0])
    if node is None:
        raise UnsupportedError(f"tensor {tensor}: fork {fork.name} is not upstream of it")
    return rows


def join_rows(model: ModelWrapper, add, memo: dict) -> tuple[float, object]:
    """(rows of its fork's map the slower branch of ``add`` needs, the fork)."""
    if add.name not in memo:
        fork = _fork_of(model, add)
        memo[add.name] = (max(path_rows(model, t, fork, memo) for t in join_inputs(add)), fork)
    return memo[add.name]


class _Indexed:
    """The lookups of the depth analysis (producer, initializer, shape) from dictionaries built once: the
    graph does not change meanwhile, and ModelWrapper's own lookups scan the graph each time (18 s of the
    paper config's estimate)."""

    def __init__(self, model: ModelWrapper):
        self.model, self.graph = model, model.graph
        self._producer = {}
        for node in model.graph.node:
            for name in node.output:
                self._producer.setdefault(name, node)
        self._initializers = {t.name for t in model.graph.initializer}
        self._shapes = {}
        for vi in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
            self._shapes.setdefault(vi.name, [d.dim_value for d in vi.type.tensor_type.shape.dim])

    def find_producer(self, name):
        return self._producer.get(name)

    def has_initializer(self, name) -> bool:
        return name in self._initializers

    def get_tensor_shape(self, name):
        return self._shapes[name] if name in self._shapes else self.model.get_tensor_shape(name)


def branch_fifo_depths(model: ModelWrapper) -> dict[tuple[str, int], int]:
    """{(join node name, input index): depth in beats} for the faster input of every join."""
    model = _Indexed(model)
    depths, memo = {}, {}
    for add in model.graph.node:
        if not join_inputs(add):
            continue
        fork = _fork_of(model, add)
        rows = [path_rows(model, t, fork, memo) for t in join_inputs(add)]
        fast = JOIN_INPUTS[_base(add)][0 if rows[0] <= rows[1] else 1]
        shape = model.get_tensor_shape(add.input[fast])
        h, w, c = (int(v) for v in shape[1:]) if len(shape) == 4 else (1, 1, int(shape[-1]))
        per_beat = int(getCustomOp(add).get_folded_input_shape(fast)[-1])  # PE of an add, SIMD of an MVAU's input
        join_rows_per_fork_row = h / max(_input_h(model, fork), 1)
        lag = (abs(rows[0] - rows[1]) + 1) * join_rows_per_fork_row
        depths[(add.name, fast)] = math.ceil(lag * w * c / per_beat) + MARGIN_BEATS
    return depths


def insert_input_fifo(model: ModelWrapper, node, depth: int, folded_shape: list[int], idx: int = 0) -> None:
    """A StreamingFIFO named FIFO_<node>_<idx> of ``depth`` beats in front of input ``idx`` of ``node``."""
    tensor = node.input[idx]
    shape = list(model.get_tensor_shape(tensor))
    new = model.make_new_valueinfo_name()
    model.set_tensor_shape(new, shape)
    model.set_tensor_datatype(new, model.get_tensor_datatype(tensor))
    fifo = helper.make_node("StreamingFIFO", [tensor], [new], name=f"FIFO_{node.name}_{idx}",
                            domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", depth=int(depth),
                            folded_shape=[int(v) for v in folded_shape], normal_shape=shape,
                            dataType=model.get_tensor_datatype(tensor).name)
    node.input[idx] = new
    model.graph.node.insert(list(model.graph.node).index(node), fifo)


class InsertBranchFIFOs(Transformation):
    """Insert a StreamingFIFO of the analytical depth before the faster input of every join."""

    def apply(self, model: ModelWrapper):
        for (add_name, idx), depth in branch_fifo_depths(model).items():
            add = model.get_node_from_name(add_name)
            insert_input_fifo(model, add, depth, list(getCustomOp(add).get_folded_input_shape(idx)), idx)
        return model, False
