"""Slow, obviously-correct reference for fixsim.hls.latency_model: a cycle-stepped
simulation that works out, per layer, which input beat completes which output by
enumerating the output windows (not by the model's index arithmetic)."""

from __future__ import annotations

import math


def _completing_beats(h, w, kh, kw, sh, sw, starts_r, starts_q):
    """Input beat indices (raster order) that complete a window, one per output."""
    beats = []
    for y in starts_r:
        for x in starts_q:
            r = min(y + kh - 1, h - 1)
            q = min(x + kw - 1, w - 1)
            beats.append(r * w + q)
    return beats


def _simulate(arrival, costs, emit_count, depth):
    """Advance one cycle at a time; a beat starts when it has arrived and the layer is free."""
    ready, t, j, busy_until = [], 0, 0, 0
    n = len(arrival)
    while j < n:
        if t >= busy_until and arrival[j] <= t:
            busy_until = t + costs[j]
            ready += [busy_until + depth] * emit_count[j]
            j += 1
            continue  # a beat may not start twice in a cycle: next loop sees busy_until > t
        t += 1
    return ready


def naive_latency(layers, input_shape, input_ii=1):
    shape = tuple(input_shape)
    arrival = [i * input_ii for i in range(shape[0] * shape[1] if len(shape) == 3 else 1)]
    lasts = []
    for layer in layers:
        kind, ii = layer["kind"], layer.get("ii", 1)
        if kind == "flatten":
            shape = (math.prod(shape),)
            lasts.append(max(arrival))
            continue
        if kind == "relu":
            ready = _simulate(arrival, [ii] * len(arrival), [1] * len(arrival), layer["depth"])
        elif kind == "conv2d":
            h, w, c = shape
            k, s = layer["kernel"], layer.get("stride", 1)
            starts_r = [y for y in range(0, h, s) if y + k <= h]
            starts_q = [x for x in range(0, w, s) if x + k <= w]
            macs = k * k * c * layer["filters"]
            reuse = -(-macs // layer["parallelism"])
            done = _completing_beats(h, w, k, k, s, s, starts_r, starts_q)
            emit = [done.count(b) for b in range(h * w)]
            costs = [ii * reuse if e else ii for e in emit]
            ready = _simulate(arrival, costs, emit, layer["depth"])
            shape = (len(starts_r), len(starts_q), layer["filters"])
        elif kind == "maxpool2d":
            h, w, c = shape
            p = layer["pool"]
            slack = p - 1 if layer.get("ceil_mode") else 0
            starts_r = [y for y in range(0, h, p) if y + p <= h + slack]
            starts_q = [x for x in range(0, w, p) if x + p <= w + slack]
            done = _completing_beats(h, w, p, p, p, p, starts_r, starts_q)
            emit = [done.count(b) for b in range(h * w)]
            ready = _simulate(arrival, [ii] * (h * w), emit, layer["depth"])
            shape = (len(starts_r), len(starts_q), c)
        else:  # dense: read every beat, then compute n_in * units / parallelism cycles
            n_in, units = math.prod(shape), layer["units"]
            reuse = -(-(n_in * units) // layer["parallelism"])
            costs = [ii] * len(arrival)
            costs[-1] += ii * reuse
            emit = [0] * len(arrival)
            emit[-1] = 1
            ready = _simulate(arrival, costs, emit, layer["depth"])
            shape = (units,)
        arrival = ready
        lasts.append(max(ready))
    return lasts
