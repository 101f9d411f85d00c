"""The internet's side of a live cutover: the lab's zones, the traffic source while the steps
run, the wait for the sender's queue, and what the sender's log, the queues and the INBOXes
say happened to each message (runner/rehearsal/ledger.py gives each its fate).

The traffic source hands mail to the sending MTA over SMTP at a steady rate, each message
with its own Message-ID, from before the first step until after the last. The sender
resolves each recipient's MX through its caching resolver and delivers, defers or bounces
like any MTA on the internet; its log line for each attempt says to which host, with which
status and after how long (`delay=`: seconds since the message entered its queue).
"""

from __future__ import annotations

import logging
import re
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...lab.errors import LabError
from ...lab.internet import Zone, drain_postfix_queue, postfix_queue
from ..methods.context import Event
from ..methods.send_mail import compose_message
from .ledger import Attempt, Ledger, Sent, account
from .tls import CA_FILE

if TYPE_CHECKING:
    from ...lab.lab import Lab
    from ..methods.context import MigrationContext
    from ..schema.scenario import Scenario
    from .state import HostState

log = logging.getLogger(__name__)

TRAFFIC_FROM = "traffic@traffic.lab"  # the sender's own domain: a bounce ends there (discarded)
MESSAGE_ID = re.compile(r"postfix/cleanup\[\d+\]: (?P<qid>[0-9A-Z]+): message-id=(?P<mid><[^>\s]*>)")
DELIVERY = re.compile(r"postfix/\w+\[\d+\]: (?P<qid>[0-9A-Z]+): to=<[^>]*>,(?: orig_to=<[^>]*>,)? "
                      r"relay=(?P<relay>[^,]+),.* delay=(?P<delay>[\d.]+),.* "
                      r"status=(?P<status>sent|deferred|bounced|expired) \((?P<detail>.*)\)$")
RELAY_ADDRESS = re.compile(r"\[(?P<address>[\d.]+)\]")


@dataclass
class CutoverRecord:
    """What a live cutover's internet saw, in seconds since the traffic started."""

    sent: list[Sent]
    log: str  # the sender's mail log
    queue: list[dict]  # the sender's queue when the run stopped waiting for it
    events: list[Event]
    ended_at: float
    old_queue: set[str]  # Message-IDs old's Postfix accepted and still holds
    attempts: list[Attempt] = field(default_factory=list)  # read from `log` once the run is over


def open_internet(lab: Lab, scenario: Scenario, ca: str) -> None:
    """The zones (every name at old, with the scenario's first TTL) on the lab's DNS, the
    sender resolving through it and trusting the lab's CA (`ca`, PEM)."""
    cutover = scenario.cutover
    addresses = {role: lab[role].address() for role in ("old", "new")}
    ttl = cutover.lab_seconds(cutover.ttl)
    lab.dns.serve([Zone(domain, addresses, ttl) for domain in scenario.domains])
    lab.sender.use_dns(lab.dns.address(), scenario.domains[0])
    lab.sender.put_file(CA_FILE, ca.encode())
    log.info("DNS: %s -> MX mail.<domain> -> old (TTL %d s in the lab); the sender resolves through it",
             ", ".join(scenario.domains), ttl)


class TrafficSource(threading.Thread):
    """Mail from the internet, `rate` messages per second round-robin over `users`, each sent
    message recorded (seconds since `origin`) before the next one."""

    def __init__(self, lab: Lab, users: list[str], rate: float, origin: float) -> None:
        super().__init__(name="traffic source", daemon=True)
        self.lab, self.users, self.rate, self.origin = lab, users, rate, origin
        self.sent: list[Sent] = []
        self.error: str | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        due = time.monotonic()
        try:
            with self.lab.sender.smtp() as smtp:
                while not self._stopping.is_set():
                    user = self.users[len(self.sent) % len(self.users)]
                    message_id = f"<traffic.{len(self.sent)}.{self.lab.id}@traffic.lab>"
                    smtp.send_message(compose_message(user, message_id, "sent by the internet during the cutover",
                                                      sender=TRAFFIC_FROM))
                    self.sent.append(Sent(message_id, user, round(time.monotonic() - self.origin, 3)))
                    due += 1 / self.rate
                    self._stopping.wait(max(0.0, due - time.monotonic()))
        except (smtplib.SMTPException, OSError) as error:
            self.error = f"the sending MTA refused the traffic source's mail: {error}"

    def stop(self) -> list[Sent]:
        self._stopping.set()
        self.join(timeout=60)
        if self.error:
            raise LabError(self.error)
        log.info("traffic: %d messages sent at %g/s", len(self.sent), self.rate)
        return list(self.sent)


def while_the_internet_sends(lab: Lab, scenario: Scenario, context: MigrationContext,
                             steps: Callable[[], bool]) -> tuple[bool, CutoverRecord]:
    """Run `steps` while the internet sends mail: traffic from `lead` seconds before the first
    step to `tail` seconds after the last, then a bounded wait for the sender's queue. Returns
    whether the steps succeeded, and what the internet saw."""
    cutover = scenario.cutover
    users = [user.address for user in scenario.users] if cutover.traffic.users == "all" else cutover.traffic.users
    context.origin = time.monotonic()
    traffic = TrafficSource(lab, users, cutover.traffic.rate, context.origin)
    traffic.start()
    try:
        time.sleep(cutover.traffic.lead)
        converged = steps()
        time.sleep(cutover.traffic.tail)
    finally:
        sent = traffic.stop()
    context.events.append(Event(round(time.monotonic() - context.origin, 2), "traffic stopped"))
    if stuck := drain_postfix_queue(lab.sender, cutover.drain):
        log.info("%d messages still queued at the sender after %g s", len(stuck), cutover.drain)
    old = lab["old"]
    return converged, CutoverRecord(sent, lab.sender.mail_log(), postfix_queue(lab.sender), list(context.events),
                                    round(time.monotonic() - context.origin, 2),
                                    queued_message_ids(old.logs(), postfix_queue(old)))


def ledger_of(record: CutoverRecord, lab: Lab, new: HostState, old: HostState) -> Ledger:
    """Each sent message's fate, from the sender's log and queue, old's Postfix queue and the
    INBOXes of `new` and `old`."""
    roles = {lab[role].address(): role for role in ("old", "new")}
    record.attempts = attempts_from_log(record.log, record.sent, roles)
    sent_at = {message.message_id: message.at for message in record.sent}
    queued = {mid: sent_at[mid] for mid in queued_message_ids(record.log, record.queue) if mid in sent_at}

    def inbox(state: HostState) -> list[str]:
        return [m.message_id for user in state.users.values() if "INBOX" in user.folders
                for m in user.folders["INBOX"].messages if m.message_id in sent_at]
    on_old = dict.fromkeys(record.old_queue & sent_at.keys(), "queue") | dict.fromkeys(inbox(old), "INBOX")
    return account(record.sent, record.attempts, queued, Counter(inbox(new)), on_old, record.ended_at)


def attempts_from_log(text: str, sent: list[Sent], roles: dict[str, str]) -> list[Attempt]:
    """Every delivery attempt the sender logged for a sent message. `roles`: lab address ->
    host role. An attempt's time is the message's sending time plus the log's `delay=`."""
    sent_at = {message.message_id: message.at for message in sent}
    message_ids: dict[str, str] = {}
    attempts = []
    for line in text.splitlines():
        if found := MESSAGE_ID.search(line):
            message_ids[found["qid"]] = found["mid"]
        elif (found := DELIVERY.search(line)) and message_ids.get(found["qid"]) in sent_at:
            message_id = message_ids[found["qid"]]
            address = RELAY_ADDRESS.search(found["relay"])
            status = "bounced" if found["status"] == "expired" else found["status"]
            attempts.append(Attempt(message_id, round(sent_at[message_id] + float(found["delay"]), 3), status,
                                    roles.get(address["address"]) if address else None, found["detail"]))
    return attempts


def accepted_message_ids(text: str) -> frozenset[str]:
    """The Message-IDs of every message a Postfix log shows taken in (its cleanup lines)."""
    return frozenset(found["mid"] for found in MESSAGE_ID.finditer(text))


def queued_message_ids(text: str, queue: list[dict]) -> set[str]:
    """The Message-IDs of what `postqueue -j` lists, through the log's cleanup lines."""
    message_ids = {found["qid"]: found["mid"] for found in MESSAGE_ID.finditer(text)}
    return {message_ids[entry["queue_id"]] for entry in queue if entry.get("queue_id") in message_ids}
