"""``fixsim spec``: validate a model spec and show its canonical form, hash and bounds.

    fixsim spec specklenn-snl                 # summary: layers, shapes, formats, hash
    fixsim spec my.json --resolved --out r.json   # canonical JSON with derived fields
    fixsim spec my.json --json                # machine-readable summary

Exit 0 for a valid spec, 2 for an invalid one (one-line error naming the layer).
"""

from __future__ import annotations

import json
import sys

from .._version import __version__


def register(subparsers) -> None:
    p = subparsers.add_parser("spec", help="validate a model spec; print its canonical form, "
                                           "hash and accumulator bounds")
    p.add_argument("spec", metavar="NAME|SPEC.json", help="bundled spec name or JSON file")
    p.add_argument("--resolved", action="store_true",
                   help="emit the canonical JSON with derived shapes/formats (for code generators)")
    p.add_argument("--canonical", action="store_true", help="emit the canonical JSON")
    p.add_argument("--out", metavar="FILE", help="write the emitted JSON here (atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def _summary(spec) -> dict:
    from ..network.bounds import accumulator_bounds

    bounds = {b.layer: b for b in accumulator_bounds(spec)}
    layers = []
    for layer in spec.layers:
        row = {"name": layer.name, "type": layer.type, "out_shape": list(layer.out_shape),
               "out_format": str(layer.out_format), "params": layer.params}
        if layer.name in bounds:
            b = bounds[layer.name]
            row.update(accum=str(b.accum), bound=b.max_abs, cannot_overflow=b.cannot_overflow,
                       order_free=b.order_free)
        options = getattr(layer, "options", None)
        if options is not None:  # the MAC datapath: product, summation order, activation
            row["options"] = options.to_dict()
        layers.append(row)
    return {"generator": f"fixsim {__version__}", "name": spec.name,
            "spec_hash": spec.spec_hash(), "params": spec.num_params,
            "input": {"shape": list(spec.input_shape), "format": str(spec.input_format)},
            "layers": layers}


def main(args) -> int:
    from ..network.spec import load_spec
    from .._files import check_writable_output, write_text_atomic
    from ..errors import InputError

    if args.out:
        if not (args.resolved or args.canonical):
            raise InputError(f"--out {args.out!r} needs --resolved or --canonical (what to write)")
        check_writable_output(args.out, args.force, "--out")
    spec = load_spec(args.spec)
    if args.resolved or args.canonical:
        text = spec.to_json(resolved=args.resolved) + "\n"
        if args.out:
            write_text_atomic(args.out, text)
        else:
            sys.stdout.write(text)
        return 0
    summary = _summary(spec)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{spec.name}: {spec.num_params} parameters, input {spec.input_shape} "
          f"{spec.input_format}, sha256 {summary['spec_hash']}")
    for row in summary["layers"]:
        extra = ""
        if "accum" in row:
            verdict = "cannot overflow" if row["cannot_overflow"] else "MAY OVERFLOW"
            extra = (f"  acc {row['accum']} |acc| <= {row['bound']:g} ({verdict}"
                     f"{', order-free' if row['order_free'] else ''})")
        if "options" in row:
            o = row["options"]
            order = o["sum_order"] + (f" R={o['reuse_factor']}" if "reuse_factor" in o else "")
            extra += f"  [{o['product']}, {order}, activation on {o['activation_on']}]"
        print(f"  {row['name']:10s} {row['type']:10s} {str(tuple(row['out_shape'])):14s} "
              f"{row['out_format']}{extra}")
    return 0
