"""Entry point of the ``fixsim`` command.

Exit codes: 0 pass/equal, 1 mismatch/fail, 2 usage or input error, 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM).  SIGTERM is turned into KeyboardInterrupt, so a
terminated command cleans up exactly as an interrupted one: temporary files and
directories are removed and the previous output stays as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings
from typing import Sequence

from .._version import __version__
from ..errors import FixsimError

#: Command modules, in the order of the dataflow; each has ``register(subparsers)``.
COMMAND_MODULES = [
    "fixsim.cli.quantize_cmd",
    "fixsim.cli.data_cmd",
    "fixsim.cli.report_cmd", "fixsim.cli.hls_cmd",
    "fixsim.cli.spec_cmd", "fixsim.cli.import_cmd",
    "fixsim.cli.csim_cmd",
    "fixsim.cli.vectors_cmd",
    "fixsim.cli.hil_cmd",
    "fixsim.cli.train_cmd",
    "fixsim.cli.compare_cmd", "fixsim.cli.certify_cmd",
    "fixsim.cli.sweep_cmd", "fixsim.cli.profile_cmd",
]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message):  # pragma: no cover - exercised through main()
        opt, sep, rest = message.partition(": ")
        if sep and opt.startswith("argument ") and rest.startswith(opt[len("argument "):] + " "):
            message = rest  # "argument --n: --n must be ..." -> "--n must be ..."
        self.exit(2, f"fixsim: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fixsim",
        description="Bit-accurate fixed-point simulation and verification of SNL/HLS networks.",
    )
    parser.add_argument("--version", action="version", version=f"fixsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            # Commands taking free numbers (e.g. quantize) accept them after options too.
            if getattr(args, "extra_values", None) is not None and not any(
                    t.startswith("--") for t in extra):
                args.values = list(args.values) + extra
            else:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse's usage errors and --help/--version
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    terminated = threading.Event()
    from .._firstrun import first_run_notices

    with _sigterm_as_interrupt(terminated), _warnings_as_lines(args.command), \
            first_run_notices(args.command):
        try:
            return int(args.func(args) or 0)
        except FixsimError as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"fixsim {args.command}: error: {msg}", file=sys.stderr)
            return 2
        except (OSError, ModuleNotFoundError) as exc:
            print(f"fixsim {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            from .._files import remove_live_temporaries

            remove_live_temporaries()
            if terminated.is_set():
                print(f"fixsim {args.command}: terminated", file=sys.stderr)
                return 128 + signal.SIGTERM
            print(f"fixsim {args.command}: interrupted", file=sys.stderr)
            return 128 + signal.SIGINT


@contextlib.contextmanager
def _sigterm_as_interrupt(flag: threading.Event):
    """SIGTERM raises KeyboardInterrupt (main thread only), so clean-up paths run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        flag.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Warnings print as one ``fixsim CMD: warning: ...`` line each (no source line)."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).splitlines()[0] if str(message) else category.__name__
        print(f"fixsim {command}: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def console() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console()
