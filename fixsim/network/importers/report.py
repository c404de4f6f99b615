"""The import report: the layer table and the float twin against the source model.

The float check runs the imported spec's float twin (:func:`fixsim.network.run_float`:
the spec's topology with the imported float64 weights, no quantization) and the source
model in float64 on the same seeded random frames; the import fails when the largest
absolute difference exceeds :data:`TOLERANCE` times the largest absolute source output.

>>> check = FloatCheck.compare(np.array([[1.0, -2.0]]), np.array([[1.0, -2.0 + 1e-9]]),
...                            seed=0, frames=1)
>>> check.passed, check.relative_error < 1e-9
(True, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: The largest relative difference (to the largest absolute source output) accepted.
TOLERANCE = 1e-5


@dataclass(frozen=True)
class FloatCheck:
    """The float twin against the source on ``frames`` seeded standard-normal frames."""

    seed: int
    frames: int
    max_abs_error: float
    max_abs_reference: float
    relative_error: float
    tolerance: float
    passed: bool

    @classmethod
    def compare(cls, reference, twin, *, seed: int, frames: int) -> "FloatCheck":
        ref = np.asarray(reference, np.float64).reshape(frames, -1)
        got = np.asarray(twin, np.float64).reshape(frames, -1)
        if ref.shape != got.shape:
            return cls(seed, frames, float("inf"), float(np.max(np.abs(ref), initial=0.0)),
                       float("inf"), TOLERANCE, False)
        err = float(np.max(np.abs(ref - got), initial=0.0))
        scale = float(np.max(np.abs(ref), initial=0.0))
        rel = err / scale if scale > 0 else err
        ok = bool(np.isfinite(rel) and rel <= TOLERANCE)
        return cls(seed, frames, err, scale, rel, TOLERANCE, ok)

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (f"float twin vs source ({self.frames} random frames, seed {self.seed}): max abs "
                f"error {self.max_abs_error:.3g} of max |output| {self.max_abs_reference:.3g} "
                f"(relative {self.relative_error:.3g}, limit {self.tolerance:g}): {verdict}")


def layer_table(spec, ops_by_name: dict, names: dict) -> list[dict]:
    """One row per spec layer: type, shapes, output format, parameters, source node(s)."""
    fused: dict = {}
    for src, dst in names.items():
        if src != dst:
            fused.setdefault(dst, []).append(src)
    rows = []
    for layer in spec.layers:
        op = ops_by_name.get(layer.name)
        rows.append({"name": layer.name, "type": layer.type,
                     "source": op.source if op is not None else "",
                     "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
                     "out_format": str(layer.out_format), "params": layer.params,
                     "fused": fused.get(layer.name, [])})
    return rows


def render(report: dict) -> str:
    """The text form of a report dict (see :func:`fixsim.network.importers.import_model`)."""
    src = report["source"]
    lines = [f"fixsim import ({report['generator']}): {src['kind']} {src['path']} "
             f"(sha256 {src['sha256'][:16]}...)"]
    if src.get("weights"):
        lines.append(f"  weights {src['weights']} (sha256 {src['weights_sha256'][:16]}...)")
    lines.append(f"  precision: {report['precision']['source']}; dialect "
                 f"{report['dialect']}; batchnorm {'kept' if report['keep_bn'] else 'folded'}")
    spec = report["spec"]
    lines.append(f"  spec {spec['name']}: {spec['params']} parameters, hash {spec['hash']}")
    lines.append(f"  {'layer':<14} {'type':<16} {'out shape':<16} {'out format':<34} "
                 f"{'params':>7}  source")
    for r in report["layers"]:
        extra = f" + {', '.join(r['fused'])}" if r["fused"] else ""
        lines.append(f"  {r['name']:<14} {r['type']:<16} {str(tuple(r['out_shape'])):<16} "
                     f"{r['out_format']:<34} {r['params']:>7}  {r['source']}{extra}")
    lines.append("  " + FloatCheck(**report["float_check"]).line())
    for key, value in report.get("outputs", {}).items():
        lines.append(f"  wrote {key}: {value['path']} (sha256 {value['sha256'][:16]}...)")
    return "\n".join(lines)


def as_dict(check: FloatCheck) -> dict:
    return asdict(check)


__all__ = ["TOLERANCE", "FloatCheck", "layer_table", "render", "as_dict"]
