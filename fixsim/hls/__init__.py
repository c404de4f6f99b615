"""HLS tool flow: report parsing, a Vitis/Vivado HLS runner, latency certification and an
analytical latency model for streaming CNNs.

- :mod:`.model` - the report values (:class:`SynthReport`, :class:`CosimReport`).
- :mod:`.csynth_xml`, :mod:`.rpt_text`, :mod:`.reports` - parsers; :func:`load_report`
  reads any supported file, :func:`find_solution_reports` a solution directory.
- :mod:`.parts` - resource totals per FPGA device (KCU1500's xcku115 and others).
- :mod:`.latency` - :class:`Budget`, :func:`certify` -> :class:`Verdict`.
- :mod:`.latency_model` - :func:`predict` cycles of a streaming CNN (SpeckleNN default).
- :mod:`.runner` - write a Tcl project and run it with vitis-run/vitis_hls/vivado_hls.
"""

from .latency import Budget, Check, Verdict, certify
from .latency_model import SPECKLENN_LAYERS, LayerEstimate, Prediction, predict
from .model import RESOURCE_KEYS, CosimReport, CosimRow, SynthReport
from .parts import DEFAULT_PART, PART_RESOURCES, part_resources
from .reports import SolutionReports, find_solution_reports, load_report, parse_report
from .runner import HlsProject, HlsTool, RunResult, StepResult, find_tool, run_project, \
    write_project

__all__ = ["Budget", "Check", "Verdict", "certify", "SPECKLENN_LAYERS", "LayerEstimate",
           "Prediction", "predict", "RESOURCE_KEYS", "CosimReport", "CosimRow", "SynthReport",
           "DEFAULT_PART", "PART_RESOURCES", "part_resources", "SolutionReports",
           "find_solution_reports", "load_report", "parse_report", "HlsProject", "HlsTool",
           "RunResult", "StepResult", "find_tool", "run_project", "write_project"]
