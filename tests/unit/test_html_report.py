"""report.html as write_reports writes it, read back with an HTML parser: every section, the
finding rows and their filter's choices, scenario text shown as text, nothing loaded from
elsewhere, the cutover's picture inside. No Docker, no browser (tests/integration has the
browser test)."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import pytest
from rich.console import Console

from maillab.runner.rehearsal.phases import Rehearsal
from maillab.runner.reports.checks import OWN_CONFIG_KINDS
from maillab.runner.reports.json_report import write_reports
from maillab.runner.reports.terminal import render_own_config

from .reports import HOSTILE, OTHER, SCENARIO, STEP, cutover, failing, passing
from .states import USER

SECTIONS = {"verdict", "steps", "checks", "findings", "redownload", "messages", "timings"}


class Page(HTMLParser):
    """The elements of a page (tag, attributes) and its text, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data) -> None:
        self.text.append(data)

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.elements if "id" in attrs}

    def rows(self) -> list[tuple[str, str]]:
        return [(attrs["data-class"], attrs["data-user"]) for tag, attrs in self.elements
                if tag == "tr" and "data-class" in attrs]

    def own_config_rows(self) -> list[tuple[str, str, str]]:
        """(host, kind, class) of each row of the admin's own configuration."""
        return [(attrs["data-role"], attrs["data-kind"], attrs["class"]) for tag, attrs in self.elements
                if tag == "tr" and "data-kind" in attrs]

    def options(self, select: str) -> list[str]:
        """The values of the options of the select whose id is `select`."""
        values, inside = [], False
        for tag, attrs in self.elements:
            if tag == "select":
                inside = attrs.get("id") == select
            elif tag == "option" and inside:
                values.append(attrs["value"])
        return values


def report(rehearsal: Rehearsal, tmp_path) -> tuple[Page, dict, str]:
    write_reports(rehearsal, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    return Page(html), json.loads((tmp_path / "report.json").read_text()), html


@pytest.mark.parametrize("make", [passing, failing], ids=["passing", "failing"])
def test_every_section_is_there_and_the_verdict_is_report_jsons(make, tmp_path):
    page, data, _ = report(make(), tmp_path)
    assert SECTIONS <= page.ids()
    [verdict] = [attrs for _, attrs in page.elements if attrs.get("id") == "verdict"]
    assert verdict["data-verdict"] == data["verdict"]
    assert data["summary"] in "".join(page.text)
    assert page.rows() == [(f["class"], f["user"]) for f in data["findings"]]


def test_the_failing_report_lists_each_finding_with_its_filters_choices(tmp_path):
    page, data, _ = report(failing(), tmp_path)
    assert data["verdict"] == "fail"
    assert page.rows() == [("missing", USER), ("uidvalidity_changed", USER), ("flags_changed", OTHER),
                           ("uidl_changed", OTHER)]
    assert page.options("filter-class") == ["", "flags_changed", "missing", "uidl_changed", "uidvalidity_changed"]
    assert page.options("filter-user") == ["", USER, OTHER]
    text = "".join(page.text)
    assert "Yes: clients would re-download mail" in text
    assert "temporary failure" in text and "error: try again" in text  # the failed step's meaning and output


def test_scenario_text_that_looks_like_html_is_shown_as_text(tmp_path):
    page, _, html = report(failing(), tmp_path)
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    assert HOSTILE in "".join(page.text)  # the step's name, its output, the verdict
    assert [tag for tag, _ in page.elements].count("script") == 1  # the page's own filter only


@pytest.mark.parametrize("make", [passing, failing, cutover], ids=["passing", "failing", "cutover"])
def test_the_page_loads_nothing_from_elsewhere(make, tmp_path):
    page, _, _ = report(make(), tmp_path)
    links = [(tag, name, value) for tag, attrs in page.elements for name, value in attrs.items()
             if name in ("src", "href", "action", "srcset")]
    assert all(value.startswith("data:") for _, _, value in links), links
    assert "link" not in {tag for tag, _ in page.elements}


def test_a_cutover_report_embeds_its_timeline_picture(tmp_path):
    page, data, _ = report(cutover(), tmp_path)
    assert "cutover" in page.ids()
    [picture] = [attrs["src"] for tag, attrs in page.elements if tag == "img"]
    assert picture == "data:image/png;base64," + base64.b64encode((tmp_path / "timeline.png").read_bytes()).decode()
    assert "MX switched" in "".join(page.text)
    assert data["ledger"]["delivered"] == 3


def test_a_report_without_a_cutover_has_no_timeline(tmp_path):
    page, _, _ = report(passing(), tmp_path)
    assert "cutover" not in page.ids() and not (tmp_path / "timeline.png").exists()


def test_a_rehearsal_that_could_not_finish_still_gets_its_page(tmp_path):
    error = "ExecTimeout: 'doveadm backup' on new did not finish within 5 s and was killed"
    page, data, _ = report(Rehearsal(scenario=SCENARIO, lab_id="mlhtml", steps=[STEP], error=error), tmp_path)
    assert data["verdict"] == "error" and SECTIONS <= page.ids()
    assert "The rehearsal did not finish, so nothing was judged: " + error in "".join(page.text)
    assert page.rows() == []


# what a lab did to the admin's configuration on each host (report.json's own_config)
OWN_CONFIG = {
    "old": {"folder": "/srv/own/old", "added": ["the readiness probe's lab-only user maillab-probe"],
            "changed": ["dovecot/dovecot-sql.conf.ext:2: connect: host=127.0.0.1 user=mailserver password=(the lab's)"],
            "made": [], "refused": []},
    "new": {"folder": f"/srv/own/{HOSTILE}", "added": [], "changed": [],
            "made": ["/etc/dovecot/private/mail.key (dovecot/conf.d/10-ssl.conf:4)"],
            "refused": ["postfix/main.cf:7: missing '=' after attribute name: \"inet_interfaces all\" (postfix)",
                        f"dovecot/dovecot.conf:14: Unknown setting: {HOSTILE} (dovecot)"]},
}


def test_the_admins_own_configuration_is_listed_per_host_as_the_terminal_lists_it(tmp_path):
    rehearsal = failing()
    rehearsal.own_config = OWN_CONFIG
    page, data, html = report(rehearsal, tmp_path)
    assert "own-config" in page.ids() and data["own_config"] == OWN_CONFIG
    assert page.own_config_rows() == [("old", "added", ""), ("old", "changed", ""), ("new", "made", ""),
                                      ("new", "refused", "bad"), ("new", "refused", "bad")]
    console = Console(record=True, width=400)
    render_own_config(OWN_CONFIG, console)
    text = " ".join(" ".join(page.text).split())  # (a space between cells)
    for line in console.export_text().splitlines():  # "new runs the admin's ...", "  refused: postfix/...: ..."
        kind, _, said = line.strip().partition(": ")
        assert " ".join((f"{kind} {said}" if kind in OWN_CONFIG_KINDS else line).split()) in text, line
    assert HOSTILE not in html  # the folder and a refusal are shown as text


def test_a_report_without_an_own_configuration_has_no_such_section(tmp_path):
    page, _, _ = report(failing(), tmp_path)
    assert "own-config" not in page.ids() and page.own_config_rows() == []
