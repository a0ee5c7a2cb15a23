"""benchmarks/forward.py's timing rule: a round is an untimed call, then timed calls until there
are at least `repeats` of them and they last at least `min_seconds` together (docs/model.md,
"The timing fix": three batch-1 calls measured the machine waking up, not the model)."""

from __future__ import annotations

import time

from tests.conftest import REPO


class SleepingCall:
    """Stands in for a compiled forward: each call sleeps `seconds` and is counted."""

    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, 0

    def __call__(self):
        self.calls += 1
        time.sleep(self.seconds)
        return self

    def block_until_ready(self):
        return self


def test_a_round_of_short_calls_lasts_min_seconds_after_one_untimed_call(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # forward.py imports its neighbours by name
    from forward import time_calls

    call = SleepingCall(0.01)
    times = time_calls(call, (), repeats=3, min_seconds=0.2)
    assert sum(times) >= 0.2 and len(times) >= 10  # not just the 3 repeats
    assert call.calls == len(times) + 1  # the warm-up call is not timed


def test_a_round_of_long_calls_makes_the_repeats_asked(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from forward import time_calls

    call = SleepingCall(0.05)
    times = time_calls(call, (), repeats=3, min_seconds=0.01)
    assert len(times) == 3 and call.calls == 4
