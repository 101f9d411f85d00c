"""The rehearsal, as Molecule's sequence: create -> seed -> baseline -> converge ->
idempotence -> side_effect -> verify -> destroy. Each phase is one block of `rehearse`, which
runs them in order, records what failed as the rehearsal's error (so reports are still
written), and always removes the lab unless asked to keep it."""

from __future__ import annotations

import logging
import secrets
import smtplib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from ...lab import signals
from ...lab.errors import ConfigRefused, EngineGone, LabError
from ...lab.lab import Lab, remove_lab
from ...lab.own_config import ConfigProblem
from ...lab.poll import NotYet, poll
from ..methods import execute
from ..methods.context import Arrival, Event, FlagChange, MigrationContext, StepResult, Strike
from ..methods.send_mail import compose_message, wait_for_delivery
from ..methods.ssh_root_key import trust_each_other
from ..schema.faults import Fault
from ..schema.findings import Finding
from ..schema.scenario import Scenario
from ..schema.steps import Sql, Step
from .compare import judge
from .inject import Injection, heal
from .ledger import Ledger
from .seed import seed_host, write_user_store
from .seed_cache import SeedCache
from .snapshot import snapshot_host, snapshot_hosts, snapshot_user_db
from .state import Evidence, HostState, TlsCheck
from .tls import check_names, make_certificates
from .traffic import CutoverRecord, accepted_message_ids, ledger_of, open_internet, while_the_internet_sends

log = logging.getLogger(__name__)
# Old's services a snapshot reads; a migration may leave them stopped (old is retired), and
# the verdict still needs to look at what is on old.
SNAPSHOT_SERVICES = ("mariadb", "dovecot")


@dataclass
class Rehearsal:
    scenario: Scenario
    lab_id: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    strikes: list[Strike] = field(default_factory=list)  # what the scenario's faults did
    events: list[Event] = field(default_factory=list)  # when each step of the first run started
    ran: list[tuple[float, float]] = field(default_factory=list)  # when each command of that run ran
    baseline: HostState | None = None  # old before the migration (a kept exercise: as the trainee found it)
    old: HostState | None = None  # old at the end
    old_mail: frozenset[str] = frozenset()  # Message-IDs old's Postfix took in by the end
    old_flags: list[FlagChange] = field(default_factory=list)  # flags steps changed on old
    converged: HostState | None = None  # new after the first run of the steps
    new: HostState | None = None  # new at the end
    arrivals: list[Arrival] = field(default_factory=list)  # mail steps sent to new: in `new`
    undelivered: list[Arrival] = field(default_factory=list)  # sent to new after `new` was taken, never delivered
    findings: list[Finding] = field(default_factory=list)
    # a live cutover: what the internet sent, what became of it, and when the steps ran
    cutover: CutoverRecord | None = None
    ledger: Ledger | None = None
    tls: list[TlsCheck] = field(default_factory=list)  # clients connecting to new by the name they use
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # why the rehearsal could not finish (a lab error, a signal)
    bad_input: bool = False  # the error is the scenario's (old's own configuration refused): exit 2
    own_config: dict[str, dict] = field(default_factory=dict)  # per role: what the lab did to the admin's own
    config_refused: list[ConfigProblem] = field(default_factory=list)  # new's own configuration, refused
    interrupted: signals.Interrupted | None = None
    kept: Lab | None = None

    @property
    def passed(self) -> bool:
        return (self.error is None and all(s.ok or s.resumed for s in self.steps)
                and all(f.tolerated for f in self.findings))

    @property
    def verdict(self) -> str:
        return "error" if self.error else "pass" if self.passed else "fail"


def rehearse(scenario: Scenario, keep: bool = False, cache: bool = True, standby: bool = False) -> Rehearsal:
    """Run the whole rehearsal, with old from the seed cache unless `cache` is false, in the
    scenario's lab on standby if one waits; with `standby`, leave one for the next run. Raises
    only when no lab could be made (LabError)."""
    def phases(lab: Lab, result: Rehearsal, ca: str) -> None:
        prepare(lab, scenario, result, ca, SeedCache() if cache else None)
        migrate(lab, scenario, result)
    return in_a_lab(scenario, phases, keep=keep, standby=standby)


def in_a_lab(scenario: Scenario, phases: Callable[[Lab, Rehearsal, str], None], keep: bool = False,
             standby: bool = False) -> Rehearsal:
    """Make the scenario's lab (or take it from standby, unless it is to be kept), run
    `phases` in it and destroy it (unless kept), whatever happens: an error or a signal is
    recorded in the returned Rehearsal. With `standby`, a lab for the next run is started
    while this one is removed (lab/standby.py)."""
    result = Rehearsal(scenario=scenario)
    ca, certificates = make_certificates(scenario.domains) if scenario.cutover else ("", None)
    lab = Lab(dict(scenario.hosts), keep=keep, internet=scenario.cutover is not None, tls=certificates,
              scenario=scenario.name, upgrades=scenario.upgrades, from_standby=not keep)
    result.lab_id = lab.id
    try:
        with _recorded(result):
            phases(lab, result, ca)
    finally:
        result.lab_id = lab.id  # the lab taken from standby has its own id
        left = ""  # why the lab may still be there
        with signals.held() as arrived:  # first: a signal now must not skip the removal
            if keep:
                result.kept = lab
            else:
                with _phase(result, "destroy"):
                    with ThreadPoolExecutor(1) as pool:  # the next run's lab starts while this one goes
                        next_lab = pool.submit(lab.stand_by) if standby and not result.error else None
                        try:
                            lab.destroy()
                        except Exception as error:  # noqa: BLE001  the engine went away: reported, exit 3
                            log.debug("removing the lab failed", exc_info=True)
                            left = f"the lab {lab.id} may be left: remove it with: maillab down --lab {lab.id}"
                            result.error = f"{result.error or one_line(error)}; {left}"
                    _standing_by(lab, next_lab, interrupted=bool(arrived))
        if arrived and result.interrupted is None:
            result.interrupted = signals.Interrupted(arrived[0])
            result.error = f"interrupted by {result.interrupted}" + (f"; {left}" if left else "")
    return result


def _standing_by(lab: Lab, next_lab: Future | None, interrupted: bool) -> None:
    """Say which lab waits for the next run; one started as a signal came is removed (the
    user asked the run to end, not to leave machines behind). Failing to leave one is no
    error of the run."""
    try:
        made = next_lab.result() if next_lab else None
    except Exception as error:  # noqa: BLE001
        log.warning("no lab was left on standby: %s", one_line(error))
        return
    if made and interrupted:
        remove_lab(lab.client, made)
    elif made:
        log.info("lab %s on standby for the next run of %s (maillab down removes it)", made, lab.scenario)
    elif next_lab:
        log.info("no lab was left on standby: %s", lab.why_no_standby() or "one waits already")


@contextmanager
def _recorded(result: Rehearsal) -> Iterator[None]:
    """What ends the phases early becomes the rehearsal's error (its reports are still written):
    a signal, or anything else (exit 3 by the CLI)."""
    try:
        yield
    except signals.Interrupted as interruption:
        result.interrupted = interruption
        result.error = f"interrupted by {interruption}"
    except Exception as error:  # noqa: BLE001  recorded, reported, and turned into exit 3 by the CLI
        log.debug("the rehearsal failed", exc_info=True)
        result.error = one_line(error)
        result.bad_input = isinstance(error, ConfigRefused)


@contextmanager
def _phase(result: Rehearsal, name: str) -> Iterator[None]:
    log.info("▶ %s", name)
    started = time.monotonic()
    try:
        yield
    finally:
        result.timings[name] = round(time.monotonic() - started, 2)


def prepare(lab: Lab, scenario: Scenario, result: Rehearsal, ca: str, cache: SeedCache | None = None) -> None:
    """create, seed and baseline: old as the migration finds it; from `cache` when it holds
    old (seed restores it, baseline reads only its databases again), else kept there."""
    with _phase(result, "create"):
        try:
            lab.create()
        finally:
            result.own_config = {role: host.own.report() for role, host in lab.hosts.items() if host.own}
            new = lab.hosts.get("new")
            result.config_refused = list(new.own.problems) if new is not None and new.own else []
        if scenario.cutover:
            open_internet(lab, scenario, ca)
    key = cache.key_for(lab["old"], scenario) if cache else None
    with _phase(result, "seed"):
        restored = cache.restore(lab["old"], key) if key else None
        if restored:
            result.passwords = restored.passwords
            lab.secrets.update(restored.passwords.values())
            log.info("%d messages restored on old from the seed cache (%s)", restored.written, key)
        else:
            result.passwords = {user.address: lab.new_secret(12) for user in scenario.users}
            written = seed_host(lab["old"], scenario, result.passwords)
            log.info("%d messages written on old", written)
        if scenario.hosts["old"].server != "dovecot":  # no copy_userdb from it: the admin makes them on new
            write_user_store(lab["new"], scenario.users, result.passwords)
            log.info("the users made on new (%s's own store cannot be copied)", scenario.hosts["old"].server)
    with _phase(result, "baseline"):
        if restored:  # the rows' password column is keyed with this lab's secret
            result.baseline = restored.baseline.model_copy(update={"user_db": snapshot_user_db(lab["old"])})
            return
        result.baseline = snapshot_host(lab["old"], result.passwords)
        refused, served = [], 0
        for user in result.baseline.users.values():  # one pass: each user is read from disk
            refused += [user] if user.login_error else []
            served += user.message_count
        # a user old refuses would be left out of every comparison: the lab failed to make old
        if refused:
            raise LabError(f"old refuses {len(refused)} of the seeded users' logins, e.g. {refused[0].address}: "
                           f"{refused[0].login_error}")
        # mail seeded where old's Dovecot does not look would make every comparison pass on nothing
        if served < written:
            raise LabError(f"old serves {served} of the {written} messages the lab seeded: they are not where "
                           "old's Dovecot looks for them (its userdb's home and mail, its mail_location)")
        if key:
            cache.save(lab["old"], key, result.passwords, result.baseline, written)


def migrate(lab: Lab, scenario: Scenario, result: Rehearsal, faults: list[Fault] | None = None) -> None:
    """converge (with the scenario's faults, or `faults`), idempotence, side_effect and
    verify, on a prepared lab."""
    context = MigrationContext(lab, scenario, result.passwords)
    result.strikes = context.strikes
    with _phase(result, "converge"):
        if scenario.cutover:
            converged, result.cutover = while_the_internet_sends(
                lab, scenario, context, lambda: converge(scenario, context, result.steps, faults=faults))
        else:
            converged = converge(scenario, context, result.steps, faults=faults)
        result.events, result.ran = list(context.events), list(context.ran)
        if scenario.in_place and (own := lab[scenario.target].own):  # the upgraded host's configuration
            result.own_config[scenario.target] = own.report()
            result.config_refused = list(own.problems)
    if scenario.idempotence and converged:
        with _phase(result, "idempotence"):
            result.converged = snapshot_host(lab[scenario.target], result.passwords)
            converge(scenario, context, result.steps, rerun=True)
            _look_at_both(lab, result)
    result.arrivals, result.old_flags = list(context.arrivals), list(context.old_flags)
    smoke = None
    if converged and (scenario.cutover or scenario.expect.smoke_delivery):
        with _phase(result, "side_effect"):
            if scenario.cutover:  # clients by the name they use, on new
                result.tls = check_names(lab, scenario.domains)
            if scenario.expect.smoke_delivery:
                smoke = _smoke(lab, scenario, result)
    with _phase(result, "verify"):
        if result.new is None:  # taken after the smoke message: it must be there
            _look_at_both(lab, result)
            result.arrivals += [smoke] if smoke else []
            result.undelivered = []
        if result.cutover:  # new as the steps left it: a rerun could carry over what was stranded
            result.ledger = ledger_of(result.cutover, lab, result.converged or result.new, result.old)
        if result.config_refused and lab[scenario.target].config_taken():  # the steps mended it
            result.config_refused = []
        _judge(result)


def _look_at_both(lab: Lab, result: Rehearsal) -> None:
    """new and old at the end; in place, the one host (no source is left to look at). Each
    host's earlier snapshot (new's after the first run, old's baseline) spares reading again
    the bytes of the messages it still holds (snapshot._messages)."""
    if result.scenario.in_place:
        result.new = snapshot_host(lab[result.scenario.target], result.passwords, result.converged)
        return
    start_stopped(lab["old"])
    earlier = {"new": result.converged, "old": result.baseline}
    result.new, result.old = snapshot_hosts([lab["new"], lab["old"]], result.passwords,
                                            {role: state for role, state in earlier.items() if state})
    result.old_mail = accepted_message_ids(lab["old"].logs())


def _judge(result: Rehearsal) -> None:
    scenario = result.scenario
    evidence = Evidence(baseline=result.baseline, old=result.old, new=result.new, converged=result.converged,
                        old_changes_declared=scenario.changes_old, arrivals=tuple(result.arrivals),
                        old_mail=result.old_mail, old_flags=tuple(result.old_flags),
                        old_db_declared=any(isinstance(s, Sql) and s.changes_old for s in scenario.steps),
                        undelivered=tuple(result.undelivered), ledger=result.ledger, tls=tuple(result.tls),
                        config_refused=tuple(result.config_refused), source_server=scenario.hosts["old"].server,
                        traffic=frozenset(m.message_id for m in result.cutover.sent) if result.cutover else frozenset())
    result.findings = judge(evidence, scenario.expect)


def bring_up(scenario: Scenario, setup_steps: int = 0) -> Rehearsal:
    """create, seed and baseline, then the first `setup_steps` steps (an exercise's starting
    point), and keep the lab for a person to work in (`maillab up`). Root on old and new may
    ssh to the other host by key, as the seeds' admins do. After setup steps the baseline is
    old as the person finds it: what `check` holds old to. A lab that could not be made up
    to there is removed."""
    def phases(lab: Lab, result: Rehearsal, ca: str) -> None:
        prepare(lab, scenario, result, ca)
        context = MigrationContext(lab, scenario, result.passwords)
        trust_each_other(context)
        if setup_steps:
            with _phase(result, "setup"):
                setup = scenario.model_copy(update={"steps": scenario.steps[:setup_steps]})
                if not converge(setup, context, result.steps, faults=[]):
                    raise LabError(f"the setup steps of {scenario.name} failed: {result.steps[-1].meaning}")
            result.arrivals = list(context.arrivals)
            with _phase(result, "baseline"):
                result.baseline = snapshot_host(lab["old"], result.passwords)
    result = in_a_lab(scenario, phases, keep=True)
    if result.error and result.kept is not None:
        with signals.held():
            result.kept.destroy()
        result.kept = None
    return result


def check_kept(scenario: Scenario, lab: Lab, baseline: HostState, passwords: dict[str, str],
               steps: list[StepResult], arrivals: list[Arrival]) -> Rehearsal:
    """verify on a kept lab, as `run` does at its end: new and old now against old's
    baseline and the scenario's expectations. The lab stays (no idempotence rerun: the
    steps were a person's)."""
    result = Rehearsal(scenario=scenario, lab_id=lab.id, passwords=passwords, steps=list(steps), baseline=baseline,
                       arrivals=list(arrivals), kept=lab)
    with _recorded(result), _phase(result, "verify"):
        _look_at_both(lab, result)
        _judge(result)
    return result


def _smoke(lab: Lab, scenario: Scenario, result: Rehearsal) -> Arrival | None:
    """The smoke message, unless new does not answer SMTP or IMAP (service_down says why) or
    no user can log in on new (login_failed says why)."""
    down = {"SMTP", "IMAP"} & set(result.new.unanswered if result.new else lab[scenario.target].probe())
    if down:
        log.info("no smoke delivery: new does not answer %s", " or ".join(sorted(down)))
        return None
    # to a user who can log in on new to see it (login_failed names the others): the first
    address = next((user.address for user in scenario.users if not _refused(result.new, user.address)), None)
    if address is None:
        log.info("no smoke delivery: no user can log in on new")
        return None
    smoke, delivered = smoke_delivery(lab, address, result.passwords, scenario.target)
    result.undelivered = [] if delivered else [smoke]
    return smoke


def _refused(new: HostState | None, address: str) -> bool:
    """Whether new's snapshot says the user's login failed."""
    user = new.users.get(address) if new else None
    return bool(user and user.login_error)


def _since(origin: float) -> float:
    return round(time.monotonic() - origin, 2)


def one_line(error: BaseException) -> str:
    """An exception as the one line a user reads (a LabError says it all; others get their type)."""
    text = " ".join(str(error).split())
    return text if isinstance(error, LabError) and text else f"{type(error).__name__}: {text}"


def converge(scenario: Scenario, context: MigrationContext, steps: list[StepResult], rerun: bool = False,
             faults: list[Fault] | None = None) -> bool:
    """Run the steps in order, appending what each did to `steps` (so that the report holds
    the steps so far when one raises), with the scenario's faults (or `faults`) striking
    during theirs; the idempotence rerun has none. A failed step ends the run, unless a fault
    has struck: then the scenario's `resume` runs its recovery and the failed step and those
    after it again, as an admin would, up to `resume.tries` times. True if all succeeded."""
    pending = [] if rerun else list(scenario.faults if faults is None else faults)
    converged = _converge(scenario, context, steps, rerun, pending)
    heal(context.strikes)  # what the faults left is undone once the steps are done
    return converged


def _converge(scenario: Scenario, context: MigrationContext, steps: list[StepResult], rerun: bool,
              pending: list[Fault]) -> bool:
    prefix = "idempotence: " if rerun else ""
    index, tries, earlier = 0, 0, len(context.strikes)
    while index < len(scenario.steps):
        step = scenario.steps[index]
        if rerun and not step.rerun_in_idempotence:
            index += 1
            continue
        armed = [fault for fault in pending if fault.when.step == index + 1]
        pending = [fault for fault in pending if fault not in armed]  # a fault strikes once
        outcome = _run_step(step, context, steps, prefix, Injection(armed, context))
        if all(r.ok for r in outcome):
            index += 1
            continue
        struck = any(strike.at is not None for strike in context.strikes[earlier:])
        if rerun or not struck or tries == scenario.resume.tries:
            return False  # later steps build on this one
        tries += 1
        for result in outcome:
            result.resumed = not result.ok
        heal(context.strikes)
        log.info("resuming (try %d of %d): the failed step and those after it run again", tries,
                 scenario.resume.tries)
        prefix = f"resume {tries}: "
        for recovery in scenario.resume.recovery:
            if not all(r.ok for r in _run_step(recovery, context, steps, prefix, Injection([], context))):
                return False
    return True


def _run_step(step: Step, context: MigrationContext, steps: list[StepResult], prefix: str,
              injection: Injection) -> list[StepResult]:
    """One step with its faults armed; what it did is appended to `steps` and returned."""
    log.info("%s%s", "again: " if prefix == "idempotence: " else prefix, step.describe())
    context.events.append(Event(_since(context.origin), prefix + step.describe()))
    started = time.monotonic()
    try:
        with injection:
            outcome = execute(step, context)
    except LabError as error:  # a hung command, a host gone: the step did not finish
        unfinished = StepResult(step=prefix + step.describe(), host="lab", command=step.describe(), exit_code=None,
                                meaning=one_line(error), ok=False, seconds=round(time.monotonic() - started, 2))
        steps.append(unfinished)
        if isinstance(error, EngineGone) or not any(strike.at is not None for strike in injection.strikes):
            raise
        return [unfinished]  # the fault broke the step (a host rebooting under it): the resume decides
    finally:
        for strike in injection.strikes:
            context.strikes.append(strike)
            if strike.at is not None:
                context.events.append(Event(_since(context.origin), f"fault: {strike.fault}"))
    outcome = [r.model_copy(update={"step": prefix + r.step}) for r in outcome]
    steps += outcome
    return outcome


def start_stopped(host) -> None:
    """Start what a snapshot of old reads if the migration stopped it (old is retired): a
    Dovecot host's (no step stops a server of another kind)."""
    if host.spec.server != "dovecot":
        return
    stopped = host.stopped(list(SNAPSHOT_SERVICES))
    for service in stopped:
        log.info("%s on %s was left stopped: starting it to look at the source", service, host.role)
        host.service(service, "start")
    if stopped:
        def answering() -> None:
            if down := set(host.probe()) - {"SMTP"}:
                raise NotYet(f"{', '.join(sorted(down))} not answering yet")
        poll(f"{host.role} answering again", answering, timeout=60)


def smoke_delivery(lab: Lab, address: str, passwords: dict[str, str], role: str = "new") -> tuple[Arrival, bool]:
    """Send a message to `address` over SMTP on new (`role`: the host the users end up on) and
    wait until LMTP put it in INBOX; returns it, and whether it arrived."""
    new = lab[role]
    arrival = Arrival(address, f"<smoke.{lab.id}.{secrets.token_hex(4)}@maillab.invalid>")
    log.info("SMTP to %s for %s, waiting for LMTP delivery", role, address)
    try:
        with new.smtp() as smtp:
            smtp.send_message(compose_message(address, arrival.message_id, "sent to the new server after the migration"))
    except (smtplib.SMTPException, OSError) as error:
        log.info("%s refused the smoke message: %s", role, error)
        return arrival, False
    if wait_for_delivery(new, passwords, {address: [arrival.message_id]}):
        return arrival, False
    log.info("delivered to INBOX")
    return arrival, True

