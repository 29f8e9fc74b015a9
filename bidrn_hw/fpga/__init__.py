"""FPGA back ends: ECP5 bitstreams (Yosys + nextpnr-ecp5 + ecppack), Yosys synth_xilinx resource
measurement, and the Vivado project/IP export. See docs/fpga.md."""
