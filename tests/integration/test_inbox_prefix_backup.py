"""`doveadm backup` into a Courier-style `INBOX.` namespace, by the suite new runs: the Dovecot
behaviour docs/own-server.md ("Capture the configuration") names, measured on the lab's own
configuration (tests/integration/scenarios/capture-source.yaml on both hosts, empty homes on
new). Dovecot 2.3.15 to 2.3.19 (bookworm) open the namespace's prefix, INBOX, while listing
new's folders, which makes it with a GUID and UIDVALIDITY of its own; a backup then deletes
it to take old's, and INBOX cannot be deleted. 2.3.13 (bullseye) does not list the prefix,
2.4 (trixie) skips a folder not yet made, and `sync -1` never deletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import maillab

SOURCE = Path(__file__).parent / "scenarios" / "capture-source.yaml"
SYNC_1 = "{method: doveadm_backup, command: sync, one_way: true}"
BACKUP = "method: doveadm_backup"
INBOX_REFUSED = "Error: Mailbox INBOX sync: mailbox_delete failed: INBOX can't be deleted."

# suite of both hosts, the step -> exit code of the run, doveadm's exit code and its error line
CASES = [
    ("bullseye", BACKUP, 0, 0, None),
    ("bookworm", BACKUP, 1, 65, INBOX_REFUSED),
    ("bookworm", SYNC_1, 0, 0, None),
    ("trixie", BACKUP, 0, 0, None),
]


@pytest.mark.parametrize(("suite", "step", "code", "doveadm", "error"), CASES,
                         ids=[f"{suite} {'sync -1' if step == SYNC_1 else 'backup'}" for suite, step, *_ in CASES])
def test_backup_into_an_inbox_prefix_by_suite(tmp_path, suite, step, code, doveadm, error):
    text = SOURCE.read_text()
    assert SYNC_1 in text and "suite: bookworm" in text
    (tmp_path / "s.yaml").write_text(text.replace(SYNC_1, step).replace("suite: bookworm", f"suite: {suite}"))
    run = maillab("run", str(tmp_path / "s.yaml"), "--report-dir", str(tmp_path / "report"))
    assert run.returncode == code, run.stdout[-3000:] + run.stderr
    # the first copy (a passing run copies again to show it is idempotent)
    sync = next(s for s in json.loads((tmp_path / "report" / "report.json").read_text())["steps"]
                if s["command"].startswith("doveadm"))
    assert sync["exit_code"] == doveadm, sync
    lines = sync["output"].splitlines()
    if error:  # every user: two of them
        assert len(lines) == 2 and all(line.endswith(f": {error}") for line in lines), sync["output"]
    else:
        assert "Error" not in sync["output"], sync["output"]
