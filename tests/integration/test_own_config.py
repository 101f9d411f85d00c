"""The admin's own configuration on a host (docs/own-server.md), with real Dovecot and Postfix:
a configuration the servers refuse is new's finding (config_failed, one per error) and bad input
on old, in `run` and in `validate`. The shipped folder passing is a row of test_rehearsals.PATHS.

Each case is a copy of the shipped scenario and its folder, with typos put into a host's files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, maillab

SHIPPED = ROOT / "scenarios" / "own-config-bookworm.yaml"
FOLDER = ROOT / "scenarios" / "own-config" / "bookworm"
# file in the folder -> (line, what an admin mistyped there)
MAIL_LOCATION = {"dovecot/dovecot.conf": (14, "mail_locaton = maildir:~/Maildir")}
TWO = MAIL_LOCATION | {"dovecot/conf.d/10-mail.conf": (21, "mail_pluginz = $mail_plugins quota")}
MAIN_CF = {"postfix/main.cf": (7, "inet_interfaces all")}
SIZE = {"postfix/main.cf": (5, "message_size_limit = 50M")}  # bytes, no unit
MAP = {"postfix/mysql-virtual-mailbox-maps.cf": (5, "query SELECT 1 FROM virtual_users WHERE email='%s'")}
# the first refusal as `validate` and `run` say it, under the folder with the typos
UNKNOWN_SETTING = "dovecot/dovecot.conf:14: Unknown setting: mail_locaton (dovecot)"
NO_EQUALS = "missing '=' after attribute name: \"{}\" (postfix)"

# (case, role with the typos, typos, run's exit, the finding classes, the findings' places, the first refusal)
CASES = [
    ("a typo in new's dovecot.conf", "new", MAIL_LOCATION, 1, {"config_failed", "service_down"},
     ["new dovecot/dovecot.conf:14"], UNKNOWN_SETTING),
    ("two typos in new's files", "new", TWO, 1, {"config_failed", "service_down"},
     ["new dovecot/dovecot.conf:14", "new dovecot/conf.d/10-mail.conf:21"], UNKNOWN_SETTING),
    ("a typo in old's dovecot.conf", "old", MAIL_LOCATION, 2, None, [], UNKNOWN_SETTING),
    # postfix(1) names main.cf's line only to a terminal (lab/own_config.py POSTFIX_CHECK)
    ("a typo in new's main.cf", "new", MAIN_CF, 1, {"config_failed", "service_down"},
     ["new postfix/main.cf:7"], "postfix/main.cf:7: " + NO_EQUALS.format("inet_interfaces all")),
    # a refused value: Postfix names the setting, the lab finds its line
    ("a bad value in new's main.cf", "new", SIZE, 1, {"config_failed", "service_down"}, ["new postfix/main.cf:5"],
     "postfix/main.cf:5: bad numerical configuration: message_size_limit = 50M (postfix)"),
    ("a typo in new's mysql map", "new", MAP, 1, {"config_failed", "service_down"},
     ["new postfix/mysql-virtual-mailbox-maps.cf:5"],
     "postfix/mysql-virtual-mailbox-maps.cf:5: "
     + NO_EQUALS.format("query SELECT 1 FROM virtual_users WHERE email='%s'")),
    ("a typo in old's main.cf", "old", MAIN_CF, 2, None, [],
     "postfix/main.cf:7: " + NO_EQUALS.format("inet_interfaces all")),
]


def scenario_with_typos(tmp_path: Path, role: str, typos: dict[str, tuple[int, str]]) -> Path:
    """The shipped scenario with `role`'s folder a copy of the shipped one holding `typos`."""
    shutil.copytree(FOLDER, tmp_path / "own-config" / "bookworm")
    shutil.copytree(FOLDER, tmp_path / "own-config" / "typos")
    for file, (line, text) in typos.items():
        path = tmp_path / "own-config" / "typos" / file
        lines = path.read_text().split("\n")
        lines[line - 1] = text
        path.write_text("\n".join(lines))
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SHIPPED.read_text().replace(f"{role}: {{suite: bookworm, config: own-config/bookworm}}",
                                                    f"{role}: {{suite: bookworm, config: own-config/typos}}"))
    return scenario


@pytest.mark.parametrize(("case", "role", "typos", "exit_code", "classes", "places", "refusal"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_refused_configuration(images, tmp_path, case, role, typos, exit_code, classes, places, refusal):
    scenario = scenario_with_typos(tmp_path, role, typos)
    reports = tmp_path / "reports"
    run = maillab("run", str(scenario), "--report-dir", str(reports))
    assert run.returncode == exit_code, run.stdout[-3000:] + run.stderr
    validate = maillab("validate", str(scenario))
    folder = tmp_path / "own-config" / "typos"
    first = f"{folder}/{refusal}"
    if role == "old":  # the lab cannot stand in for the admin's server: bad input, one line, in both
        for command in (run, validate):
            [line] = command.stderr.strip().splitlines()[-1:]
            assert line.startswith(f"maillab: hosts.old.config: {first}"), command.stderr
        assert validate.returncode == 2 and len(validate.stderr.strip().splitlines()) == 1, validate.stderr
        return
    report = json.loads((reports / "report.json").read_text())
    assert {finding["class"] for finding in report["findings"]} == classes
    refused = [finding for finding in report["findings"] if finding["class"] == "config_failed"]
    assert [finding["mailbox"] for finding in refused] == places
    message = refusal.split(": ", 1)[1].rsplit(" (", 1)[0]
    assert message in refused[0]["detail"], refused[0]
    # the migration's finding, known before seeding: validate warns with file:line and passes
    assert validate.returncode == 0, validate.stdout + validate.stderr
    warnings = [line for line in validate.stdout.splitlines() if line.startswith("warning: hosts.new.config:")]
    assert len(warnings) == len(places) and first in warnings[0], validate.stdout


# Shipped scenarios again with the admin's configuration on their hosts: (scenario, its hosts' lines
# as shipped, a check of new's own_config in report.json)
ON_OWN_CONFIG = [
    # Dovecot's certificate paths are the admin's (linked to the certificate the migration copies),
    # Postfix's main.cf has no TLS and gets the lab's STARTTLS: clients verify new by its name
    ("ispmail-cutover", ("old: {suite: bullseye}", "new: {suite: bookworm}"),
     lambda new: any(added.startswith("Postfix: STARTTLS with the lab's certificate") for added in new["added"])
     and "/etc/ssl/mail.example.org/fullchain.pem (dovecot/conf.d/10-ssl.conf:3)" in new["made"]),
    # new restarts during the backup and takes the admin's files again
    ("new-server-reboots", ("old: {suite: bullseye}", "new: {suite: bookworm, mail_store: disk}"),
     lambda new: not new["refused"]),
]


@pytest.mark.parametrize(("name", "hosts", "check"), ON_OWN_CONFIG, ids=[c[0] for c in ON_OWN_CONFIG])
def test_a_shipped_scenario_passes_on_the_admins_configuration(images, tmp_path, name, hosts, check):
    text = (ROOT / "scenarios" / f"{name}.yaml").read_text()
    for host in hosts:
        assert host in text
        text = text.replace(host, host.replace("bullseye", "bookworm").replace("}", f", config: {FOLDER}}}"))
    scenario = tmp_path / f"{name}.yaml"
    scenario.write_text(text)
    run = maillab("run", str(scenario), "--report-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["findings"] == [] and set(report["own_config"]) == {"old", "new"}
    assert check(report["own_config"]["new"])
