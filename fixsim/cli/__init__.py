"""Command-line interface: ``fixsim <command> ...``.

Each command lives in its own module exposing ``register(subparsers)``; the module's
parser sets ``func`` to a callable ``(args) -> int``.  Only this package turns
:class:`fixsim.errors.FixsimError` into exit code 2.
"""
