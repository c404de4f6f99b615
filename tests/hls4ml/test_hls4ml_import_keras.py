"""fixsim import keras's hls4ml-config imports against hls4ml 1.3.0's own Keras converter.

A Keras 2 ``.h5`` file (written with h5py in Keras's layout, tests/network/keras_files.py)
is imported with ``fixsim import keras --precision ... --write-config`` and again from
the written hls4ml-style configuration (``--config``); hls4ml reads the same ``.h5`` file
(its ``KerasH5`` reader: h5py, no TensorFlow) with the same configuration (Vivado
backend, io_parallel), compiles it and runs it on the same frames.  Every traced hls4ml
layer (channels last) and the output must equal fixsim's taps bit for bit.

hls4ml's Keras flow keeps a BatchNormalization as its own layer after a conv, so the
CNN and the waveform model are imported with ``--keep-bn``; the MLP's BatchNorm follows
a relu and is a layer in both tools anyway.  Each builds hls4ml's project with g++
(about 90 s on the shared machine): ``-m slow``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest

import h4_harness as H

REASON = H.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

NETWORK_TESTS = Path(__file__).resolve().parents[1] / "network"
FRAMES = 32


def _compare(tmp_path, monkeypatch, arch: str, precision: str, extra: list) -> None:
    import yaml
    from hls4ml.converters import _check_hls_config, _check_model_config
    from hls4ml.converters.keras_v2_to_hls import keras_v2_to_hls
    from hls4ml.utils.config import create_config

    from fixsim.cli.main import main
    from fixsim.fixed import FixsimWarning, quantize, to_float
    from fixsim.network import load_spec, run

    monkeypatch.syspath_prepend(str(NETWORK_TESTS))
    import keras_files as KF

    layers = KF.ARCHS[arch]()
    path = KF.write_h5(tmp_path / f"{arch}.h5", layers,
                       KF._weights_of(layers, np.random.default_rng(0)))
    cfg_path = tmp_path / "hls4ml.yml"
    base = ["import", "keras", str(path)] + extra
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(base + ["--precision", precision, "--out", str(tmp_path / "first"),
                            "--write-config", str(cfg_path)]) == 0
        assert main(base + ["--config", str(cfg_path), "--out", str(tmp_path / "imp")]) == 0
    spec = load_spec(tmp_path / "imp" / "spec.json")
    assert spec.spec_hash() == load_spec(tmp_path / "first" / "spec.json").spec_hash()
    weights = dict(np.load(tmp_path / "imp" / "weights.npz"))

    cfg = yaml.safe_load(cfg_path.read_text())
    for entry in cfg["LayerName"].values():
        entry["Trace"] = True
    config = create_config(output_dir=str(tmp_path / "hls4ml"), project_name="imp",
                           backend="Vivado", io_type=cfg["IOType"])
    config["KerasH5"] = str(path)
    config["HLSConfig"] = {"Model": _check_model_config(cfg["Model"])}
    _check_hls_config(config, cfg)
    shape = tuple(layers[0]["config"]["batch_input_shape"][1:])  # Keras: channels last
    x = np.random.default_rng(7).standard_normal((FRAMES,) + shape) * 2
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        hm = keras_v2_to_hls(config)
        hm.config.trace_output = True
        hm.compile()
        _, traces = hm.trace(np.ascontiguousarray(x))

    frames = x if x.ndim == 2 else np.moveaxis(x, -1, 1)  # fixsim: channels first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        raw = quantize(frames.reshape((FRAMES,) + spec.input_shape), spec.input_format,
                       warn=False)
        taps = run(spec, weights, raw, taps=True)
    compared, report = 0, []
    for layer in spec.layers:
        if layer.name not in traces:
            continue
        mine = to_float(taps[layer.name], layer.out_format)
        if mine.ndim == 4:  # hls4ml's maps are channels last
            mine = mine.transpose(0, 2, 3, 1)
        elif mine.ndim == 3:
            mine = mine.transpose(0, 2, 1)
        theirs = np.asarray(traces[layer.name], np.float64).reshape(mine.shape)
        differing = int(np.sum(mine != theirs))
        compared += mine.size
        report.append(f"{layer.name}: {differing} of {mine.size} differ")
        assert differing == 0, "\n".join(report)
    traced = [l.name for l in spec.layers if l.name in traces]
    assert spec.layers[-1].name in traced, (traced, sorted(traces))
    # untraced: fixsim's flatten/zero padding layers (hls4ml traces neither)
    untraced = {l.type for l in spec.layers if l.name not in traces}
    assert untraced <= {"flatten", "zeropad1d", "zeropad2d"} and compared > 0, report


@pytest.mark.slow  # about 90 s on the shared CI machine (hls4ml's g++ build, no cache)
def test_keras_mlp_config_import_is_bit_exact_with_hls4ml(tmp_path, monkeypatch):
    _compare(tmp_path, monkeypatch, "mlp", "ap_fixed<16,6>", [])


@pytest.mark.slow
def test_keras_cnn_config_import_is_bit_exact_with_hls4ml(tmp_path, monkeypatch):
    _compare(tmp_path, monkeypatch, "cnn", "ap_fixed<16,6>", ["--keep-bn"])


@pytest.mark.slow
def test_keras_wave_config_import_is_bit_exact_with_hls4ml(tmp_path, monkeypatch):
    _compare(tmp_path, monkeypatch, "wave", "ap_fixed<14,5>", ["--keep-bn"])
