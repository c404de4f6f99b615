"""C simulation: locating the ap_types headers, compiling against them, running.

``headers`` finds ``ap_fixed.h`` ($XILINX_HLS/include, else the hls4ml wheel);
``build`` compiles C++ with a content-addressed cache; ``oracle`` generates and drives
programs that evaluate ap_fixed operations in bulk (the ground truth of the tests).
"""
