"""Find the Xilinx ap_types headers: ``$XILINX_HLS/include`` first, then the hls4ml wheel."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ToolError

_HINT = ("install them with: pip install 'fixsim[csim]' (the hls4ml wheel ships Xilinx's "
         "Apache-2.0 ap_types), or set XILINX_HLS to a Vitis HLS installation")


def find_ap_types(required: bool = True) -> Path | None:
    """Directory containing ``ap_fixed.h``.

    Order: ``$FIXSIM_AP_TYPES`` (explicit override), ``$XILINX_HLS/include``, then
    ``hls4ml/templates/vivado/ap_types`` from the installed hls4ml package.

    Raises
    ------
    ToolError
        If none is found and ``required`` is true.
    """
    candidates = []
    if os.environ.get("FIXSIM_AP_TYPES"):
        candidates.append(Path(os.environ["FIXSIM_AP_TYPES"]))
    if os.environ.get("XILINX_HLS"):
        candidates.append(Path(os.environ["XILINX_HLS"]) / "include")
    try:
        import importlib.util

        spec = importlib.util.find_spec("hls4ml")
        if spec and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                candidates.append(Path(loc) / "templates" / "vivado" / "ap_types")
    except (ImportError, ValueError):
        pass
    for c in candidates:
        if (c / "ap_fixed.h").is_file():
            return c
    if required:
        raise ToolError(f"ap_types headers (ap_fixed.h) not found; {_HINT}")
    return None


def header_source() -> str:
    """Human-readable origin of the headers in use ("xilinx_hls", "hls4ml", "override")."""
    d = find_ap_types(required=False)
    if d is None:
        return "missing"
    if os.environ.get("FIXSIM_AP_TYPES") and Path(os.environ["FIXSIM_AP_TYPES"]) == d:
        return "override"
    if os.environ.get("XILINX_HLS") and Path(os.environ["XILINX_HLS"]) / "include" == d:
        return "xilinx_hls"
    return "hls4ml"
