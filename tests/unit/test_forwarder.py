"""The forwarder's table (lab/forwarder.py): one port of its own per forwarded service, written
on its container as a label and read back from it (a kept lab, `maillab status`)."""

from __future__ import annotations

import pytest

from maillab.lab.forwarder import forward_table, forwards_label, read_forwards

TABLES = [
    ([], {}, ""),
    ([("old", 143)], {10000: ("old", 143)}, "10000=old:143"),
    ([("old", 25), ("new", 25), ("sender", 25)], {10000: ("old", 25), 10001: ("new", 25), 10002: ("sender", 25)},
     "10000=old:25 10001=new:25 10002=sender:25"),
]


@pytest.mark.parametrize(("targets", "table", "label"), TABLES)
def test_the_table_goes_onto_the_container_and_back(targets, table, label):
    assert forward_table(targets) == table
    assert forwards_label(table) == label
    assert read_forwards(label) == table
