"""Faults as data and the interrupt sweep's arithmetic: pure, without Docker."""

import pytest

from maillab.runner.methods.context import Strike
from maillab.runner.rehearsal.sweep import fault_at, interrupt_points
from maillab.runner.schema.faults import Kill, NetworkCut, When

# (step starts, when each command ran, points) -> (moment, step, seconds into it) each
POINTS = [
    ([0.0, 0.8], [(0.1, 0.7), (0.9, 3.9)], 3, [(1.2, 2, 0.4), (2.1, 2, 1.3), (3.0, 2, 2.2)]),
    ([0.0], [(0.0, 6.0)], 5, [(1.0, 1, 1.0), (2.0, 1, 2.0), (3.0, 1, 3.0), (4.0, 1, 4.0), (5.0, 1, 5.0)]),
    ([0.0, 1.0, 1.5], [(0.0, 1.0), (1.5, 2.0)], 2, [(0.5, 1, 0.5), (1.5, 3, 0.0)]),  # a step's start is its own
    # the gaps between commands (a step's set-up, the exec's start) are not migration time
    ([0.0, 2.0], [(0.5, 1.0), (2.5, 4.0)], 1, [(3.0, 2, 1.0)]),
]


@pytest.mark.parametrize(("starts", "ran", "count", "expected"), POINTS)
def test_interrupt_points_are_spread_evenly_over_the_commands_running_time(starts, ran, count, expected):
    assert interrupt_points(starts, ran, count) == expected


def test_a_sweep_fault_strikes_while_the_step_runs_never_before_its_first_command():
    kill = fault_at("kill", 2, 0.0)
    assert isinstance(kill, Kill) and kill.when == When(step=2, seconds=0.05)
    cut = fault_at("network_cut", 1, 1.5)
    assert isinstance(cut, NetworkCut) and cut.when.seconds == 1.5 and cut.host == "old"


STRIKES = [
    (Strike("kill -KILL the step's command", "2 s into step 2", "new", at=2.01, detail="killed 'doveadm'"),
     "kill -KILL the step's command (2 s into step 2), at 2.0 s: killed 'doveadm'"),
    (Strike("fill new's mail storage (0 bytes left)", "as step 2 starts", "new", at=0.0, detail="filled",
            log=["Error: write(...) failed: No space left on device"]),
     "fill new's mail storage (0 bytes left) (as step 2 starts), at 0.0 s: filled; new logged: "
     "Error: write(...) failed: No space left on device"),
    (Strike("reboot new", "once 10 messages are on new, during step 1", "-"),
     "reboot new (once 10 messages are on new, during step 1): did not strike, the step ended first"),
]


@pytest.mark.parametrize(("strike", "line"), STRIKES, ids=["struck", "with the server's log", "never struck"])
def test_a_strike_is_reported_in_one_line(strike, line):
    assert strike.one_line() == line
