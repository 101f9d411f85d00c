"""Steps of a live cutover (seed 003): Dns (switch an MX or A record, with a TTL), Postconf
(`postconf -e` on a host or the sender, e.g. soft_bounce), Queue (flush the sender's queue,
or wait until it drains), Certificates (copy /etc/letsencrypt to new) and Wait (let guide
time pass). TTLs and waits are in the guide's seconds, scaled by `cutover.day`."""

from __future__ import annotations

import time

from ...lab.command import Command
from ...lab.internet import drain_postfix_queue, flush_postfix_queue
from .context import MigrationContext, StepResult
from .rsync import RSYNC_EXIT_MEANINGS
from ..schema.steps import Certificates, Dns, Postconf, Queue, Wait

# a reload when Postfix runs (a stopped Postfix reads its configuration when started)
RELOAD_POSTFIX = "if postfix status >/dev/null 2>&1; then postfix reload; fi"
POSTCONF = 'postconf -e "$@" && ' + RELOAD_POSTFIX


def run_dns(step: Dns, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    lab, cutover = context.lab, context.scenario.cutover
    ttl = cutover.lab_seconds(step.ttl)
    for domain in [step.domain] if step.domain else context.scenario.domains:
        if step.mx is not None:
            exchanges = [f"{10 * (rank + 1)} {role}.{domain}." for rank, role in enumerate(step.mx)]
            lab.dns.update(domain, f"{domain}.", "MX", exchanges, ttl)
        else:
            lab.dns.update(domain, f"mail.{domain}.", "A", [lab[step.a].address()], ttl)
    return [context.done(step.describe(), "dns", True, f"done (TTL {ttl} s in the lab)", started)]


def run_postconf(step: Postconf, context: MigrationContext) -> list[StepResult]:
    host = context.lab.sender if step.host == "sender" else context.lab[step.host]
    settings = [f"{name}={value}" for name, value in step.settings.items()]
    return [context.run(host, Command.script(POSTCONF, *settings, display=f"postconf -e {' '.join(settings)}"),
                        {0: "success", 1: "postconf failed"}, label=step.describe())]


def run_queue(step: Queue, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    machine = context.lab.sender if step.host == "sender" else context.lab[step.host]
    if step.action == "flush":
        flush_postfix_queue(machine)
        return [context.done(step.describe(), step.host, True, "flushed", started)]
    if stuck := drain_postfix_queue(machine, step.within):
        reasons = sorted({r.get("delay_reason", "") for m in stuck for r in m.get("recipients", [])})
        # what an admin reads in mailq: not a failure of the step, the ledger judges the mail
        return [context.done(step.describe(), step.host, True, f"{len(stuck)} messages still queued", started,
                             "\n".join(reasons[:10]))]
    return [context.done(step.describe(), step.host, True, f"empty after {time.monotonic() - started:.1f} s", started)]


def run_certificates(step: Certificates, context: MigrationContext) -> list[StepResult]:
    new = context.lab["new"]
    # --checksum: the lab writes both hosts' keys in the same second and at the same size, which
    # rsync's quick check (size and time) would take for "unchanged"
    copy = Command.of("rsync", "-a", "--checksum", "-e", "ssh -o BatchMode=yes", "root@old:/etc/letsencrypt/",
                      "/etc/letsencrypt/")
    results = [context.run(new, copy, RSYNC_EXIT_MEANINGS, label="rsync -a root@old:/etc/letsencrypt/ (on new)")]
    if results[-1].ok:  # the services read the certificate when they (re)load their configuration
        reload = Command.script("doveadm reload && " + RELOAD_POSTFIX, display="doveadm reload; postfix reload")
        results.append(context.run(new, reload, {0: "success"}, label="reload Dovecot and Postfix (on new)"))
    return results


def run_wait(step: Wait, context: MigrationContext) -> list[StepResult]:
    started = time.monotonic()
    seconds = context.scenario.cutover.lab_seconds(step.seconds)
    context.sleep(seconds)
    return [context.done(step.describe(), "lab", True, f"waited {seconds} s in the lab", started)]
