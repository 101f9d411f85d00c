"""`maillab compose-env`'s env file and seed bundle (no Docker): values quoted the way both
Compose versions read them alike, mode 0600, nothing replaced without --force."""

import io
import stat
import tarfile

import pytest

from maillab.runner.entry.compose_env import (
    DEFAULT_SCENARIO, ComposeEnvError, bundle_path, check_hosts, env_line, write_compose_env,
)
from maillab.runner.schema.loader import load_scenario

SCENARIO = load_scenario(DEFAULT_SCENARIO)


@pytest.mark.parametrize(("value", "line"), [
    ("aB3_-x", "A=aB3_-x\n"),  # a generated secret
    ("alice@example.org", "A=alice@example.org\n"),
    ("/srv/lab/.env.seed", "A=/srv/lab/.env.seed\n"),
    ("/tmp/training lab/.env.seed", "A='/tmp/training lab/.env.seed'\n"),  # a space ends an unquoted value
    ("/tmp/$HOME/x", "A='/tmp/$HOME/x'\n"),  # no interpolation inside single quotes
    ("/tmp/a #1", "A='/tmp/a #1'\n"),  # nor a comment
    ("", "A=\n"),
])
def test_values_are_plain_or_in_single_quotes(value, line):
    assert env_line("A", value) == line


@pytest.mark.parametrize("value", ["it's", "C:\\lab", "two\nlines", "cr\r"])
def test_a_value_the_two_versions_would_read_differently_is_refused(value):
    with pytest.raises(ComposeEnvError, match="^A: "):
        env_line("A", value)


def test_the_env_file_is_private_and_names_every_user_with_a_password(tmp_path):
    written = write_compose_env(tmp_path / ".env", SCENARIO)
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if line[:1] != "#")
    assert lines["MAILLAB_LAB"] == lines["COMPOSE_PROJECT_NAME"] == written.lab_id
    assert lines["MAILLAB_SEED"] == str(bundle_path(tmp_path / ".env")) == str(tmp_path / ".env.seed")
    for n, user in enumerate(SCENARIO.users, start=1):
        assert lines[f"MAILLAB_USER_{n}"] == user.address
        assert lines[f"MAILLAB_USER_{n}_PASSWORD"] == written.passwords[user.address]
    assert all(lines[name] for name in ("MAILLAB_DOVEADM_PASSWORD", "MAILLAB_DB_PASSWORD", "MAILLAB_PROBE_PASSWORD"))
    for password in written.passwords.values():  # only hashes reach the bundle
        assert password not in (written.bundle / "users.sql").read_text()


def test_the_bundle_holds_every_message_and_subscription(tmp_path):
    written = write_compose_env(tmp_path / ".env", SCENARIO)
    assert written.messages == SCENARIO.message_count
    # one tar per user, one after the other (maillab-seed unpacks it with --ignore-zeros)
    with tarfile.open(fileobj=io.BytesIO((written.bundle / "mail.tar").read_bytes()), ignore_zeros=True) as tar:
        mail = [member for member in tar.getmembers() if "/Maildir/" in member.name and "/cur/" in member.name]
    assert len(mail) == SCENARIO.message_count
    subscriptions = (written.bundle / "subscriptions").read_text().splitlines()
    assert "alice@example.org\tArchive/2023" in subscriptions
    assert "alice@example.org\tEmpty" not in subscriptions  # subscribed: false
    sql = (written.bundle / "users.sql").read_text()
    assert sql.count("INSERT INTO virtual_users ") == len(SCENARIO.users)


@pytest.mark.parametrize("existing", [".env", ".env.seed"])
def test_nothing_is_replaced_without_force(tmp_path, existing):
    first = write_compose_env(tmp_path / ".env", SCENARIO)
    text = (tmp_path / ".env").read_text()
    if existing == ".env.seed":
        (tmp_path / ".env").unlink()
    with pytest.raises(ComposeEnvError, match=f"^{tmp_path / existing} exists: give --force"):
        write_compose_env(tmp_path / ".env", SCENARIO)
    if existing == ".env":
        assert (tmp_path / ".env").read_text() == text
    again = write_compose_env(tmp_path / ".env", SCENARIO, force=True)
    assert again.lab_id != first.lab_id
    assert (tmp_path / ".env").read_text() != text


def test_a_scenario_whose_hosts_compose_does_not_start_is_refused():
    other = SCENARIO.model_copy(update={"hosts": SCENARIO.hosts | {
        "old": SCENARIO.hosts["old"].model_copy(update={"mail_format": "mdbox"})}})
    with pytest.raises(ComposeEnvError, match="hosts.old.mail_format is 'mdbox', compose.yaml's old has 'maildir'"):
        check_hosts(other)
