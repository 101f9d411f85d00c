"""junit.xml: the steps as `converge` cases, each property's check as a `verify` case."""

from __future__ import annotations

import re

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from ..rehearsal.phases import Rehearsal
from .checks import check_rows

# What XML 1.0 cannot hold (a docker build's terminal codes in a lab error): shown as \xNN
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return NOT_XML.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def junit(rehearsal: Rehearsal) -> JUnitXml:
    suite = TestSuite(f"maillab.{rehearsal.scenario.name}")
    if rehearsal.error:
        case = TestCase("rehearsal", classname="maillab")
        case.result = [Error(_xml_text(rehearsal.error))]
        suite.add_testcase(case)
    for step in rehearsal.steps:
        case = TestCase(_xml_text(f"step: {step.step}"), classname="converge", time=step.seconds)
        if not (step.ok or step.resumed):
            case.result = [Failure(_xml_text(f"exit {step.exit_shown}: {step.meaning}"))]
        suite.add_testcase(case)
    if rehearsal.error is None:
        for prop, status, found in check_rows(rehearsal):
            case = TestCase(f"preserved: {prop}", classname="verify")
            if status == "LOST":
                case.result = [Failure(_xml_text(f"{len(found)} findings: " + "; ".join(f.one_line() for f in found[:5])))]
            elif status != "held":
                case.result = [Skipped(f"declared loss, {len(found)} findings" if found else status)]
            suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    return xml
