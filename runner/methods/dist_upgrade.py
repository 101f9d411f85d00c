"""Upgrading a host in place to the next Debian suite (the DistUpgrade step, method
`dist_upgrade`), as the Debian release notes ("Upgrading your system") and an unattended
upgrade do it: the sources switched by `sed`, `apt-get full-upgrade` that asks nothing and
keeps every configuration file the admin changed, then a reboot. The host's image already
holds the new suite's package lists and packages (dockerfiles/upgrade): the lab is sealed, and
apt-get runs with --no-download."""

from __future__ import annotations

import logging
import re
import time

from ...lab.command import Command
from ...lab.errors import HostNotReady
from ..schema.steps import DistUpgrade
from . import executes
from .context import MigrationContext, StepResult

log = logging.getLogger(__name__)
SOURCES = "/etc/apt/sources.list"
APT_EXIT_MEANINGS = {0: "success", 100: "apt-get failed (a broken dependency, a package's script, a missing package)"}
# dpkg: keep the installed version of every changed conffile, install the others' new version,
# ask nothing (the --force-confdef/--force-confold pair of unattended-upgrades); ucf, which
# Dovecot's files go through, keeps the installed version by UCF_FORCE_CONFFOLD.
FULL_UPGRADE = Command.of("env", "DEBIAN_FRONTEND=noninteractive", "UCF_FORCE_CONFFOLD=1", "apt-get", "-y",
                          "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
                          "--no-download", "full-upgrade")
# Each configuration file kept over the package's new version has that version beside it.
KEPT_FILES = Command.of("find", "/etc", "(", "-name", "*.dpkg-dist", "-o", "-name", "*.ucf-dist", ")", "-print")
DOVECOT_VERSION = Command.of("dpkg-query", "-W", "-f=${Version}", "dovecot-core")
APT_SUMMARY = re.compile(r"^\d+ upgraded, \d+ newly installed, \d+ to remove and \d+ not upgraded\.$", re.M)


def apt_summary(output: str) -> str | None:
    """apt-get's own count of what it did, e.g. "182 upgraded, 69 newly installed, ..."."""
    return match.group(0) if (match := APT_SUMMARY.search(output)) else None


def kept_summary(output: str) -> str:
    kept = sorted({path.rsplit(".", 1)[0] for path in output.split()})
    return (f"{len(kept)} configuration files kept as the admin had them (changed or deleted), the packages' "
            "versions beside them (listed below)")


@executes(DistUpgrade)
def run(step: DistUpgrade, context: MigrationContext) -> list[StepResult]:
    host = context.lab[step.host]
    suite, target = host.spec.suite, step.target(context.scenario)
    results = [context.run(host, Command.of("sed", "-i", f"s/{suite}/{target}/g", SOURCES),
                           {0: f"the sources name {target}"})]
    log.info("upgrading %s to %s: apt-get unpacks every package of the new suite (minutes; its count follows)",
             host.role, target)
    results.append(context.run(host, FULL_UPGRADE, APT_EXIT_MEANINGS, summary=apt_summary))
    if not results[-1].ok:
        return results
    kept = context.run(host, KEPT_FILES, {}, summary=kept_summary)
    results.append(kept.model_copy(update={"show_output": True}))
    results.append(context.run(host, DOVECOT_VERSION, {0: "the Dovecot now installed"},
                               summary=lambda version: f"Dovecot {version.strip()} now installed"))
    started = time.monotonic()
    # maillab's own configuration (an upgrade within one Dovecot series: the schema allows no
    # other) is the entrypoint's at every boot; the admin's is looked at now
    own = host.take_upgraded_config(step.config) if host.own else None
    if own:
        context.lab.secrets.update(own.secrets)
        refused = "; ".join(problem.one_line() for problem in own.problems)
        where = f"the admin's configuration in {step.config}" if step.config else "the configuration dpkg kept"
        results.append(context.done(f"{where} in place", host.role, True,
                                    f"refused: {refused}" if refused else "Dovecot and Postfix take it", started))
    started = time.monotonic()
    try:
        context.lab.reboot(host.role)
    except HostNotReady as error:  # the upgraded host's own failure: the verdict says which service
        return [*results, context.done(f"reboot {host.role}", host.role, False, str(error), started)]
    down = [server for server in ("dovecot", "postfix") if own and own.refused(server)]
    results.append(context.done(f"reboot {host.role}", host.role, True,
                                f"up; not started: {', '.join(down)} (refused its configuration)" if down else "up",
                                started))
    return results
