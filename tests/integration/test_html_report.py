"""report.html in a real browser: Debian's Chromium in the lab's browser image, driven over
WebDriver (Selenium) through chromedriver's port, published on 127.0.0.1 only by a forwarder:
the browser is sealed as a lab machine is (lab/forwarder.py). A passing and a failing report,
written by write_reports from the unit tests' finished rehearsals, are copied into the
container and opened as file:// pages: the container needs no network."""

from __future__ import annotations

import io
import secrets
import tarfile
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from maillab.lab.containers import LabContainer
from maillab.lab.forwarder import door, sealed_networks
from maillab.lab.images import browser_image, ensure_images
from maillab.lab.lab import LABEL, remove_lab
from maillab.lab.poll import poll
from maillab.runner.reports.json_report import HTML_REPORT, write_reports

from ..unit.reports import HOSTILE, OTHER, failing, passing
from ..unit.states import USER

DRIVER_PORT = 9515
REPORTS = "/reports"  # in the container
READY_S = 30  # chromedriver answers within a second or two of starting
PAGE_S = 30


def copy_in(container, reports: dict[str, Path]) -> None:
    """Each report.html into REPORTS/<name>/ in the container."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, directory in reports.items():
            tar.add(directory / HTML_REPORT, arcname=f"{name}/{HTML_REPORT}")
    assert container.put_archive(REPORTS, archive.getvalue())


@pytest.fixture(scope="module")
def browser(docker, tmp_path_factory):
    """A headless Chromium over WebDriver, with the passing and the failing report in reach.
    The container goes at the end, whatever happened."""
    ensure_images(docker, (), internet=False, browser=True)  # built when the run began: found up to date
    reports = {}
    for name, rehearsal in (("passing", passing()), ("failing", failing())):
        reports[name] = tmp_path_factory.mktemp(name)
        write_reports(rehearsal, reports[name])
    lab_id = f"ml{secrets.token_hex(4)}"
    labels = {LABEL: lab_id}
    driver = None
    try:
        networks = sealed_networks(lab_id, labels)
        browser = LabContainer(browser_image(), role="browser", labels=labels, network=networks[0],
                               name=f"{lab_id}-browser")
        browser.with_kwargs(**browser._kwargs, shm_size="256m")
        browser.forwarder = door(lab_id, labels, networks, [(browser.role, DRIVER_PORT)])
        browser.start()
        browser.forwarder.start().wait_until_ready()
        copy_in(browser.get_wrapped_container(), reports)
        url = f"http://127.0.0.1:{browser.get_exposed_port(DRIVER_PORT)}"
        poll("chromedriver to answer", lambda: urllib.request.urlopen(f"{url}/status", timeout=5).read(),
             timeout=READY_S)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
            options.add_argument(argument)
        driver = webdriver.Remote(command_executor=url, options=options)
        driver.set_page_load_timeout(PAGE_S)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        remove_lab(docker, lab_id)


def open_report(driver, name: str) -> None:
    driver.get(f"file://{REPORTS}/{name}/{HTML_REPORT}")


def shown_rows(driver) -> list[tuple[str, str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#findings-table tbody tr")
    return [(row.get_attribute("data-class"), row.get_attribute("data-user")) for row in rows if row.is_displayed()]


def test_the_passing_report_shows_its_verdict_and_its_one_tolerated_finding(browser):
    open_report(browser, "passing")
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.text == "PASS: html: every expectation held (1 tolerated findings)"
    assert verdict.get_attribute("data-verdict") == "pass"
    assert shown_rows(browser) == [("guid_changed", USER)]
    assert "No: no IMAP or POP3 client would re-download mail" in browser.find_element(By.TAG_NAME, "body").text
    # self-contained: the page fetched nothing (its policy would have refused it anyway)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_the_failing_report_shows_its_verdict_and_every_finding(browser):
    open_report(browser, "failing")
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.text.startswith(f"FAIL: html: step failed: my script {HOSTILE}; findings: ")
    assert verdict.get_attribute("data-verdict") == "fail"
    assert shown_rows(browser) == [("missing", USER), ("uidvalidity_changed", USER), ("flags_changed", OTHER),
                                   ("uidl_changed", OTHER)]
    assert browser.title == "maillab: html: fail"  # the scenario's <script> was shown, not run


def test_choosing_a_class_and_a_user_hides_the_other_findings(browser):
    open_report(browser, "failing")
    by_class = Select(browser.find_element(By.ID, "filter-class"))
    by_user = Select(browser.find_element(By.ID, "filter-user"))
    count = browser.find_element(By.ID, "findings-shown")
    by_class.select_by_value("missing")
    assert shown_rows(browser) == [("missing", USER)]
    assert count.text == "1 of 4 findings shown"
    by_class.select_by_value("")
    by_user.select_by_value(OTHER)
    assert shown_rows(browser) == [("flags_changed", OTHER), ("uidl_changed", OTHER)]
    by_class.select_by_value("uidl_changed")
    assert shown_rows(browser) == [("uidl_changed", OTHER)]
    by_class.select_by_value("missing")  # a class the user has none of
    assert shown_rows(browser) == [] and count.text == "0 of 4 findings shown"
