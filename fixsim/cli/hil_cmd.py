"""``fixsim hil``: hardware-in-the-loop runs (``run``) and a loopback device server (``serve``).

Exit codes of ``fixsim hil run``: 0 every frame returned once, intact and bit-exact;
1 any fault or mismatch; 2 bad input (vector set, options, unavailable backend).

The in-process devices (``--backend loopback`` and ``fixsim hil serve --vectors``) are
chosen with ``--device``: ``network`` computes every result with
:func:`fixsim.network.run` from the weight image the run sends
(:class:`fixsim.vectors.device.NetworkDevice`), so the run checks a computed result
against the set's expected outputs; ``replay`` answers each known input with its
expected output (exercises transports only; the interim layout has no spec, so only
this).  The default ``auto`` is ``network`` for a fixsim vector set, else ``replay``.
"""

from __future__ import annotations

import json
import sys
import threading

from ..errors import InputError, closest
from ._args import integer, number, seed

#: In-process device models of loopback and serve (see the module docstring).
DEVICES = ("auto", "network", "replay")

#: Backend-specific CLI options: dest name -> the backend it belongs to.
_OWNER = {"fault": "loopback", "device": "loopback", "host": "tcp", "port": "tcp", "test_host": "tcp",
          "exe": "csim", "exe_arg": "csim", "device_dir": "xdma", "prefix": "xdma", "channel": "xdma",
          "dev": "rogue", "dest": "rogue"}


def register(sub) -> None:
    p = sub.add_parser("hil", help="hardware-in-the-loop: stream vectors through a device, check bits")
    hs = p.add_subparsers(dest="hil_command", metavar="SUBCOMMAND", parser_class=type(p))
    r = hs.add_parser("run", help="run a vector set through a backend and check every result")
    r.add_argument("--backend", required=True, help="loopback, tcp, csim, xdma or rogue")
    r.add_argument("--vectors", required=True, metavar="DIR", help="vector-set directory (manifest.json)")
    r.add_argument("--clock-mhz", type=number("--clock-mhz", 0, 10_000, exclusive_min=True),
                   default=200.0, help="firmware clock (default 200)")
    r.add_argument("--timeout", type=number("--timeout", 0, 3600, exclusive_min=True), default=5.0,
                   help="seconds of silence before frames time out")
    r.add_argument("--window", type=integer("--window", 1, 65536), default=32,
                   help="samples in flight (default 32)")
    r.add_argument("--max-cycles", type=integer("--max-cycles", 1), default=None,
                   help="latency budget in cycles (fail above)")
    r.add_argument("--allow-reorder", action="store_true", help="do not fail on out-of-order results")
    r.add_argument("--cycle-source", choices=("firmware", "model"), default=None,
                   help="declare where the device's cycle counts come from (recorded as a user "
                        "declaration); only for a backend that reports 'unknown', e.g. hardware "
                        "behind --backend tcp whose server sends no hello")
    r.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    r.add_argument("--out", metavar="FILE", help="also write the JSON report to FILE (atomically)")
    r.add_argument("--force", action="store_true", help="replace an existing --out file")
    g = r.add_argument_group("loopback / csim device model")
    g.add_argument("--device", default=None, metavar="|".join(DEVICES),
                   help="loopback device: network (computes with fixsim.network.run), replay "
                        "(answers with the expected outputs); default auto: network for a "
                        "fixsim vector set, else replay")
    g.add_argument("--fault", action="append", default=[], metavar="KIND=RATE",
                   help="loopback fault injection, repeatable: drop, duplicate, reorder, corrupt, "
                        "delay, stall (rates), delay_s, corrupt_bits")
    g.add_argument("--seed", type=seed(), default=0, help="fault-injection seed (recorded)")
    g.add_argument("--base-cycles", type=integer("--base-cycles", 0, 2**40), default=0,
                   help="modelled latency: constant cycles")
    g.add_argument("--per-word-cycles", type=integer("--per-word-cycles", 0, 2**20), default=1,
                   help="modelled latency: cycles per word")
    g = r.add_argument_group("tcp")
    g.add_argument("--host", default=None, help="server address (loopback only; default 127.0.0.1)")
    g.add_argument("--port", type=integer("--port", 1, 65535), default=None)
    g.add_argument("--test-host", action="store_true", help="allow a non-loopback test host")
    g = r.add_argument_group("csim")
    g.add_argument("--exe", default=None, help="C-simulation program (csim stdin/stdout protocol)")
    g.add_argument("--exe-arg", action="append", default=[], help="argument for --exe, repeatable")
    g = r.add_argument_group("xdma")
    g.add_argument("--device-dir", default=None, help="directory of the device files (default /dev)")
    g.add_argument("--prefix", default=None, help="device prefix (default xdma0)")
    g.add_argument("--channel", type=integer("--channel", 0, 255), default=None,
                   help="DMA channel (default 0)")
    g = r.add_argument_group("rogue")
    g.add_argument("--dev", default=None, help="datadev device (default /dev/datadev_0)")
    g.add_argument("--dest", type=integer("--dest", 0, 255), default=None,
                   help="AXI-Stream DMA dest (default 1)")
    r.set_defaults(func=run_cmd)

    s = hs.add_parser("serve", help="serve a vector set's replay device (or a csim program) "
                                    "over loopback TCP")
    s.add_argument("--vectors", metavar="DIR", help="answer for this vector set (see --device)")
    s.add_argument("--device", default=None, metavar="|".join(DEVICES),
                   help="with --vectors: network (computes; starts with the set's weight image, "
                        "replaced by any image a client sends) or replay; default auto")
    s.add_argument("--exe", help="answer with this C-simulation program instead")
    s.add_argument("--exe-arg", action="append", default=[])
    s.add_argument("--port", type=integer("--port", 0, 65535), default=0,
                   help="port (default: a free one, printed)")
    s.add_argument("--base-cycles", type=integer("--base-cycles", 0, 2**40), default=0)
    s.add_argument("--per-word-cycles", type=integer("--per-word-cycles", 0, 2**20), default=1)
    s.add_argument("--duration", type=number("--duration", 0, 10**7, exclusive_min=True),
                   default=None, help="stop after this many seconds")
    s.set_defaults(func=serve_cmd)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def device_model(kind, vs, cycles) -> tuple[str, object]:
    """``(name, model)`` of the in-process device for a HIL vector set.

    Parameters
    ----------
    kind : {"auto", "network", "replay"} or None (auto)
    vs : fixsim.hil.vectors.VectorSet
    cycles : callable
        Cycle model ``cycles(n_in, n_out) -> int``.

    Raises
    ------
    InputError
        An unknown kind, or ``network`` for a set without a model spec.
    """
    from ..hil.device import ReplayModel

    kind = "auto" if kind is None else kind
    if kind not in DEVICES:
        raise InputError(f"unknown --device {kind!r}{closest(kind, DEVICES)}; choices: "
                         f"{', '.join(DEVICES)}")
    if kind == "auto":
        kind = "network" if vs.spec is not None else "replay"
    if kind == "network":
        if vs.spec is None:
            raise InputError("--device network needs a fixsim vector set (fixsim vectors gen, with "
                             "spec.json); this set has the interim layout: use --device replay")
        from ..vectors.device import NetworkDevice

        return kind, NetworkDevice(vs.spec, cycles=cycles)
    return kind, ReplayModel(vs.inputs, vs.expected, cycles)


def backend_options(args, vs) -> dict:
    """CLI arguments -> keyword options of the chosen backend (InputError on misuse)."""
    from ..hil.device import ConstantLatency
    from ..hil.loopback import FaultSpec

    for dest, owner in _OWNER.items():
        val = getattr(args, dest)
        if owner != args.backend and val not in (None, [], False):
            raise InputError(f"--{dest.replace('_', '-')} applies to the {owner} backend, "
                             f"not {args.backend!r}")
    cycles = ConstantLatency(args.base_cycles, args.per_word_cycles, args.per_word_cycles)
    b = args.backend
    if b == "loopback":
        args.device, model = device_model(args.device, vs, cycles)  # "auto" resolved, recorded
        return {"model": model, "faults": FaultSpec.parse(args.fault, seed=args.seed)}
    if b == "tcp":
        if args.port is None:
            raise InputError("the tcp backend needs --port")
        return {"host": args.host or "127.0.0.1", "port": args.port, "allow_test_host": args.test_host}
    if b == "csim":
        if not args.exe:
            raise InputError("the csim backend needs --exe PROGRAM")
        return {"exe": args.exe, "args": args.exe_arg, "cycles": cycles}
    if b == "xdma":
        return {k: v for k, v in (("device_dir", args.device_dir), ("prefix", args.prefix),
                                  ("channel", args.channel)) if v is not None}
    if b == "rogue":
        return {k: v for k, v in (("dev", args.dev), ("dest", args.dest)) if v is not None}
    return {}


def run_cmd(args) -> int:
    from ..hil.backend import backend_class, make_backend
    from ..hil.run import report_document, run_vectors
    from ..hil.vectors import read_vector_set
    from .._files import write_text_atomic

    backend_class(args.backend)  # unknown name -> one-line error with the closest match
    if args.out:
        from .._files import check_writable_output

        if check_writable_output(args.out, args.force, "--out").is_dir():
            raise InputError(f"--out {args.out!r} is a directory, expected a file path")
    vs = read_vector_set(args.vectors)
    options = backend_options(args, vs)
    backend = make_backend(args.backend, **options)
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=len(vs.inputs), unit="frame", file=sys.stderr, leave=False)
    try:
        rep = run_vectors(backend, vs.inputs, vs.expected, word_bytes=vs.word_bytes,
                          clock_mhz=args.clock_mhz, timeout=args.timeout, window=args.window,
                          weights=vs.weights, require_order=not args.allow_reorder,
                          latency_budget_cycles=args.max_cycles,
                          progress=bar.update if bar is not None else None,
                          cycle_source=args.cycle_source)
    finally:
        if bar is not None:
            bar.close()
    extra = {"seed": args.seed}
    if args.backend == "loopback":
        extra["device"] = args.device
    doc = report_document(rep, vs, args.vectors, **extra)
    text = json.dumps(doc, indent=2, sort_keys=True)
    if args.out:
        write_text_atomic(args.out, text + "\n")
    print(text if args.json else rep.summary())
    return 0 if rep.passed else 1


def serve_cmd(args) -> int:
    from ..hil.csim import CsimProcess
    from ..hil.device import ConstantLatency
    from ..hil.server import DeviceServer
    from ..hil.vectors import read_vector_set

    if bool(args.vectors) == bool(args.exe):
        raise InputError("give exactly one of --vectors DIR or --exe PROGRAM")
    if args.exe and args.device is not None:
        raise InputError("--device applies to --vectors, not to --exe")
    cycles = ConstantLatency(args.base_cycles, args.per_word_cycles, args.per_word_cycles)
    proc = None
    if args.exe:
        proc = model = CsimProcess(args.exe, args.exe_arg, cycles).start()
    else:
        vs = read_vector_set(args.vectors)
        kind, model = device_model(args.device, vs, cycles)
        if kind == "network":
            model.load_weights(vs.weights)  # until a client sends its own image
    stop = threading.Event()
    try:
        with DeviceServer(model, "127.0.0.1", args.port) as srv:
            host, port = srv.address
            print(f"fixsim hil serve: listening on {host}:{port}", flush=True)
            if args.duration is not None:
                stop.wait(args.duration)
            else:
                srv.serve_until(stop)
    finally:
        if proc is not None:
            proc.stop()
    return 0
