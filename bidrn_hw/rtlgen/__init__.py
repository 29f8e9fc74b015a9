"""RTL generation: one module instance per FINN HW layer, stitched into an AXI-Stream top."""
