"""The compile flow: QONNX -> FINN HW dataflow graph, as composable passes on a qonnx ModelWrapper."""
