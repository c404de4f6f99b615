"""``fixsim import``: a PyTorch, ONNX/QONNX or Keras model into a fixsim spec and weights.

    fixsim import torch net.py:Net --args '{"n": 8}' --weights net.pt --input-shape 1,28,28 \\
        --config hls4ml.yml --out imported/
    fixsim import net.onnx --precision 'ap_fixed<16,6>' --out imported/ --write-config c.yml
    fixsim import keras model.h5 --precision 'ap_fixed<16,6>' --out imported/

Writes (atomically, as one directory) ``spec.json``, ``weights.npz`` (raw int64 in the
spec's formats, the layout every command takes), ``import_report.json`` and
``import_report.txt``.  Exit 0: imported and the float twin equals the source (within
1e-5 relative); 1: the float twin differs (nothing written); 2: bad input (an unsupported
op, missing weights, dynamic shapes, configuration names the model does not have).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._args import seed


def register(sub) -> None:
    p = sub.add_parser(
        "import", help="import a PyTorch, ONNX/QONNX or Keras model as a spec and weights "
                       "(docs/import.md)",
        description="Import a PyTorch module (FILE.py:Class with --weights, or a torch.export "
                    ".pt2 file), an ONNX/QONNX file or a Keras .h5/.keras file as a fixsim "
                    "spec, raw weights and an "
                    "import report; the spec's float twin is checked against the source.")
    p.add_argument("source", metavar="torch|onnx|keras|MODEL",
                   help="the source kind (torch, onnx, keras) followed by the model, or the model "
                        "alone (kind from its name)")
    p.add_argument("model", nargs="?", default=None,
                   help="FILE.py:Class, FILE.pt2, FILE.onnx or FILE.h5/FILE.keras")
    p.add_argument("--args", metavar="JSON", help="constructor arguments of Class: a JSON list "
                                                  "or object")
    p.add_argument("--weights", metavar="CKPT.pt", help="state dict or checkpoint of Class")
    p.add_argument("--input-shape", metavar="C,H,W", help="one frame's shape without the batch "
                                                          "(required for FILE.py:Class)")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--config", metavar="FILE", help="hls4ml-style configuration (YAML/JSON): "
                                                       "Model, LayerName, IOType")
    prec.add_argument("--precision", metavar="FORMAT",
                      help="one default format, e.g. 'ap_fixed<16,6>' (accumulators inferred "
                           "as hls4ml's 'auto'); or auto[:W]: W-bit formats (default 16) from "
                           "the weights' ranges and the outputs profiled on --sample frames")
    p.add_argument("--sample", metavar="FRAMES.npy",
                   help="float frames (N, *input shape): profiled by --precision auto "
                        "(default: 256 seeded standard-normal frames); the first 32 join the "
                        "float check's random frames")
    p.add_argument("--dialect", choices=("hls4ml", "none"), default="hls4ml",
                   help="hls4ml (default): the spec reproduces hls4ml's datapath; none: an "
                        "SNL-style spec (activations fused, PyTorch flatten order)")
    p.add_argument("--keep-bn", action="store_true",
                   help="keep BatchNorms as batchnorm layers (default: folded into the conv/"
                        "linear layer before them)")
    p.add_argument("--name", help="spec name (default: the class or file name)")
    p.add_argument("--description", default="", help="spec description")
    p.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                   help="rename a layer (repeatable), e.g. max_pool2d=pool1")
    p.add_argument("--seed", type=seed(), default=0, help="seed of the float check's frames")
    p.add_argument("--out", metavar="DIR", help="output directory (spec.json, weights.npz, "
                                                "weights.img, import_report.json/.txt)")
    p.add_argument("--write-config", metavar="FILE",
                   help="also write the hls4ml-style configuration of the spec (.json, or "
                        ".yml/.yaml)")
    p.add_argument("--hdf5", metavar="FILE", help="also write the weights as HDF5")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _shape(text: str | None):
    from ..errors import InputError

    if text is None:
        return None
    try:
        dims = tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise InputError(f"--input-shape {text!r} must be integers such as 1,65,65") from None
    if not dims or any(d < 1 for d in dims):
        raise InputError(f"--input-shape {text!r} must be positive integers such as 1,65,65")
    return dims


def _auto_width(text: str) -> int:
    from ..errors import InputError

    _, sep, width = text.strip().partition(":")
    if not sep:
        return 16
    try:
        return int(width)
    except ValueError:
        raise InputError(f"--precision {text!r}: auto:W takes a width W (e.g. auto:16)") from None


def _model_arg(args) -> str:
    from ..errors import InputError

    if args.model is None:
        return args.source
    if args.source not in ("torch", "onnx", "keras"):
        raise InputError(f"source kind {args.source!r} is not torch, onnx or keras")
    keras_file = args.model.lower().endswith((".h5", ".hdf5", ".keras"))
    if (args.source == "keras") != keras_file:
        raise InputError(f"{args.source} model {args.model!r}: Keras models are .h5, .hdf5 or "
                         ".keras files, given as 'fixsim import keras FILE'")
    if args.source == "onnx" and not args.model.lower().endswith(".onnx"):
        raise InputError(f"onnx model {args.model!r} must be an .onnx file")
    if args.source == "torch" and args.model.lower().endswith(".onnx"):
        raise InputError(f"torch model {args.model!r} is an .onnx file: use 'fixsim import onnx'")
    return args.model


def _dump_config(path: str, cfg: dict) -> None:
    from .._files import write_text_atomic

    if Path(path).suffix.lower() in (".yml", ".yaml"):
        import yaml

        write_text_atomic(path, yaml.safe_dump(cfg, sort_keys=False))
    else:
        write_text_atomic(path, json.dumps(cfg, indent=2) + "\n")


def run(args) -> int:
    from .._files import atomic_dir, check_dir_output, check_writable_output, sha256_file
    from ..errors import InputError
    from ..network.importers import import_model
    from ..network.importers.precision import Config, read_config
    from ..network.importers.report import render

    model = _model_arg(args)
    if args.config is None and args.precision is None:
        raise InputError("give the precision: --config FILE (hls4ml-style) or --precision "
                         "'ap_fixed<W,I>'")
    if args.out is None and not args.json and args.write_config is None:
        raise InputError("give --out DIR (and/or --write-config FILE, --json)")
    out = Path(args.out) if args.out else None
    if out is not None:
        check_dir_output(out)
        if out.exists() and not args.force:
            raise InputError(f"--out {str(out)!r} exists; pass --force to replace it")
    for opt in ("write_config", "hdf5"):
        if getattr(args, opt):
            check_writable_output(getattr(args, opt), args.force, f"--{opt.replace('_', '-')}")
    if args.config:
        cfg = read_config(args.config)
        prec_source = f"config {args.config} (sha256 {sha256_file(args.config)[:16]}...)"
    elif args.precision.strip().startswith("auto"):
        cfg = Config.auto(_auto_width(args.precision))
        prec_source = (f"--precision {args.precision}: formats from the weights' ranges and "
                       f"the outputs on {args.sample or '256 random frames'}, accumulators "
                       "from the bound analysis of the quantized weights")
    else:
        cfg = Config.default(args.precision)
        prec_source = f"--precision {args.precision} (accumulators: hls4ml's auto inference)"
    sample = None
    if args.sample is not None:
        from .._files import read_npy

        sample = read_npy(args.sample, "--sample")
        if sample.dtype.kind not in "fiu" or sample.ndim < 2 or len(sample) == 0:
            raise InputError(f"--sample {args.sample!r} must hold numbers, (N, *input shape) "
                             f"with N >= 1, got {sample.dtype} {sample.shape}")
    result = import_model(model, weights=args.weights, args=args.args,
                          input_shape=_shape(args.input_shape), config=cfg,
                          dialect=args.dialect, keep_bn=args.keep_bn, name=args.name,
                          description=args.description, rename=tuple(args.rename),
                          seed=args.seed, precision_source=prec_source, sample=sample)
    report = result.report
    if not result.passed:
        text = render(report)
        print(json.dumps(report, indent=2) if args.json else text)
        print(f"fixsim import: error: the float twin of the imported spec differs from the "
              f"source model (relative error {result.check.relative_error:.3g} > "
              f"{result.check.tolerance:g}); nothing written", file=sys.stderr)
        return 1
    if args.write_config:
        _dump_config(args.write_config, result.config)
        report.setdefault("outputs", {})["config"] = {
            "path": args.write_config, "sha256": sha256_file(args.write_config)}
    if args.hdf5:
        from ..vectors.weight_io import export_hdf5

        export_hdf5(args.hdf5, result.spec, result.weights)
        report.setdefault("outputs", {})["hdf5"] = {"path": args.hdf5,
                                                    "sha256": sha256_file(args.hdf5)}
    if out is not None:  # last: its report lists every file written
        _write(out, result, atomic_dir)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def _write(out: Path, result, atomic_dir) -> None:
    import numpy as np

    from .._files import sha256_file
    from ..network.importers.report import render

    report = result.report
    with atomic_dir(out) as tmp:
        from ..vectors.weight_image import build_image

        spec_path, w_path = tmp / "spec.json", tmp / "weights.npz"
        img_path = tmp / "weights.img"
        spec_path.write_text(result.spec.to_json() + "\n")
        with open(w_path, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v, np.int64) for k, v in result.weights.items()})
        img_path.write_bytes(build_image(result.spec, result.weights))  # what the board loads
        report.setdefault("outputs", {}).update(
            spec={"path": str(out / "spec.json"), "sha256": sha256_file(spec_path)},
            weights={"path": str(out / "weights.npz"), "sha256": sha256_file(w_path)},
            weight_image={"path": str(out / "weights.img"), "sha256": sha256_file(img_path)})
        (tmp / "import_report.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "import_report.txt").write_text(render(report) + "\n")
