"""``fixsim certify``: is this design what the golden model promises, bit for bit, in time?

:func:`certify` gathers four kinds of evidence and checks each against a stated threshold:

1. **accuracy** - a fresh held-out set simulated with :func:`fixsim.data.simulate` (seed
   recorded; refused if it is a seed the golden model was trained or evaluated on) is
   classified few-shot (nearest support, L2-normalized, the golden support frames):
   *float* through the golden PyTorch model (float64 :func:`fixsim.network.run_float`
   on the golden weights without torch), *fixed* through the bit-exact datapath
   (:func:`fixsim.network.run` on the golden folded weights quantized to the spec; the
   supports embedded through the same path).  Checks: both accuracies >= 90%, the gap
   <= 1 percentage point, the same decision on >= 99% of frames.
2. **bit-exactness** - on the vector set: its expected outputs against fixsim, and fixsim
   against the g++ C simulation of rtl/, every layer, 0 mismatches; also fixsim against
   the C simulation on held-out frames with the golden weights.
3. **latency** - only from evidence: an HLS csynth report, a cosim report, or a hardware
   result with firmware cycle counts (:func:`fixsim.hls.latency.certify` against the
   budget, 9,000 cycles at 200 MHz by default).  Without evidence it is *not measured*;
   the analytical prediction of :mod:`fixsim.hls.latency_model` is shown as information.
4. **resources** - against the part, when a synthesis report is given.

Evidence is bound to what is certified (section ``evidence``): a synthesis or cosim
report's top function must be the design's top (:func:`design_tops`, from the rtl
codegen naming, or ``top`` given explicitly and recorded), its part and target clock are
compared with the budget's; a hardware result must have run the certified vector set and
weight image, return its expected outputs bit for bit, and count cycles in firmware
(:func:`fixsim.verify.capture.hw_evidence`).  Each mismatch is a FAIL naming it.  The
certificate records the spec, weight image, vector-set manifest and rtl/ source hashes,
the fixsim version and git commit, and the sha256, kind, top, part and clock of every
evidence file.

Verdict: FAIL if any check fails; else INCOMPLETE if any required check could not be
made (latency not measured, undecidable report fields); else PASS.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .._version import __version__
from .._files import sha256_file
from ..errors import InputError
from .data import eval_frames, load_data
from .defaults import default_vectors, golden_dir
from .provenance import design_tops, git_commit, relative_path, rtl_sources_record, tools_record

PASS, FAIL, NOT_MEASURED = "pass", "fail", "not_measured"
FORMAT = "fixsim-certificate/2"  # 2: design binding, evidence records (issue 9)
#: Held-out frames also run through the C simulation with the golden weights.
CSIM_HELD_OUT = 32


@dataclass(frozen=True)
class Check:
    """One requirement: measured value against threshold."""

    section: str
    name: str
    status: str
    measured: object
    threshold: object
    detail: str
    required: bool = True


@dataclass
class CertifyConfig:
    """What to certify and against which targets (defaults: the bundled design)."""

    golden: Path = field(default_factory=golden_dir)
    vectors: Path | None = None
    model: str = "specklenn-snl"
    #: Held-out frames to simulate (None: 400); with ``data``, the frames used (None: all).
    n_eval: int | None = None
    seed: int = 2026
    min_accuracy: float = 0.90
    max_gap_pp: float = 1.0
    min_agreement: float = 0.99
    budget: object = None
    report: Path | None = None
    cosim: Path | None = None
    hw: Path | None = None
    top: str | None = None
    threads: int | None = None
    #: Frames file (``fixsim data import``) to certify on instead of simulated held-out
    #: frames; ``n_eval`` then limits the frames used (None: all).
    data: Path | None = None

    def __post_init__(self):
        if self.n_eval is None and self.data is None:
            self.n_eval = 400
        if self.data is not None and self.n_eval is None:
            pass
        elif isinstance(self.n_eval, bool) or not isinstance(self.n_eval, int) or (
                self.n_eval < (1 if self.data is not None else 4)):
            raise InputError(f"held-out frames must be an integer >= 4 (one per class), got {self.n_eval!r}"
                             if self.data is None else
                             f"frames of --data must be an integer >= 1, got {self.n_eval!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("min_accuracy", "min_agreement"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v <= 1):
                raise InputError(f"{name.replace('_', ' ')} must be in [0, 1], got {v!r}")
        if not (isinstance(self.max_gap_pp, (int, float)) and 0 <= self.max_gap_pp <= 100):
            raise InputError(f"max gap must be in [0, 100] percentage points, got {self.max_gap_pp!r}")
        if self.budget is None:
            from ..hls import Budget

            self.budget = Budget()


# --------------------------------------------------------------------------- golden

def _golden(cfg: CertifyConfig) -> dict:
    """Golden weights (float), support frames/labels, manifest record; seeds checked."""
    import json

    from ..model.weights import load_npz

    g = Path(cfg.golden)
    for name in ("weights_folded.npz", "support.npz", "manifest.json"):
        if not (g / name).is_file():
            raise InputError(f"golden model directory {str(g)!r} lacks {name}")
    manifest = json.loads((g / "manifest.json").read_text())
    used = {v.get("seed") for v in manifest.get("data", {}).values() if isinstance(v, dict)}
    if cfg.seed in used and cfg.data is None:  # with --data nothing is simulated
        raise InputError(f"seed {cfg.seed} simulated the golden model's own data "
                         f"(seeds {sorted(s for s in used if s is not None)}); choose a fresh one")
    with np.load(g / "support.npz", allow_pickle=False) as z:
        support = {k: z[k] for k in ("frames", "labels", "class_names")}
    return {"dir": g, "weights": load_npz(g / "weights_folded.npz"), "support": support,
            "manifest_sha256": sha256_file(g / "manifest.json"),
            "weights_sha256": sha256_file(g / "weights_folded.npz"),
            "support_sha256": sha256_file(g / "support.npz"), "seeds_used": sorted(
                s for s in used if s is not None)}


def _float_embed(golden: dict, spec, frames: np.ndarray) -> tuple[np.ndarray, str]:
    """Float embeddings: the golden PyTorch model, else float64 fixsim on the same weights."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        from ..network import run_float

        fw = {k: v.astype(np.float64) for k, v in golden["weights"].items()}
        out = run_float(spec, fw, frames, taps=False)
        return out[spec.layers[-1].name], "fixsim.network.run_float (float64; torch not installed)"
    from .sources import load_golden_model, torch_taps

    model, _ = load_golden_model(golden["dir"])
    return torch_taps(model, spec, frames)[spec.layers[-1].name], "golden PyTorch model (float32)"


def _classes_report(labels, pred, names) -> dict:
    out = {"overall": float((pred == labels).mean()), "per_class": {}}
    for c, name in enumerate(names):
        sel = labels == c
        if sel.any():
            out["per_class"][str(name)] = {"n": int(sel.sum()),
                                           "accuracy": float((pred[sel] == c).mean())}
    return out


def _accuracy_checks(cfg, acc_f, acc_q, gap_pp, n: int) -> list:
    if acc_f["overall"] is None:
        why = "accuracy not measured (the data has no labels)"
        return [Check("accuracy", name, NOT_MEASURED, None, threshold, why)
                for name, threshold in (("float_accuracy", cfg.min_accuracy),
                                        ("fixed_accuracy", cfg.min_accuracy),
                                        ("accuracy_gap", cfg.max_gap_pp))]
    where = f"{n} frames of --data" if cfg.data is not None else f"{n} held-out frames"
    return [
        Check("accuracy", "float_accuracy", PASS if acc_f["overall"] >= cfg.min_accuracy else FAIL,
              acc_f["overall"], cfg.min_accuracy, f"float few-shot accuracy {acc_f['overall']:.4f} "
              f"on {where} (>= {cfg.min_accuracy:g})"),
        Check("accuracy", "fixed_accuracy", PASS if acc_q["overall"] >= cfg.min_accuracy else FAIL,
              acc_q["overall"], cfg.min_accuracy, f"fixed few-shot accuracy {acc_q['overall']:.4f} "
              f"(>= {cfg.min_accuracy:g})"),
        Check("accuracy", "accuracy_gap", PASS if gap_pp <= cfg.max_gap_pp + 1e-9 else FAIL,
              gap_pp, cfg.max_gap_pp, f"|float - fixed| = {gap_pp:.2f} percentage points "
              f"(<= {cfg.max_gap_pp:g})")]


def accuracy(cfg: CertifyConfig, spec, golden: dict, log,
             data: dict | None = None) -> tuple[dict, list, dict]:
    """Section 1: accuracy, float and fixed, on simulated held-out frames or on ``data``
    (:func:`load_data`; without labels accuracy is not measured, the decision agreement
    still is).  Returns (record, checks, extras)."""
    from ..fixed import to_float
    from ..network import run
    from ..network.weights import quantize_weights
    from ..train.fewshot import FewShotClassifier

    x, labels, names, held_record = eval_frames(cfg, data, log)
    s_frames, s_labels = golden["support"]["frames"][:, None], golden["support"]["labels"]
    log("float embeddings (golden model)")
    f_query, engine = _float_embed(golden, spec, x)
    f_support, _ = _float_embed(golden, spec, s_frames)
    log("fixed embeddings (fixsim bit-exact datapath)")
    wq = quantize_weights(spec, {k: v.astype(np.float64) for k, v in golden["weights"].items()},
                          warn=False)
    out = spec.layers[-1]
    q_raw = run(spec, wq, x, taps=False, threads=cfg.threads)[out.name]
    s_raw = run(spec, wq, s_frames, taps=False, threads=cfg.threads)[out.name]
    q_fixed, s_fixed = to_float(q_raw, out.out_format), to_float(s_raw, out.out_format)
    pred_f = FewShotClassifier(f_support, s_labels, rule="nearest").predict(f_query)
    pred_q = FewShotClassifier(s_fixed, s_labels, rule="nearest").predict(q_fixed)
    if labels is None:
        missing = {"overall": None, "per_class": {},
                   "not_measured": "accuracy not measured (the data has no labels)"}
        acc_f, acc_q, gap_pp = dict(missing), dict(missing), None
    else:
        acc_f = _classes_report(labels, pred_f, names)
        acc_q = _classes_report(labels, pred_q, names)
        gap_pp = 100.0 * abs(acc_f["overall"] - acc_q["overall"])
    same = float((pred_f == pred_q).mean())
    record = {
        "held_out": held_record,
        "rule": "nearest support, L2-normalized embeddings",
        "support": {"source": relative_path(golden["dir"] / "support.npz"), "n": int(len(s_labels)),
                    "per_class": int(np.bincount(s_labels).min())},
        "float": {"engine": engine, **acc_f},
        "fixed": {"engine": f"fixsim.network.run ({spec.name}, golden weights quantized)", **acc_q},
        "gap_pp": gap_pp, "same_decision": same,
        "different_decisions": int((pred_f != pred_q).sum()),
    }
    checks = _accuracy_checks(cfg, acc_f, acc_q, gap_pp, len(x)) + [
        Check("accuracy", "same_decision", PASS if same >= cfg.min_agreement else FAIL, same,
              cfg.min_agreement, f"float and fixed decide alike on {same:.2%} of frames "
              f"(>= {cfg.min_agreement:.0%})"),
    ]
    return record, checks, {"frames": x, "weights": wq}


# --------------------------------------------------------------------------- bit-exactness

def _exact_check(name: str, cmp, detail: str) -> tuple[Check, dict]:
    total = sum(l.mismatches for l in cmp.layers)
    missing = len(cmp.only_a) + len(cmp.only_b)
    ok = total == 0 and missing == 0
    first = cmp.first_mismatch.line() if cmp.first_mismatch is not None else None
    text = (f"{detail}: {cmp.frames} frames, {len(cmp.layers)} layers, {total} mismatches"
            + (f", {missing} frames on one side only" if missing else "")
            + (f"; first: {first}" if first else ""))
    rec = {"frames": cmp.frames, "layers": {l.layer: l.mismatches for l in cmp.layers},
           "mismatches": total, "first_mismatch": first}
    return Check("bit_exactness", name, PASS if ok else FAIL, total, 0, text), rec


def load_design(cfg: CertifyConfig, spec, log=lambda m: None) -> dict:
    """What is certified besides the golden model: the vector set (loaded and verified
    once), its manifest and weight-image sha256, the rtl/ sources, the expected top.

    Raises
    ------
    InputError
        An unreadable vector set, or one made for another spec.
    """
    from .sources import SourceOptions, load_vector_set

    vdir = Path(cfg.vectors) if cfg.vectors is not None else default_vectors()
    vs = None
    if cfg.vectors is not None or vdir.is_dir():
        vs = load_vector_set(vdir, SourceOptions(log=log))
        if vs.spec.spec_hash() != spec.spec_hash():
            raise InputError(f"vector set {vdir} is for spec {vs.spec.name!r}, not {spec.name!r}")
    manifest = vdir / "manifest.json"
    return {
        "vdir": vdir, "vs": vs,
        "manifest_sha256": sha256_file(manifest) if vs is not None and manifest.is_file() else None,
        "weight_image_sha256": sha256_file(vs.weight_image_path) if vs is not None else None,
        "tops": (cfg.top,) if cfg.top is not None else design_tops(spec),
        "top_declared_by": "--top (user)" if cfg.top is not None else "rtl codegen naming",
        "rtl_sources": rtl_sources_record(spec),
    }


def bit_exactness(cfg: CertifyConfig, held_out: dict, spec, log, csim_run=None,
                  design: dict | None = None) -> tuple[dict, list]:
    """Section 2: vector set expected vs fixsim, fixsim vs C-sim (vector set and held-out);
    the vector set's weights must be the golden model's, quantized to the spec."""
    from ..csim import twin
    from ..network import run
    from .compare import compare
    from .result import Result

    csim_run = csim_run or twin.run
    design = design if design is not None else load_design(cfg, spec, log)
    record, checks = {}, []
    vdir, vs = design["vdir"], design["vs"]
    if vs is None:
        checks.append(Check("bit_exactness", "vector_set", NOT_MEASURED, None, 0,
                            f"default vector set {vdir} is missing: vectors not checked"))
        record["vector_set"] = None
    else:
        wq = held_out["weights"]
        differ = sorted(k for k in set(wq) | set(vs.weights)
                        if k not in wq or k not in vs.weights
                        or not np.array_equal(np.asarray(wq[k]), np.asarray(vs.weights[k])))
        checks.append(Check("bit_exactness", "vector_set_weights", FAIL if differ else PASS,
                            len(differ), 0,
                            f"the vector set's weights differ from the golden model's "
                            f"(quantized to {spec.name}) in {differ[:4]}" if differ else
                            "the vector set's weights are the golden model's, quantized"))
        log(f"fixsim on the vector set ({len(vs.inputs)} frames)")
        fx = Result("fixsim", "fixsim", vs.spec, run(vs.spec, vs.weights, vs.inputs,
                                                      threads=cfg.threads), True)
        log("C simulation of the vector set (g++)")
        cs = Result("csim", "csim", vs.spec, csim_run(vs.spec, vs.weights, vs.inputs), True)
        ex = Result("vectors", "vectors", vs.spec, dict(vs.taps), True)
        c1, r1 = _exact_check("vectors_vs_fixsim", compare(ex, fx, threads=cfg.threads),
                              "vector set expected outputs vs fixsim")
        c2, r2 = _exact_check("fixsim_vs_csim", compare(fx, cs, threads=cfg.threads),
                              "fixsim vs C simulation on the vector set")
        checks += [c1, c2]
        record["vector_set"] = {"path": relative_path(vdir), "frames": int(len(vs.inputs)),
                                "manifest_sha256": design["manifest_sha256"],
                                "weight_image_sha256": design["weight_image_sha256"],
                                "vectors_vs_fixsim": r1, "fixsim_vs_csim": r2}
    n = min(CSIM_HELD_OUT, len(held_out["frames"]))
    x, w = held_out["frames"][:n], held_out["weights"]
    what = "frames of --data" if cfg.data is not None else "held-out frames"
    log(f"fixsim vs C simulation on {n} {what} with the golden weights")
    fx = Result("fixsim", "fixsim", spec, run(spec, w, x, threads=cfg.threads), True)
    cs = Result("csim", "csim", spec, csim_run(spec, w, x), True)
    c3, r3 = _exact_check("fixsim_vs_csim_held_out", compare(fx, cs, threads=cfg.threads),
                          f"fixsim vs C simulation on {what}, golden weights")
    checks.append(c3)
    record["held_out_golden"] = r3
    return record, checks


# --------------------------------------------------------------------------- latency, resources

def _reports(cfg: CertifyConfig):
    from ..hls import CosimReport, SynthReport, find_solution_reports, load_report

    synth = cosim = None
    if cfg.report is not None:
        p = Path(cfg.report)
        if p.is_dir():
            found = find_solution_reports(p, cfg.top)
            synth, cosim = found.csynth, found.cosim
        else:
            rep = load_report(p)
            synth, cosim = (rep, None) if isinstance(rep, SynthReport) else (None, rep)
    if cfg.cosim is not None:
        rep = load_report(cfg.cosim)
        if not isinstance(rep, CosimReport):
            raise InputError(f"--cosim {cfg.cosim}: not a cosim report")
        cosim = rep
    return synth, cosim


def _certified(cfg: CertifyConfig, spec, design: dict):
    from .capture import Certified

    vs = design["vs"]
    return Certified(spec, None if vs is None else np.asarray(vs.outputs),
                     design["manifest_sha256"], design["weight_image_sha256"],
                     cfg.budget.clock_mhz)


def load_evidence(cfg: CertifyConfig, spec=None, design: dict | None = None) -> tuple:
    """(synth, cosim, hw) latency evidence, read and validated before any long step.

    ``hw`` is a :class:`fixsim.verify.capture.HwEvidence` bound to the design (its
    problems become FAILs in :func:`latency_and_resources`).
    """
    from ..network import load_spec
    from .capture import hw_evidence

    spec = spec if spec is not None else load_spec(cfg.model)
    design = design if design is not None else load_design(cfg, spec)
    synth, cosim = _reports(cfg)
    hw = hw_evidence(cfg.hw, _certified(cfg, spec, design)) if cfg.hw is not None else None
    return synth, cosim, hw


def _report_record(rep, kind: str) -> dict:
    path = rep.source or None
    clock = getattr(rep, "target_clock_ns", None)
    return {"path": relative_path(path), "kind": kind,
            "sha256": sha256_file(path) if path and Path(path).is_file() else None,
            "top": rep.top, "part": getattr(rep, "part", None),
            "clock_mhz": None if not clock else round(1000.0 / clock, 6),
            "clock_ns": clock}


def _top_check(rep, what: str, design: dict) -> Check:
    tops, by = design["tops"], design["top_declared_by"]
    name = f"{what}_top"
    if rep.top is None:
        return Check("evidence", name, FAIL, None, list(tops),
                     f"the {what} report {rep.source or ''} names no top function: it cannot "
                     f"be bound to the design (top {' or '.join(tops)}, from {by})")
    ok = rep.top in tops
    return Check("evidence", name, PASS if ok else FAIL, rep.top, list(tops),
                 f"{what} report top function {rep.top!r} "
                 f"{'is' if ok else 'is not'} the design's top {' or '.join(map(repr, tops))} "
                 f"(from {by})")


def latency_and_resources(cfg: CertifyConfig, evidence: tuple,
                          design: dict | None = None) -> tuple[dict, list]:
    """Sections 3 and 4 from the evidence of :func:`load_evidence` (none: not measured),
    with the evidence bound to the design (its top; the hardware's vector set, weights,
    outputs and cycle source)."""
    from ..hls import certify as hls_certify
    from ..hls import predict

    budget = cfg.budget
    synth, cosim, hw = evidence
    if design is None:
        from ..network import load_spec

        design = load_design(cfg, load_spec(cfg.model))
    records, checks = [], []
    bound = {"synth": None, "cosim": None}
    for rep, what in ((synth, "synth"), (cosim, "cosim")):
        if rep is None:
            continue
        records.append(_report_record(rep, rep.kind))
        c = _top_check(rep, what, design)
        checks.append(c)
        if c.status == PASS:
            bound[what] = rep
    hw_ok = None
    if hw is not None:
        records.append({"path": relative_path(cfg.hw), "kind": hw.kind, "sha256": sha256_file(cfg.hw),
                        "top": None, "part": None, "clock_mhz": hw.clock_mhz, **hw.record,
                        "problems": [f"{n}: {d}" for n, d in hw.problems]})
        for name, detail in hw.problems:
            checks.append(Check("evidence", name, FAIL, None, None, f"--hw {cfg.hw}: {detail}"))
        if not hw.problems:
            checks.append(Check("evidence", "hw_bound", PASS, hw.n_cycles, None,
                                f"--hw {cfg.hw}: {hw.kind} of the certified vector set and "
                                f"weight image, outputs bit-exact, cycles counted by firmware "
                                f"({hw.record.get('cycle_source_declared_by')})"))
            hw_ok = hw
    record = {"budget": {"cycles": budget.cycles, "clock_mhz": budget.clock_mhz,
                         "describe": budget.describe(), "part": budget.part,
                         "max_utilization_pct": budget.max_utilization},
              "evidence": records}
    synth, cosim = bound["synth"], bound["cosim"]
    if synth is None and cosim is None and hw_ok is None:
        rejected = bool(records)
        checks.append(Check("latency", "latency", NOT_MEASURED, None, budget.cycles,
                            "latency not measured: the evidence given is not the certified "
                            "design's (see the evidence checks)" if rejected else
                            "latency not measured: give --report (csynth), --cosim or --hw"))
        pred = predict()
        record["prediction"] = {
            "note": "analytical model of fixsim.hls.latency_model with its default SpeckleNN "
                    "assumptions; information only, NOT a measurement",
            "latency_cycles": pred.latency_cycles, "latency_us": pred.latency_us}
    else:
        verdict = hls_certify(budget, synth, cosim, None if hw_ok is None else hw_ok.p99,
                              None if hw_ok is None else hw_ok.max)
        record["hls_verdict"] = verdict.to_dict()
        status = {"pass": PASS, "fail": FAIL, "unknown": NOT_MEASURED}
        for c in verdict.checks:
            section = "resources" if c.name.startswith("resource_") else "latency"
            checks.append(Check(section, c.name, status[c.status], c.measured, c.threshold,
                                c.detail))
    if synth is None:
        checks.append(Check("resources", "resources", NOT_MEASURED, None, None,
                            "no synthesis report of the design: resources not checked",
                            required=False))
    return record, checks


def data_binding(data: dict, design: dict) -> Check:
    """Information: is the certified vector set (to which hardware evidence is bound, so
    its latency and interval) made from the ``--data`` file (``vectors gen --data``)?"""
    vs = design["vs"]
    made_from = None if vs is None else (vs.manifest.get("source") or {}).get("sha256")
    sha = data["provenance"]["sha256"]
    ok = made_from == sha
    return Check("evidence", "vector_set_of_data", PASS if ok else NOT_MEASURED,
                 made_from, sha,
                 "the certified vector set was generated from the --data file: hardware "
                 "latency and interval evidence bound to it ran on these frames" if ok else
                 "the certified vector set was not generated from the --data file (make one "
                 "with `fixsim vectors gen --data`): latency evidence, if any, ran on other "
                 "frames", required=False)


# --------------------------------------------------------------------------- verdict

def verdict_of(checks: list) -> tuple[str, list]:
    """PASS / FAIL / INCOMPLETE and the reasons (failed and unmeasured checks)."""
    failed = [c for c in checks if c.status == FAIL]
    missing = [c for c in checks if c.status == NOT_MEASURED and c.required]
    if failed:
        verdict = "FAIL"
    elif missing:
        verdict = "INCOMPLETE"
    else:
        verdict = "PASS"
    reasons = [f"FAIL {c.name}: {c.detail}" for c in failed]
    reasons += [f"NOT MEASURED {c.name}: {c.detail}" for c in missing]
    return verdict, reasons or [f"all {len(checks)} checks pass"]


def certify(cfg: CertifyConfig | None = None, *, log: Callable[[str], None] = lambda m: None,
            csim_run=None, data: dict | None = None) -> dict:
    """Run every check and return the certificate (a JSON-able dict with ``verdict``).

    Parameters
    ----------
    cfg : CertifyConfig, optional
        Defaults: the golden model, ``vectors/specklenn-snl-default``, no latency evidence.
    log : callable
        Progress messages.
    csim_run : callable, optional
        Replacement for :func:`fixsim.csim.twin.run` (same signature); tests use it to
        corrupt a C-simulation tap.
    data : dict, optional
        ``cfg.data`` already read by :func:`fixsim.verify.data.load_data` (the CLI reads
        it before the long run; read here when not given).

    Raises
    ------
    InputError
        Missing golden files, a reused seed, unreadable reports or vector sets.
    ToolError
        g++ or the headers are missing, or the C simulation fails.
    """
    from ..network import load_spec

    cfg = cfg or CertifyConfig()
    started = datetime.datetime.now(datetime.timezone.utc)
    spec = load_spec(cfg.model)
    golden = _golden(cfg)
    design = load_design(cfg, spec, log)
    evidence = load_evidence(cfg, spec, design)
    data = load_data(cfg, spec) if data is None and cfg.data is not None else data
    acc, checks, held = accuracy(cfg, spec, golden, log, data)
    exact, c2 = bit_exactness(cfg, held, spec, log, csim_run, design)
    lat, c3 = latency_and_resources(cfg, evidence, design)
    checks += c2 + c3 + ([data_binding(data, design)] if data is not None else [])
    verdict, reasons = verdict_of(checks)
    finished = datetime.datetime.now(datetime.timezone.utc)
    return {
        "format": FORMAT, "verdict": verdict, "reasons": reasons,
        "created_utc": finished.isoformat(timespec="seconds"),
        "run_seconds": round((finished - started).total_seconds(), 2),
        "fixsim_version": __version__, "fixsim_git": git_commit(), "tools": tools_record(),
        "working_directory": os.getcwd(),
        "exit_codes": {"0": "PASS", "1": "FAIL or INCOMPLETE", "2": "bad input"},
        "design": {"spec": spec.name, "spec_sha256": spec.spec_hash(),
                   "top": {"names": list(design["tops"]), "from": design["top_declared_by"]},
                   "weight_image_sha256": design["weight_image_sha256"],
                   "vector_set": {"path": relative_path(design["vdir"]) if design["vs"] is not None else None,
                                  "manifest_sha256": design["manifest_sha256"]},
                   "rtl_sources": design["rtl_sources"],
                   "golden": {"path": relative_path(golden["dir"]),
                              "manifest_sha256": golden["manifest_sha256"],
                              "weights_sha256": golden["weights_sha256"],
                              "support_sha256": golden["support_sha256"],
                              "seeds_used_by_golden": golden["seeds_used"]}},
        "evidence": lat["evidence"],
        "seeds": {"held_out": cfg.seed if data is None else None},
        "data": None if data is None else data["provenance"],
        "accuracy": acc, "bit_exactness": exact, "latency": lat,
        "checks": [asdict(c) for c in checks],
    }


__all__ = ["certify", "CertifyConfig", "Check", "verdict_of", "accuracy", "bit_exactness",
           "load_data", "data_binding",
           "latency_and_resources", "load_evidence", "load_design", "design_tops",
           "rtl_sources_record", "PASS", "FAIL", "NOT_MEASURED", "FORMAT"]
