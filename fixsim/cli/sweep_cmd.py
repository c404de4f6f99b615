"""``fixsim sweep``: evaluate many format assignments; table, Pareto plots, cheapest spec.

    fixsim sweep golden --data heldout.h5 --out sweep/ --widths 4:18
    fixsim sweep golden --data heldout.h5 --out sweep/ --widths 6:16 --search --workers 2
    fixsim sweep MODEL --data F --out D --dask-local 4 | --scheduler tcp://HOST:8786

Exit codes: 0 a point meets the targets (its spec is written), 1 none does, 2 bad input.
docs: docs/study.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ._args import integer, number

EPILOG = """\
points: the base spec's own formats, the grid (--widths x --modes x --accum-widths, with
--int-bits and --layer overrides) and, with --search, the per-tensor bisection.
outputs in --out: sweep.json and sweep.csv (same points -> same bytes, whatever the
executor), pareto.png, cheapest_spec.json (for fixsim vectors gen / certify --model),
manifest.json; the cache (--cache, default OUT/cache) lets an interrupted sweep resume.
exit codes: 0 a point meets the targets, 1 none does, 2 bad input (one line).
docs: docs/study.md"""


def register(sub) -> None:
    p = sub.add_parser("sweep", help="precision sweep: accuracy and cost of many formats",
                       description="Evaluate format assignments of a spec on labelled frames "
                                   "(bit-exact), cost them, and choose the cheapest meeting "
                                   "the targets.", epilog=EPILOG,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    add_inputs(p)
    g = p.add_argument_group("points")
    g.add_argument("--widths", help="uniform widths of input, weights, biases and results: "
                                    "A:B, A:B:STEP or a list (default: none, base widths)")
    g.add_argument("--modes", nargs="+", default=["base"],
                   help="rounding,overflow pairs of those tensors, e.g. RND,SAT TRN,WRAP "
                        "(default: base = each tensor's own)")
    g.add_argument("--accum-widths", help="accumulator widths (integer bits of the base)")
    g.add_argument("--int-bits", action="append", default=[],
                   help="integer bits under a uniform width: I, auto (the fewest holding the "
                        "float range on the data), TENSOR=I or TENSOR=auto (repeatable)")
    g.add_argument("--layer", action="append", default=[], metavar="TENSOR=FORMAT",
                   help="per-tensor format over the grid: conv1.accum=ap_fixed<24,12>, "
                        "fc1.weight=8 or fc1.weight=8,3 (repeatable)")
    g.add_argument("--search", action="store_true",
                   help="per-tensor bisection for the narrowest width meeting the targets")
    g.add_argument("--min-width", type=integer("--min-width", 1, 64), default=2,
                   help="narrowest width the search tries (default 2)")
    t = p.add_argument_group("targets and cost model")
    t.add_argument("--min-accuracy", type=number("--min-accuracy", 0, 1), default=0.90)
    t.add_argument("--max-gap", type=number("--max-gap", 0, 100), default=1.0,
                   help="largest |float - fixed| accuracy gap, percentage points (default 1)")
    t.add_argument("--max-cycles", type=integer("--max-cycles", 1), default=9000)
    t.add_argument("--max-dsp", type=integer("--max-dsp", 0), help="DSP48E2 budget (optional)")
    t.add_argument("--dense-reuse", type=integer("--dense-reuse", 1), default=20,
                   help="reuse of each dense multiplier (SpeckleNN mapping: 20)")
    t.add_argument("--lut-mult-bits", type=integer("--lut-mult-bits", 0, 64), default=10,
                   help="products with both operands <= this many bits use LUTs, no DSP "
                        "(0: never; default 10)")
    x = p.add_argument_group("execution")
    ex = x.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=integer("--workers", 1, 1024), default=1,
                    help="process pool size (default 1: in process)")
    ex.add_argument("--dask-local", type=integer("--dask-local", 1, 1024), metavar="N",
                    help="run on a Dask LocalCluster of N worker processes")
    ex.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a Dask scheduler")
    x.add_argument("--out", required=True, help="output directory")
    x.add_argument("--cache", help="point cache directory (default OUT/cache)")
    x.add_argument("--force", action="store_true",
                   help="replace the outputs of a finished sweep in --out")
    x.add_argument("--no-plot", action="store_true", help="no pareto.png")
    x.add_argument("--no-progress", action="store_true", help="no progress bar")
    x.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def add_inputs(p) -> None:
    """MODEL, --data, --spec, --support, --task, --frames (shared with ``fixsim profile``)."""
    p.add_argument("model", metavar="MODEL",
                   help="model directory (weights_folded.npz or weights.npz, optional "
                        "support.npz and spec.json; e.g. golden) or an .npz of float weights")
    p.add_argument("--data", required=True,
                   help="frames: fixsim data simulate HDF5, .npz (frames, labels) or .npy")
    p.add_argument("--spec", help="base spec: name or file (default MODEL/spec.json, else "
                                  "specklenn-snl)")
    p.add_argument("--support", help="support set .npz with frames and labels (default "
                                     "MODEL/support.npz)")
    p.add_argument("--task", choices=("auto", "fewshot", "top1"), default="auto",
                   help="decisions: few-shot nearest support, or arg max (auto: fewshot when "
                        "a support set is found)")
    p.add_argument("--frames", type=integer("--frames", 1), help="use the first N frames only")


def load_inputs(args, need_labels: bool, cost_model=None):
    """(context, base spec, record of the inputs) from the shared arguments."""
    from ..network import load_spec
    from ..study.cost import CostModel
    from ..study.evaluate import build_context, load_frames, load_model_dir, load_support

    weights, sup_path, spec_path = load_model_dir(args.model)
    spec = load_spec(args.spec or (str(spec_path) if spec_path else "specklenn-snl"))
    frames, labels, rec = load_frames(args.data, spec.input_shape)
    if args.frames is not None:
        frames = frames[:args.frames]
        labels = None if labels is None else labels[:args.frames]
        rec["used"] = int(len(frames))
    support = None
    if args.support or (sup_path is not None and args.task != "top1"):
        support = load_support(args.support or sup_path)
    ctx = build_context(spec, weights, frames, labels, task=args.task, support=support,
                        cost_model=cost_model or CostModel(), need_labels=need_labels)
    from .._files import sha256_file

    record = {"spec": spec.name, "spec_sha256": spec.spec_hash(), "data": rec,
              "model": str(args.model), "task": ctx.task, "weights_sha256": ctx.identity["weights"],
              "support": None if support is None else
              {"path": str(args.support or sup_path),
               "sha256": sha256_file(args.support or sup_path)},
              "cost_model": ctx.cost_model.to_dict()}
    return ctx, spec, record


def _plan(args, spec, ctx):
    from ..study.evaluate import value_ranges
    from ..study.points import (apply, grid_points, parse_int_bits, parse_modes, parse_overrides,
                                parse_values)

    widths = parse_values(args.widths, "--widths") if args.widths else None
    accums = parse_values(args.accum_widths, "--accum-widths") if args.accum_widths else [None]
    modes = [parse_modes(m) for m in args.modes] or [None]
    overrides = parse_overrides(spec, args.layer)
    int_bits = parse_int_bits(spec, args.int_bits, lambda: value_ranges(ctx))
    grid = grid_points(spec, widths=widths, modes=modes, accum_widths=accums, int_bits=int_bits,
                       overrides=overrides)
    if widths is None and accums == [None] and modes == [None] and not overrides:
        grid = []  # only the base point: the search (if asked) starts from it
    for p in grid:  # every point must be a spec fixsim accepts, before anything runs
        try:
            apply(spec, p)
        except ValueError as exc:
            raise type(exc)(f"point {dict(p.label)}: {str(exc).splitlines()[0]}") from None
    return grid


def _executor(args):
    from ..study.executors import ExecutorSpec

    if args.scheduler:
        if not args.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            from ..errors import InputError

            raise InputError(f"--scheduler {args.scheduler!r}: expected tcp://HOST:PORT")
        return ExecutorSpec("dask", 1, args.scheduler)
    if args.dask_local:
        return ExecutorSpec("dask", args.dask_local)
    return ExecutorSpec("pool" if args.workers > 1 else "inprocess", args.workers)


def _outputs(args) -> tuple[Path, Path]:
    """--out and the cache directory, checked before any work: a new directory, an
    interrupted sweep's (it holds the cache: the sweep resumes), or --force."""
    from .._files import check_dir_output
    from ..errors import InputError

    out = check_dir_output(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.force:
        if (out / "sweep.json").exists():
            raise InputError(f"--out {args.out!r} holds a finished sweep; give --force to "
                             "replace it (cached points are reused)")
        if not (out / "cache").is_dir():
            raise InputError(f"--out {args.out!r} exists and is not a sweep directory; give "
                             "--force to write into it")
    cache = check_dir_output(args.cache) if args.cache else out / "cache"
    return out, cache


def run(args) -> int:
    import json

    from ..study.cost import CostModel
    from ..study.executors import PointCache
    from ..study.output import write_outputs
    from ..study.points import apply
    from ..study.sweep import Targets, cost_key, sweep

    targets = Targets(args.min_accuracy, args.max_gap, args.max_cycles, args.max_dsp)
    executor = _executor(args)
    out, cache_dir = _outputs(args)
    model = CostModel(dense_reuse=args.dense_reuse, lut_mult_bits=args.lut_mult_bits)
    ctx, spec, record = load_inputs(args, need_labels=True, cost_model=model)
    grid = _plan(args, spec, ctx)
    if not grid and not args.search:
        from ..errors import InputError

        raise InputError("empty grid: give --widths, --modes, --accum-widths or --layer, "
                         "or --search")
    cache = PointCache(cache_dir)
    bar = None
    best = {"row": None}

    def on_row(point, row, cached):
        if targets.meets(row) and (best["row"] is None or cost_key(row) < cost_key(best["row"])):
            best["row"] = row
        if bar is not None:
            if bar.n >= bar.total:  # search probes are planned round by round
                bar.total += 1
            bar.update(1)
            if best["row"] is not None:
                b = best["row"]
                bar.set_postfix_str(f"best {b['dsp']} DSP, {100 * b['accuracy']:.1f}%")
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(grid) + 1, unit="point", desc="sweep", file=sys.stderr)
    t0 = time.time()
    try:
        res = sweep(ctx, grid, targets, executor=executor, cache=cache, do_search=args.search,
                    min_width=args.min_width, on_row=on_row)
    finally:
        if bar is not None:
            bar.close()
    spec_text = None
    if res["best"] is not None:
        b = res["best"]
        from ..study.points import Point

        point = Point(tuple(b["formats"].items()))
        chosen = apply(spec, point, name=f"{spec.name}-sweep-{b['key'][:8]}",
                       description=f"fixsim sweep (fixsim {ctx.identity['fixsim']}): "
                                   f"cheapest point meeting {targets.to_dict()} on "
                                   f"{len(ctx.frames)} frames of {record['data']['path']} "
                                   f"(sha256 {record['data']['sha256'][:16]}); base "
                                   f"{spec.name} {spec.spec_hash()[:16]}")
        spec_text = chosen.to_json() + "\n"
    run_record = {"executor": executor.describe(), "computed": res["computed"],
                  "cached": res["cached"], "points": len(res["rows"]),
                  "seconds": round(time.time() - t0, 2)}
    files = write_outputs(out, res, targets, record, spec_text, run_record,
                          plot=not args.no_plot)
    summary = {**run_record, "best": None if res["best"] is None else
               {k: res["best"][k] for k in ("key", "label", "accuracy", "gap_pp", "dsp",
                                            "weight_bits", "cycles")},
               "base": {k: res["base"].get(k) for k in ("accuracy", "dsp", "weight_bits",
                                                        "cycles")},
               "files": {k: str(v) for k, v in files.items()}}
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(f"{len(res['rows'])} points ({res['computed']} computed, {res['cached']} "
              f"cached) on {executor.describe()}")
        if res["best"] is None:
            print("no point meets the targets")
        else:
            b, base = res["best"], res["base"]
            print(f"cheapest meeting the targets: {b['label']} accuracy "
                  f"{100 * b['accuracy']:.2f}% (gap {b['gap_pp']:.2f} pp), {b['dsp']} DSP "
                  f"(base {base['dsp']}), {b['weight_bits']} weight bits (base "
                  f"{base['weight_bits']}), {b['cycles']} cycles -> {files['cheapest_spec.json']}")
    return 0 if res["best"] is not None else 1
