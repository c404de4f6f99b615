"""The HLS runner, driven through SIMULATED tools (tests/hls/fake_tools/).

The simulated ``vitis-run``/``vitis_hls``/``vivado_hls`` are shell scripts placed on PATH
by these tests.  They record their arguments and run the generated Tcl in ``tclsh`` with
stub HLS commands that copy real reports into place, so the real runner code path (tool
detection, Tcl, options file, return codes, report discovery) is exercised.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from fixsim.errors import InputError, ToolError
from fixsim.hls.csynth_xml import parse_csynth_xml
from fixsim.hls.runner import (NO_TOOL, HlsProject, find_tool, parse_steps, run_project,
                               write_project)

from .conftest import DATA

FAKES = Path(__file__).parent / "fake_tools"
CSYNTH = DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_csynth.xml"
COSIM = DATA / "mzrghorbani__lr_hls_dev__LR_top_cosim.rpt"
BANNERS = {
    "vitis-run": "vitis-run v2024.2 (64-bit) [SIMULATED]",
    "vitis_hls": "****** Vitis HLS - High-Level Synthesis from C, C++ and OpenCL "
                 "v2023.1 (64-bit) [SIMULATED]",
    "vivado_hls": "****** Vivado(TM) HLS - High-Level Synthesis from C, C++ and SystemC "
                  "v2019.1 (64-bit) [SIMULATED]",
}

needs_tclsh = pytest.mark.skipif(shutil.which("tclsh") is None,
                                 reason="tclsh not installed: the simulated HLS tools run "
                                        "the generated Tcl in tclsh")


@pytest.fixture
def sources(tmp_path):
    src_dir = tmp_path / "src dir"  # a space, to exercise Tcl quoting
    src_dir.mkdir()
    src, tb = src_dir / "my top.cpp", src_dir / "tb.cpp"
    src.write_text("void myproject() {}\n")
    tb.write_text("int main() { return 0; }\n")
    return src, tb


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """Install simulated tools by name; returns (install(names, banner=None), args_log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_log = tmp_path / "fake_args.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_HLS_ARGS", str(args_log))
    monkeypatch.setenv("FAKE_HLS_STUBS", str(FAKES / "fake_hls_stubs.tcl"))
    monkeypatch.setenv("FAKE_HLS_CSYNTH", str(CSYNTH))
    monkeypatch.setenv("FAKE_HLS_COSIM", str(COSIM))
    for var in ("FAKE_HLS_CSIM_ERRORS", "FAKE_HLS_FAIL_CSYNTH", "FIXSIM_HLS_OPTIONS"):
        monkeypatch.delenv(var, raising=False)

    def install(*names, banner=None):
        for name in names:
            target = bin_dir / name
            shutil.copy(FAKES / "fake_tool.sh", target)
            target.chmod(0o755)
        monkeypatch.setenv("FAKE_HLS_BANNER", banner or BANNERS[names[0]])

    return install, args_log


def _project(src, tb, **kw):
    return HlsProject(top="myproject", sources=(str(src),), testbenches=(str(tb),), **kw)


def test_no_tool_writes_project_and_skips(tmp_path, sources, tools):
    src, tb = sources
    result = run_project(_project(src, tb, steps=("csim", "csynth")), tmp_path / "out")
    assert result.tool is None and not result.ok and result.returncode is None
    assert [s.status for s in result.steps] == ["skipped", "skipped"]
    assert all(s.detail == NO_TOOL for s in result.steps)
    assert (tmp_path / "out" / "run_hls.tcl").is_file()
    assert "vitis-run --mode hls --tcl run_hls.tcl" in result.how_to_run


@needs_tclsh
def test_vitis_hls_full_flow(tmp_path, sources, tools):
    install, args_log = tools
    install("vitis_hls")
    src, tb = sources
    out = tmp_path / "out"
    result = run_project(_project(src, tb, steps=parse_steps("csim,csynth,cosim,export"),
                                  cflags="-I/opt/x -DN=3"), out)
    assert result.tool.name == "vitis_hls" and result.tool.version == "2023.1"
    assert result.returncode == 0 and result.ok, result.steps
    assert [s.step for s in result.steps] == ["csim", "csynth", "cosim", "export"]
    assert result.csynth == parse_csynth_xml(CSYNTH.read_bytes())
    assert result.cosim.latency_max == 130 and result.cosim.top == "myproject"
    calls = args_log.read_text()
    assert "vitis_hls -f run_hls.tcl" in calls
    assert f"tcl: add_files {src.resolve()} -cflags -I/opt/x -DN=3" in calls
    assert f"tcl: add_files -tb {tb.resolve()}" in calls
    assert "tcl: set_part xcku115-flvb2104-2-e" in calls
    assert "tcl: create_clock -period 5 -name default" in calls
    order = [line.split()[1] for line in calls.splitlines() if line.startswith("tcl: ")
             and line.split()[1].endswith("_design")]
    assert order == ["csim_design", "csynth_design", "cosim_design", "export_design"]
    assert (out / "fixsim_hls_run.log").read_text().count("CSim done with 0 errors") == 1
    manifest = json.loads((out / "fixsim_hls.json").read_text())
    assert manifest["generator_version"] and manifest["status"] == "passed"
    assert any(k.endswith("_csynth.xml") for k in manifest["sha256"])
    assert manifest["tool"]["version"] == "2023.1"


@needs_tclsh
def test_vitis_run_preferred_and_gets_options_by_env(tmp_path, sources, tools):
    install, args_log = tools
    install("vivado_hls", "vitis_hls", "vitis-run", banner=BANNERS["vitis-run"])
    src, tb = sources
    result = run_project(_project(src, tb), tmp_path / "o")
    assert result.tool.name == "vitis-run" and result.tool.version == "2024.2"
    calls = args_log.read_text()
    assert "vitis-run --mode hls --tcl run_hls.tcl" in calls
    assert f"tcl: options_env {(tmp_path / 'o' / 'options.tcl').resolve()}" in calls
    assert result.ok


@needs_tclsh
def test_vivado_hls_with_other_part_and_clock(tmp_path, sources, tools):
    install, args_log = tools
    install("vivado_hls")
    src, tb = sources
    result = run_project(_project(src, tb, part="xc7z020-clg400-1", clock_mhz=100.0),
                         tmp_path / "o")
    assert result.tool.name == "vivado_hls" and result.tool.version == "2019.1"
    calls = args_log.read_text()
    assert "vivado_hls -f run_hls.tcl" in calls
    assert "tcl: set_part xc7z020-clg400-1" in calls
    assert "tcl: create_clock -period 10 -name default" in calls


@needs_tclsh
def test_unparsed_banner_gives_unknown_version(tmp_path, sources, tools):
    install, _ = tools
    install("vitis_hls", banner="some wrapper without a version")
    assert find_tool().version is None


@needs_tclsh
def test_csim_failure_stops_the_flow(tmp_path, sources, tools, monkeypatch):
    install, _ = tools
    install("vitis_hls")
    monkeypatch.setenv("FAKE_HLS_CSIM_ERRORS", "2")
    src, tb = sources
    result = run_project(_project(src, tb, steps=("csim", "csynth")), tmp_path / "o")
    assert result.returncode == 1 and not result.ok
    assert [(s.step, s.status) for s in result.steps] == [("csim", "failed"),
                                                          ("csynth", "not run")]
    assert "2 errors" in result.steps[0].detail and result.csynth is None


@needs_tclsh
def test_synthesis_error_is_reported_with_the_log_line(tmp_path, sources, tools, monkeypatch):
    install, _ = tools
    install("vitis_hls")
    monkeypatch.setenv("FAKE_HLS_FAIL_CSYNTH", "1")
    src, tb = sources
    result = run_project(_project(src, tb), tmp_path / "o")
    assert result.returncode == 1 and result.steps[0].status == "failed"
    assert "simulated synthesis failure" in result.steps[0].detail


@needs_tclsh
def test_failed_cosim_report_fails_the_step(tmp_path, sources, tools, monkeypatch):
    install, _ = tools
    install("vitis_hls")
    monkeypatch.setenv("FAKE_HLS_COSIM", str(
        DATA / "SpAllen0726__HG-DREAM-Pulse-Detection-Project__myproject_cosim.rpt"))
    src, tb = sources
    result = run_project(_project(src, tb, steps=("csynth", "cosim")), tmp_path / "o")
    assert result.returncode == 0 and not result.ok
    assert result.steps[1].status == "failed" and "Fail" in result.steps[1].detail


def test_forced_missing_tool_is_a_tool_error(tmp_path, sources, tools):
    src, tb = sources
    with pytest.raises(ToolError, match="vitis_hls not found"):
        run_project(_project(src, tb), tmp_path / "o", tool="vitis_hls")
    with pytest.raises(InputError, match="did you mean 'vitis_hls'"):
        find_tool("vitis_hl")


def test_project_validation(tmp_path, sources):
    src, tb = sources
    with pytest.raises(InputError, match="did you mean 'csynth'"):
        parse_steps("csynt")
    with pytest.raises(InputError, match="test bench"):
        HlsProject(top="t", sources=(str(src),), steps=("csim",))
    with pytest.raises(InputError, match="C identifier"):
        HlsProject(top="1bad", sources=(str(src),))
    with pytest.raises(InputError, match="clock"):
        HlsProject(top="t", sources=(str(src),), clock_mhz=0)
    with pytest.raises(InputError, match="does not exist"):
        write_project(HlsProject(top="t", sources=(str(tmp_path / "nope.cpp"),)), tmp_path)
    # cosim implies csynth; steps come back in flow order
    p = HlsProject(top="t", sources=(str(src),), testbenches=(str(tb),), steps=("cosim", "csim"))
    assert p.steps == ("csim", "csynth", "cosim")


def test_written_tcl_is_valid_tcl(tmp_path, sources):
    """Parse-check options.tcl with tclsh (the quoting of spaces and flags)."""
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh not installed: cannot syntax-check the generated Tcl")
    import subprocess
    src, tb = sources
    out = write_project(_project(src, tb, cflags='-DX="a b" -I{odd}'), tmp_path / "o")
    script = (f"source {{{out / 'options.tcl'}}}\n"
              "puts [llength $fixsim_sources]\nputs $fixsim_cflags\nputs [lindex $fixsim_sources 0]")
    proc = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines == ["1", '-DX="a b" -I{odd}', str(src.resolve())]


def test_timeout_stops_the_tool(tmp_path, sources, tools):
    install, _ = tools
    install("vitis_hls")
    hang = tmp_path / "bin" / "vitis_hls"
    # A SIMULATED tool that answers --version and then hangs on a run.
    hang.write_text('#!/bin/sh\ncase "$1" in -version|--version) echo "vitis_hls v2023.1";'
                    ' exit 0;; esac\nsleep 30\n')
    src, tb = sources
    result = run_project(_project(src, tb), tmp_path / "o", timeout=0.5)
    assert result.returncode == -1 and not result.ok
    assert "fixsim stopped vitis_hls" in (tmp_path / "o" / "fixsim_hls_run.log").read_text()
    assert result.steps[0].status == "failed"
