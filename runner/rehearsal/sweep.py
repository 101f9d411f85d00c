"""The interrupt sweep: is the migration safe to run again wherever it is interrupted?

One lab: old is seeded once; the steps run once without a fault, which measures the converge
phase; then, N times, new is replaced by a fresh server and the steps run again with a fault
(a kill, or a network cut) at one of N points spread evenly over the time its commands ran, the
scenario's resume policy resumes them, and the verdict judges the end state. isync's test
suite interrupts its sync at every step and checks that the resumed run converges; this is
that, against real servers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ...lab.lab import Lab
from ..schema.faults import Fault, Kill, NetworkCut, SweepFault, When
from ..schema.scenario import Scenario
from .phases import Rehearsal, in_a_lab, migrate, prepare

log = logging.getLogger(__name__)
CUT_SECONDS = 5.0  # how long a network cut of the sweep lasts


@dataclass
class SweepPoint:
    """One interrupted run: where the fault struck and what became of the run."""

    at: float  # seconds into the converge phase
    step: int  # 1-based, the step running then
    rehearsal: Rehearsal

    @property
    def interrupted_exit(self) -> str:
        failed = [s for s in self.rehearsal.steps if s.resumed]
        return failed[0].exit_shown if failed else "-"

    @property
    def what_resumed(self) -> str:
        """What the run did after the fault, in a few words."""
        strikes = [s for s in self.rehearsal.strikes if s.at is not None]
        if not strikes:
            return "the fault did not strike: the step ended first"
        resumed = sum(s.resumed for s in self.rehearsal.steps)
        failed = [s for s in self.rehearsal.steps if not (s.ok or s.resumed)]
        if failed:
            return f"resume failed: {failed[0].step} exit {failed[0].exit_shown} ({failed[0].meaning})"
        if not resumed:
            return "the step survived the fault: nothing to resume"
        return f"reran from the failed step ({resumed} failed command{'s' if resumed > 1 else ''} run again)"

    @property
    def findings(self) -> list[str]:
        return sorted({f.kind for f in self.rehearsal.findings if not f.tolerated})

    @property
    def converged(self) -> bool:
        return self.rehearsal.passed


@dataclass
class Sweep:
    lab: Rehearsal  # the lab's record: its error or interruption, and the measuring run
    points: list[SweepPoint] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.lab.passed and len(self.points) > 0 and all(point.converged for point in self.points)


def interrupt_points(starts: list[float], ran: list[tuple[float, float]], count: int) -> list[tuple[float, int, float]]:
    """`count` moments spread evenly over the time the steps' commands ran (a kill between two
    commands would find nothing to kill), each as (moment, step index from 1, seconds into that
    step), given when each step started and each command ran."""
    running = sum(end - start for start, end in ran)
    points = []
    for n in range(1, count + 1):
        into = running * n / (count + 1)
        for start, end in ran:
            if into < end - start:  # a command's very end is the next one's start
                break
            into -= end - start
        moment = start + into
        step = max(i for i, step_start in enumerate(starts) if step_start <= moment)
        points.append((round(moment, 2), step + 1, round(moment - starts[step], 2)))
    return points


def fault_at(kind: SweepFault, step: int, offset: float) -> Fault:
    # a moment of 0 s would mean "before the step's first command"; the sweep means "running"
    when = When(step=step, seconds=max(offset, 0.05))
    return Kill(what="kill", when=when) if kind == "kill" else \
        NetworkCut(what="network_cut", when=when, seconds=CUT_SECONDS)


def sweep(scenario: Scenario, count: int, kind: SweepFault = "kill") -> Sweep:
    """Measure, then interrupt the migration at `count` points and judge each resumed run."""
    result = Sweep(lab=Rehearsal(scenario=scenario))

    def phases(lab: Lab, measuring: Rehearsal, ca: str) -> None:
        prepare(lab, scenario, measuring, ca)
        log.info("measuring the migration once, without a fault")
        migrate(lab, scenario, measuring, faults=[])
        starts = [event.at for event in measuring.events if not event.label.startswith("fault: ")]
        ran = measuring.ran or [(0.0, measuring.timings["converge"])]  # steps of no command: all of it
        for moment, step, offset in interrupt_points(starts, ran, count):
            log.info("interrupt point %d of %d: %s at %.2f s (%.2f s into step %d)", len(result.points) + 1, count,
                     kind, moment, offset, step)
            lab.renew("new")
            lab.drop_tools()
            point = Rehearsal(scenario=scenario, lab_id=lab.id, passwords=measuring.passwords,
                              baseline=measuring.baseline)
            migrate(lab, scenario, point, faults=[fault_at(kind, step, offset)])
            result.points.append(SweepPoint(at=moment, step=step, rehearsal=point))

    result.lab = in_a_lab(scenario, phases)
    return result
