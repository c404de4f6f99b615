"""fixsim import's hls4ml-config imports against hls4ml 1.3.0's compiled C simulation.

A PyTorch model is imported with ``fixsim import --precision ... --write-config`` and
again from the written hls4ml-style configuration (``--config``); hls4ml converts the same
module with the same configuration (Vivado backend, io_parallel), compiles it and runs
it on the same frames.  Every traced hls4ml layer (channels-last maps transposed back) and
the output must equal fixsim's taps bit for bit: the configuration drives both tools.

Models (tests/network/import_models.py): the MLP with sigmoids, and the LeNet-style CNN
with average pooling and softmax in its ``pad=False`` variant (hls4ml's PyTorch converter
has no ZeroPad2d, Identity or ``x.size()``).  Both build hls4ml's project with g++ (40 s
and more each on the shared machine): ``-m slow``.  The Conv1D waveform
classifier is not compared: hls4ml's PyTorch front end has no global pooling.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import h4_harness as H

REASON = H.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

NETWORK_TESTS = Path(__file__).resolve().parents[1] / "network"
FRAMES = 32


def _compare(tmp_path, monkeypatch, cls_name: str, shape: tuple, kwargs: dict,
             precision: str) -> None:
    import hls4ml
    import yaml

    from fixsim.cli.main import main
    from fixsim.fixed import FixsimWarning, quantize, to_float
    from fixsim.network import load_spec, run

    monkeypatch.syspath_prepend(str(NETWORK_TESTS))
    import import_models_loader as loader

    ckpt = loader.checkpoint(tmp_path, cls_name, **kwargs)
    model = f"{NETWORK_TESTS / 'import_models.py'}:{cls_name}"
    base = ["import", "torch", model, "--weights", str(ckpt), "--input-shape",
            ",".join(map(str, shape))] + (["--args", json.dumps(kwargs)] if kwargs else [])
    cfg_path = tmp_path / "hls4ml.yml"
    assert main(base + ["--precision", precision, "--out", str(tmp_path / "first"),
                        "--write-config", str(cfg_path)]) == 0
    assert main(base + ["--config", str(cfg_path), "--out", str(tmp_path / "imported")]) == 0
    spec = load_spec(tmp_path / "imported" / "spec.json")
    assert spec.spec_hash() == load_spec(tmp_path / "first" / "spec.json").spec_hash()
    weights = dict(np.load(tmp_path / "imported" / "weights.npz"))

    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["InputShape"] = tuple(shape)
    for entry in cfg["LayerName"].values():
        entry["Trace"] = True
    module = loader.module(cls_name, ckpt, **kwargs)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        hm = hls4ml.converters.convert_from_pytorch_model(
            module, hls_config=cfg, output_dir=str(tmp_path / "hls4ml"), project_name="imp",
            backend="Vivado", io_type=cfg["IOType"])
        hm.config.trace_output = True
        hm.compile()
        x = np.random.default_rng(7).standard_normal((FRAMES,) + tuple(shape)) * 2
        _, traces = hm.trace(np.ascontiguousarray(x))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        raw = quantize(x.reshape((FRAMES,) + spec.input_shape), spec.input_format, warn=False)
        taps = run(spec, weights, raw, taps=True)
    compared, report = 0, []
    for layer in spec.layers:
        if layer.name not in traces:
            continue
        mine = to_float(taps[layer.name], layer.out_format)
        theirs = np.asarray(traces[layer.name], np.float64)
        if mine.ndim == 4:  # hls4ml's maps are channels last
            mine = mine.transpose(0, 2, 3, 1)
        elif mine.ndim == 3:
            mine = mine.transpose(0, 2, 1)
        theirs = theirs.reshape(mine.shape)
        differing = int(np.sum(mine != theirs))
        compared += mine.size
        report.append(f"{layer.name}: {differing} of {mine.size} differ")
        assert differing == 0, "\n".join(report)
    traced_layers = [l.name for l in spec.layers if l.name in traces]
    assert spec.layers[-1].name in traced_layers, (traced_layers, sorted(traces))
    assert len(traced_layers) >= len(spec.layers) - 2 and compared > 0, report


@pytest.mark.slow  # about 40 s on the shared CI machine (hls4ml's g++ build, no cache)
def test_mlp_config_import_is_bit_exact_with_hls4ml(tmp_path, monkeypatch):
    _compare(tmp_path, monkeypatch, "MLP", (12,), {}, "ap_fixed<16,6>")


@pytest.mark.slow
def test_lenet_config_import_is_bit_exact_with_hls4ml(tmp_path, monkeypatch):
    _compare(tmp_path, monkeypatch, "LeNet", (1, 16, 16), {"pad": False}, "ap_fixed<14,5>")
