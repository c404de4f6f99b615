"""Resource totals of the FPGA parts fixsim knows, keyed by device name.

The totals depend on the device only (package, speed grade and temperature grade do not
change them), so ``xcku115-flvb2104-2-e`` and ``xcku115-flva1517-1-c`` share one entry.
The KCU1500 entry is from the Kintex UltraScale data sheet; the others are the
``AvailableResources`` written by Vivado/Vitis HLS in the reports under tests/hls/data.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Optional

from ..errors import InputError, closest

#: KCU1500 board part (the SpeckleNN deployment target).
DEFAULT_PART = "xcku115-flvb2104-2-e"


def _totals(bram, dsp, ff, lut, uram):
    return MappingProxyType({"BRAM_18K": bram, "DSP": dsp, "FF": ff, "LUT": lut, "URAM": uram})


#: Device name -> totals with the canonical resource keys.
PART_RESOURCES: Mapping[str, Mapping[str, int]] = MappingProxyType({
    "xcku115": _totals(4320, 5520, 1326720, 663360, 0),   # KCU1500 (2,160 BRAM36)
    "xc7z020": _totals(280, 220, 106400, 53200, 0),        # hls4ml test report
    "xck26": _totals(288, 1248, 234240, 117120, 64),       # Kria K26 (Vitis HLS 2022.1)
    "xczu7ev": _totals(624, 1728, 460800, 230400, 96),     # ZCU104/ZCU106
    "xczu49dr": _totals(2160, 4272, 850560, 425280, 80),   # RFSoC (Vitis HLS 2023.1)
    "xcvu9p": _totals(4320, 6840, 2364480, 1182240, 960),  # VCU118 (Vivado HLS 2018.2)
    "xcvu13p": _totals(5376, 12288, 3456000, 1728000, 1280),  # Vivado HLS 2018.2
})


def device_of(part: str) -> str:
    """The device name of a part string: ``xcku115-flvb2104-2-e`` -> ``xcku115``."""
    return part.strip().lower().split("-")[0]


def part_resources(part: str, *, strict: bool = True) -> Optional[Mapping[str, int]]:
    """Total resources of a part.

    >>> part_resources("xcku115-flvb2104-2-e")["DSP"]
    5520

    Raises
    ------
    InputError
        If ``strict`` and the device is not in :data:`PART_RESOURCES` (the message names
        the closest known device); without ``strict`` an unknown part gives None.
    """
    device = device_of(part)
    if device in PART_RESOURCES:
        return PART_RESOURCES[device]
    if not strict:
        return None
    raise InputError(f"unknown FPGA part {part!r}{closest(device, PART_RESOURCES)}; known "
                     f"devices: {', '.join(sorted(PART_RESOURCES))}")
