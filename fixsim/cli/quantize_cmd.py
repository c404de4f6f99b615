"""``fixsim quantize``: numbers in, raw mantissas out (placeholder until ops land)."""


def register(sub):
    p = sub.add_parser("quantize", help="quantize numbers into a fixed-point format (raw values)")
    p.set_defaults(func=lambda args: 0)
