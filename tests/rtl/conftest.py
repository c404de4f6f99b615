"""Fixtures of the rtl/ C-simulation tests: compiled test benches (built once per session).

Compilation is the cost (the ap_types templates), so each fixture builds one binary that
serves several networks; builds are cached by content under ``$FIXSIM_CACHE``.
"""

from __future__ import annotations

import pytest


from .netgen import random_networks

#: The CI set: seed and count chosen so that every contract option is drawn (asserted by
#: test_random_set_covers_every_option).
CI_SEED, CI_COUNT = 36, 8


@pytest.fixture
def slow_enabled(request):
    """Skip slow campaigns unless selected with ``-m slow`` (or FIXSIM_RUN_SLOW=1)."""
    import os

    expr = request.config.getoption("markexpr") or ""
    if os.environ.get("FIXSIM_RUN_SLOW") != "1" and ("slow" not in expr or "not slow" in expr):
        pytest.skip("slow campaign: run with `pytest -m slow` (or FIXSIM_RUN_SLOW=1)")


@pytest.fixture(scope="session")
def ci_networks():
    """The random CI set plus the hand-written SMALL network of test_codegen."""
    from fixsim.network import load_spec

    from .test_codegen import SMALL

    return random_networks(CI_SEED, CI_COUNT) + [load_spec(SMALL)]


@pytest.fixture(scope="session")
def ci_bench(need_gxx, ci_networks):
    from fixsim.csim import twin

    return twin.build(ci_networks, opt="-O1", per_file=3)


@pytest.fixture(scope="session")
def snl_bench(need_gxx):
    from fixsim.csim import twin

    return twin.build("specklenn-snl")
