"""What `maillab capture` writes and how it talks TLS, without a server (runner/capture.py)."""

from __future__ import annotations

import datetime as dt
import inspect
import os
import stat

import pytest
from sievelib.managesieve import Client as ManageSieveClient

from maillab.runner.entry.capture import MaildirWriter, _ManageSieve


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_captured_mail_is_private_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        writer = MaildirWriter(tmp_path / "mail")
        writer.user("a@example.org")
        for name in ("INBOX", "Archive/2023"):
            folder = writer.folder(name)
            folder.write(1, b"Subject: s\n\nbody\n", ["\\Seen", "$Label1"], dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
            folder.close()
    finally:
        os.umask(old)
    written = [tmp_path / "mail", *(tmp_path / "mail").rglob("*")]
    modes = {str(path.relative_to(tmp_path)): stat.S_IMODE(path.lstat().st_mode) for path in written}
    assert any(name.endswith("dovecot-keywords") for name in modes) and any("/cur/" in name for name in modes)
    assert {name: mode for name, mode in modes.items()
            if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)} == {}


def test_managesieve_starttls_goes_through_the_captures_verifying_context():
    """sievelib before 1.4.3 wraps the socket in STARTTLS itself (before 1.4.1 without
    verifying); from 1.4.3 on it calls __enable_ssl, which the capture's client replaces."""
    assert "_Client__enable_ssl" in vars(_ManageSieve)
    assert "__enable_ssl" in inspect.getsource(ManageSieveClient._Client__starttls)
