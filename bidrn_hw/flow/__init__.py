"""The compile flow: QONNX -> FINN HW dataflow graph, as composable passes on a qonnx ModelWrapper."""
from . import finn_compat  # noqa: F401  (finn-plus fix, see there)
