# SIMULATED Vitis HLS / Vivado HLS Tcl commands for the fixsim tests.  NOT AMD software.
# Each command records its call in $FAKE_HLS_ARGS and does what the real one leaves on
# disk: csynth_design/cosim_design copy real reports from tests/hls/data to the place the
# tools write them; export_design writes a placeholder IP zip.  Then the generated flow
# script (first argument) is sourced exactly as the real tool would.
set fake_log [open $::env(FAKE_HLS_ARGS) a]
proc rec {args} { global fake_log; puts $fake_log "tcl: [join $args]"; flush $fake_log }
proc fake_env {name default} {
    if {[info exists ::env($name)]} { return $::env($name) }
    return $default
}
set prj ""; set sol ""; set top ""
proc open_project {args} { global prj; rec open_project {*}$args; set prj [lindex $args end]; file mkdir $prj }
proc set_top {name} { global top; rec set_top $name; set top $name }
proc add_files {args} {
    rec add_files {*}$args
    set f [expr {[lindex $args 0] eq "-tb" ? [lindex $args 1] : [lindex $args 0]}]
    if {![file exists $f]} { puts "ERROR: \[HLS 200-70\] Cannot find source file $f"; exit 1 }
}
proc open_solution {args} { global prj sol; rec open_solution {*}$args; set sol [lindex $args end]; file mkdir $prj/$sol }
proc set_part {p} { rec set_part $p }
proc create_clock {args} { rec create_clock {*}$args }
proc csim_design {args} {
    rec csim_design {*}$args
    set n [fake_env FAKE_HLS_CSIM_ERRORS 0]
    puts "INFO: \[SIM 211-1\] CSim done with $n errors."
    if {$n != 0} { puts "ERROR: \[SIM 211-100\] 'csim_design' failed: nonzero return value."; exit 1 }
}
proc csynth_design {args} {
    global prj sol top
    rec csynth_design {*}$args
    if {[fake_env FAKE_HLS_FAIL_CSYNTH ""] ne ""} { puts "ERROR: \[HLS 200-70\] simulated synthesis failure"; exit 1 }
    file mkdir $prj/$sol/syn/report
    file copy -force $::env(FAKE_HLS_CSYNTH) $prj/$sol/syn/report/${top}_csynth.xml
}
proc cosim_design {args} {
    global prj sol top
    rec cosim_design {*}$args
    file mkdir $prj/$sol/sim/report
    file copy -force $::env(FAKE_HLS_COSIM) $prj/$sol/sim/report/${top}_cosim.rpt
}
proc export_design {args} {
    global prj sol top
    rec export_design {*}$args
    file mkdir $prj/$sol/impl/ip
    set fh [open $prj/$sol/impl/ip/fake_${top}_1_0.zip w]; puts $fh "simulated"; close $fh
}
rec options_env [fake_env FIXSIM_HLS_OPTIONS "<unset>"]
source [lindex $argv 0]
