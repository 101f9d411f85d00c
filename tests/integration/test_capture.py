"""`maillab capture` against a real lab host: capture its users over the published IMAP and
ManageSieve ports, rehearse the captured scenario, and compare shapes (folders, hierarchy,
counts, flag and keyword shares, subscriptions, Sieve names); the host is unchanged by the
capture, down to \\Seen and \\Recent. `capture --config` reads its configuration over the
published ssh port (the fixture `captured_config` is the folder it writes). One host
(scenarios/capture-source.yaml) serves every test."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import asyncssh
import pytest
import trustme

from maillab.lab.command import Command
from maillab.lab.engine import engine_address
from maillab.lab.lab import Lab
from maillab.runner.methods import imapc
from maillab.runner.methods.context import MigrationContext
from maillab.runner.methods.ssh_root_key import KeyPair, authorize_key
from maillab.runner.rehearsal.phases import Rehearsal, prepare
from maillab.runner.rehearsal.snapshot import snapshot_host
from maillab.runner.rehearsal.state import HostState, UserState
from maillab.runner.schema.loader import load_scenario
from maillab.runner.schema.sources import source_messages
from maillab.runner.schema.steps import Imapc

from .conftest import maillab

pytestmark = pytest.mark.xdist_group("capture")  # one lab for the module; its last tests change the host
SOURCE = Path(__file__).parent / "scenarios" / "capture-source.yaml"
EMIL = "emil@example.com"
JUNK = (EMIL, "INBOX.Junk")  # 4 messages, \Recent after seeding


class Captured:
    """The lab host that is captured, with its users' passwords and a master user."""

    def __init__(self, lab: Lab, rehearsal: Rehearsal, ca: str) -> None:
        self.lab, self.host, self.passwords, self.ca = lab, lab["old"], rehearsal.passwords, ca
        self.before = rehearsal.baseline  # the host as seeded, before any capture
        # Seeded mail is \Recent until a session SELECTs its folder; INBOX's was taken by the
        # baseline's POP3 session (Dovecot's POP3 opens INBOX read-write).
        self.recent_before = self.recent()
        assert (self.recent_before[JUNK], self.recent_before[EMIL, "INBOX"]) == (4, 0)
        context = MigrationContext(lab, rehearsal.scenario, self.passwords)
        assert imapc.set_up_source(Imapc(method="imapc", auth="master_user"), context).ok
        self.master_password = context.secret("master_user")

    def recent(self) -> dict[tuple[str, str], int]:
        """STATUS RECENT of every folder: a SELECT (not EXAMINE) would take \\Recent away."""
        counts = {}
        for address, password in self.passwords.items():
            with self.host.imap(address, password) as imap:
                for flags, _, name in imap.list_folders():
                    if b"\\Noselect" not in flags:
                        counts[address, name] = imap.folder_status(name, ["RECENT"])[b"RECENT"]
        return counts

    def unchanged(self) -> list[str]:
        """What differs on the host from before the captures (empty: nothing)."""
        after = snapshot_host(self.host, self.passwords)
        differences = [f"{address}: snapshot differs" for address, user in after.users.items()
                       if user != self.before.users[address]]
        recent = self.recent()
        return differences + [f"{where}: RECENT {self.recent_before[where]} -> {count}"
                              for where, count in recent.items() if count != self.recent_before[where]]

    def capture(self, tmp_path: Path, *args: str, password: str | None = None, tls: str = "none"):
        (tmp_path / "password").write_text((password or self.master_password) + "\n")
        return maillab("capture", "127.0.0.1", "--port", str(self.host.port("imap")), "--tls", tls,
                       "--sieve-port", str(self.host.port("sieve")), "--password-file", str(tmp_path / "password"),
                       *args)


@pytest.fixture(scope="module")
def captured(images):
    scenario = load_scenario(SOURCE)
    ca = trustme.CA(organization_name="maillab capture test CA")
    served = ca.issue_cert("127.0.0.1")  # IMAP and ManageSieve STARTTLS, for the name the capture connects to
    chain = "".join(pem.bytes().decode() for pem in served.cert_chain_pems)
    lab = Lab({"old": scenario.hosts["old"]}, tls={"old": (chain, served.private_key_pem.bytes().decode())})
    try:
        rehearsal = Rehearsal(scenario=scenario)
        prepare(lab, scenario, rehearsal, ca="")  # create, seed, baseline
        yield Captured(lab, rehearsal, ca.cert_pem.bytes().decode())
    finally:
        lab.destroy()


def shares(counts: Counter, total: int) -> dict[str, float]:
    return {name: count / total for name, count in counts.items()}


def shape(user: UserState) -> dict:
    """What a capture promises to reproduce of a user's mailbox."""
    folders = {}
    for name, folder in user.folders.items():
        flags = Counter(flag for m in folder.messages for flag in m.flags)
        keywords = Counter(keyword for m in folder.messages for keyword in m.keywords)
        count = len(folder.messages)
        folders[name] = {"selectable": folder.selectable, "count": count, "flags": shares(flags, count),
                         "keywords": shares(keywords, count)}
    sieve = (sorted(user.sieve.scripts), user.sieve.active)
    return {"folders": folders, "subscriptions": user.subscriptions, "sieve": sieve}


def shape_differences(original: UserState, rehearsed: UserState) -> list[str]:
    """How the rehearsal's user differs in shape from the captured one. Shares are compared
    within sampling error: the lab gives each generated message a flag with the captured
    share as its probability, so a folder of n messages is off by about sqrt(p(1-p)/n)
    (4 standard deviations allowed, plus the 4 digits the scenario keeps)."""
    a, b = shape(original), shape(rehearsed)
    differences = [f"{what}: {a[what]} != {b[what]}" for what in ("subscriptions", "sieve") if a[what] != b[what]]
    if set(a["folders"]) != set(b["folders"]):
        return [*differences, f"folders: {sorted(a['folders'])} != {sorted(b['folders'])}"]
    for name, folder in a["folders"].items():
        other = b["folders"][name]
        for what in ("selectable", "count"):
            if folder[what] != other[what]:
                differences.append(f"{name}: {what} {folder[what]} != {other[what]}")
        for kind in ("flags", "keywords"):
            for flag in set(folder[kind]) | set(other[kind]):
                p, q, n = folder[kind].get(flag, 0), other[kind].get(flag, 0), max(folder["count"], 1)
                if abs(p - q) > 4 * math.sqrt(p * (1 - p) / n) + 1e-4:
                    differences.append(f"{name}: share of {flag} {p:.3f} != {q:.3f}")
    return differences


def test_capture_then_rehearse_gives_the_same_shape(captured, tmp_path):
    addresses = list(captured.passwords)
    (tmp_path / "users").write_text("".join(f"{address}\n" for address in addresses))
    run = captured.capture(tmp_path, "--users-file", str(tmp_path / "users"), "--master-user", imapc.MASTER_USER,
                           "--out", str(tmp_path / "captured.yaml"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "EXAMINE and FETCH FLAGS INTERNALDATE RFC822.SIZE, read-only" in run.stdout
    # Dovecot adds Drafts, Sent, Trash and Junk (Debian's 15-mailboxes.conf: auto = subscribe)
    folders = sum(folder.selectable for user in captured.before.users.values() for folder in user.folders.values())
    messages = captured.before.message_count
    assert f"captured 2 users, {folders} folders, {messages} messages, 2 Sieve script names" in run.stdout
    assert captured.unchanged() == []
    text = (tmp_path / "captured.yaml").read_text()
    assert not any(address in text for address in addresses), "no address leaves the server"
    assert not any(script in text for script in ("newsletter", "I am away")), "nor a Sieve script"

    rehearsal = maillab("run", str(tmp_path / "captured.yaml"), "--report-dir", str(tmp_path / "report"))
    assert rehearsal.returncode == 0, rehearsal.stdout[-3000:] + rehearsal.stderr
    seeded = HostState.model_validate(json.loads((tmp_path / "report" / "snapshot-old.json").read_text()))
    for n, address in enumerate(addresses, start=1):
        assert shape_differences(captured.before.users[address], seeded.users[f"user{n}@example.org"]) == []


def folders_and_counts(user: UserState) -> dict[str, int]:
    """What a rehearsal on the captured configuration must serve as the captured host did."""
    return {name: len(folder.messages) for name, folder in user.folders.items()}


def broken(user: UserState, how: str) -> UserState:
    user = user.model_copy(deep=True)
    inbox = user.folders["INBOX"]
    if how == "a folder fewer":
        del user.folders["Sent"]
    elif how == "a message fewer":
        inbox.messages.pop()
    elif how == "a subscription fewer":
        user.subscriptions.remove("Sent")
    elif how == "flags that differ":
        for message in inbox.messages:
            message.flags = ["\\Seen"]
    elif how == "a Sieve script fewer":
        user.sieve.scripts.popitem()
    return user


@pytest.mark.parametrize("how", ["a folder fewer", "a message fewer", "a subscription fewer", "flags that differ",
                                 "a Sieve script fewer"])
def test_the_shape_comparison_sees_each_difference(captured, how):
    original = captured.before.users["dora@example.org"]
    assert shape_differences(original, original) == []
    assert shape_differences(original, broken(original, how))
    if how in ("a folder fewer", "a message fewer"):
        assert folders_and_counts(broken(original, how)) != folders_and_counts(original)


def test_one_user_with_content_and_addresses_kept(captured, tmp_path):
    address = "dora@example.org"
    run = captured.capture(tmp_path, "--user", address, "--keep-addresses", "--with-content", str(tmp_path / "mail"),
                           "--out", str(tmp_path / "captured.yaml"), password=captured.passwords[address])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FETCH FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[], read-only" in run.stdout
    assert captured.unchanged() == [], "BODY.PEEK[] sets no \\Seen"
    [user] = load_scenario(tmp_path / "captured.yaml").users  # the loader finds the exported tree
    assert user.address == address and user.import_.maildir == f"mail/{address}"
    selectable = [folder for folder in captured.before.users[address].folders.values() if folder.selectable]
    assert {folder.name: folder.source.kind for folder in user.folders} == {f.name: "maildir" for f in selectable}
    sources = {folder.name: folder.source for folder in user.folders}
    for folder in selectable:  # as seeding reads the files: bytes, flags, keywords and dates as on the server
        exported = source_messages(sources[folder.name])
        assert [(hashlib.sha256(m.raw).hexdigest(), sorted(m.flags), sorted(m.keywords), m.internaldate)
                for m in exported] == [(m.sha256, sorted(m.flags), sorted(m.keywords), m.internaldate)
                                       for m in folder.messages]


def test_the_check_of_an_unchanged_host_sees_a_select(captured):
    """A client that SELECTs a folder takes its messages' \\Recent: what a capture must not do."""
    with captured.host.imap(EMIL, captured.passwords[EMIL]) as imap:
        imap.select_folder(JUNK[1])
    assert captured.unchanged() == [f"{JUNK}: RECENT 4 -> 0"]


BAD_INPUT = [
    ([], "give --user or --users-file"),
    (["--user", "a@example.org", "--user", "b@example.org"], "several users are read with one password"),
    (["--user", "a@example.org", "--ca-file", "README.md"], "--ca-file goes with --tls implicit or starttls"),
    (["--user", "a@example.org", "--with-content", "scenarios"], "give a new or empty directory"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) or "no user" for a, _ in BAD_INPUT])
def test_bad_capture_input_is_one_line_and_exit_2(captured, tmp_path, args, message):
    run = captured.capture(tmp_path, "--out", str(tmp_path / "captured.yaml"), *args)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_refused_login_and_an_unreachable_host_are_exit_3(captured, tmp_path):
    refused = captured.capture(tmp_path, "--user", "dora@example.org", "--out", str(tmp_path / "c.yaml"),
                               password="wrong")
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("maillab: 127.0.0.1 refused the login of dora@example.org: "
                                     "[AUTHENTICATIONFAILED]") and len(refused.stderr.splitlines()) == 1
    (tmp_path / "password").write_text("x\n")
    unreachable = maillab("capture", "127.0.0.1", "--port", "9", "--tls", "none", "--user", "a@example.org",
                          "--password-file", str(tmp_path / "password"), "--out", str(tmp_path / "c.yaml"))
    assert unreachable.returncode == 3, unreachable.stderr
    assert unreachable.stderr == "maillab: cannot reach 127.0.0.1:9 (TLS: none): [Errno 111] Connection refused\n"
    assert not (tmp_path / "c.yaml").exists()


# --tls, whether the test's CA is trusted (--ca-file) -> exit code, and what stdout or the error line says
TLS = [
    ("starttls", True, 0, "captured 1 user, {folders} folders, {messages} messages, 2 Sieve script names"),
    ("starttls", False, 3, "maillab: 127.0.0.1:{port}: [SSL: CERTIFICATE_VERIFY_FAILED]"),
    ("implicit", True, 3, "maillab: cannot reach 127.0.0.1:{port} (TLS: implicit): [SSL"),
]


@pytest.mark.parametrize(("tls", "trusted", "code", "said"), TLS,
                         ids=[f"{tls}{' --ca-file' if trusted else ''}" for tls, trusted, _, _ in TLS])
def test_tls_is_verified(captured, tmp_path, tls, trusted, code, said):
    """STARTTLS on IMAP and ManageSieve with the certificate verified by the CA given; without
    it, or with TLS expected from the first byte of a port that starts in cleartext, exit 3."""
    (tmp_path / "ca.pem").write_text(captured.ca)
    address = "dora@example.org"
    run = captured.capture(tmp_path, "--user", address, "--out", str(tmp_path / "c.yaml"),
                           *(["--ca-file", str(tmp_path / "ca.pem")] if trusted else []),
                           password=captured.passwords[address], tls=tls)
    assert run.returncode == code, run.stdout + run.stderr
    assert code == 0 or len(run.stderr.splitlines()) == 1, run.stderr  # (a capture logs each folder it reads)
    output = run.stdout if code == 0 else run.stderr
    folders = captured.before.users[address].folders.values()
    assert said.format(port=captured.host.port("imap"), folders=sum(f.selectable for f in folders),
                       messages=sum(len(f.messages) for f in folders)) in output, output


def test_what_the_lab_cannot_hold_is_written_and_named(captured, tmp_path):
    """A Sieve script name ManageSieve takes and the scenario does not (a space): the scenario
    is written as the server has it, and the capture names the line the loader refuses."""
    with captured.host.managesieve(EMIL, captured.passwords[EMIL]) as sieve:
        assert sieve.putscript("my filter", "keep;\n")
    run = captured.capture(tmp_path, "--user", EMIL, "--out", str(tmp_path / "c.yaml"),
                           password=captured.passwords[EMIL])
    assert run.returncode == 0, run.stdout + run.stderr
    line = next(n for n, text in enumerate((tmp_path / "c.yaml").read_text().splitlines(), 1) if "my filter" in text)
    assert run.stderr.strip().splitlines()[-1] == (
        f"maillab: the lab cannot rehearse it as written: {tmp_path / 'c.yaml'}:{line}: "
        "users[0].sieve.scripts.my filter: 'my filter' is not a plain name (letters, digits, '.', '_', '-'; "
        "at most 64; no '..')")


# -- capture --config: the host's Dovecot and Postfix configuration over ssh ------------------
class Ssh:
    """Root's ssh on the captured host, as an admin has it: a key the host trusts and a
    known_hosts with the host's key, for the address and port the forwarder publishes."""

    def __init__(self, captured: Captured, directory: Path) -> None:
        key = asyncssh.generate_private_key("ssh-ed25519", comment="maillab-capture-test")
        authorize_key(captured.host, KeyPair(key.export_public_key().decode().strip(), key.export_private_key()))
        self.key, self.known_hosts = directory / "id_ed25519", directory / "known_hosts"
        self.key.write_bytes(key.export_private_key())
        self.key.chmod(0o600)
        self.address, self.port = engine_address(), captured.host.port("ssh")
        host_key = " ".join(captured.host.read_file("/etc/ssh/ssh_host_ed25519_key.pub").decode().split()[:2])
        self.known_hosts.write_text(f"[{self.address}]:{self.port} {host_key}\n")

    def capture(self, out: Path, *args: str, known_hosts: Path | None = None, key: Path | None = None):
        return maillab("capture", "--config", "--ssh-key", str(key or self.key), "--known-hosts",
                       str(known_hosts or self.known_hosts), "--out", str(out), *args, f"{self.address}:{self.port}")


def config_files(host) -> str:
    """Every file under the host's /etc/dovecot and /etc/postfix with its checksum and mtime."""
    return host.run_checked(Command.of("find", "/etc/dovecot", "/etc/postfix", "-type", "f", "-printf", "%p %T@\\n",
                                       "-exec", "sha256sum", "{}", "+"), "listing the configuration").stdout


@pytest.fixture(scope="module")
def ssh(captured, tmp_path_factory):
    return Ssh(captured, tmp_path_factory.mktemp("ssh"))


@pytest.fixture(scope="module")
def captured_config(captured, ssh, tmp_path_factory) -> Path:
    """The config folder `capture --config` writes of the kept lab's old host (the folder a
    rehearsal with `hosts.old.config` takes), after checking the host was not changed."""
    before = config_files(captured.host)
    out = tmp_path_factory.mktemp("config") / "old"
    run = ssh.capture(out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"from {ssh.address}:{ssh.port} (read-only; secrets replaced by @MAILLAB_SECRET@)" in run.stdout
    assert config_files(captured.host) == before
    return out


def test_capture_config_writes_the_hosts_configuration(captured_config):
    written = {str(path.relative_to(captured_config)) for path in captured_config.rglob("*") if path.is_file()}
    # the lab's host: dovecot.conf includes maillab.d/*.conf (its conf.d); 2.3's SQL user store
    assert {"dovecot/dovecot.conf", "dovecot/maillab.d/20-userstore.conf", "dovecot/maillab.d/90-secrets.conf",
            "dovecot/dovecot-sql.conf.ext", "dovecot/maillab-probe.passwd", "postfix/main.cf", "postfix/master.cf",
            "postfix/mysql-virtual-mailbox-domains.cf", "postfix/mysql-email2email.cf", "doveconf-n.txt",
            "postconf-n.txt", "postconf-M.txt"} <= written, sorted(written)
    assert "password=@MAILLAB_SECRET@" in (captured_config / "dovecot/dovecot-sql.conf.ext").read_text()
    assert (captured_config / "dovecot/maillab.d/90-secrets.conf").read_text() == "doveadm_password = @MAILLAB_SECRET@\n"
    skipped = (captured_config / "skipped.txt").read_text()
    # named by Dovecot's ssl_key and Postfix's smtpd_tls_key_file; listed once, by the first
    [key] = [line for line in skipped.splitlines() if line.startswith("/etc/letsencrypt/live/mail/privkey.pem ")]
    assert key.endswith("): a private key, never copied"), skipped


def test_the_captured_folder_holds_no_password_of_the_host(captured, captured_config):
    secrets = captured.host.secrets
    tls_key = captured.host.read_file("/etc/letsencrypt/live/mail/privkey.pem").decode().splitlines()[1]
    everything = b"".join(path.read_bytes() for path in captured_config.rglob("*") if path.is_file())
    assert everything and [name for name, secret in (("doveadm", secrets.doveadm), ("database", secrets.db),
                                                     ("probe", secrets.probe), ("TLS key", tls_key),
                                                     ("master user", captured.master_password))
                           if secret.encode() in everything] == []


def test_a_rehearsal_on_the_captured_configuration_serves_the_same(captured, captured_config, tmp_path):
    """The captured folder as `hosts.old.config`: old runs the captured configuration (its
    placeholders given the lab's own secrets), the rehearsal passes, and old serves the same
    folders and counts as the host that was captured."""
    scenario = SOURCE.read_text().replace("old: {suite: bookworm, namespace: courier}",
                                          f"old: {{suite: bookworm, namespace: courier, config: {captured_config}}}")
    assert str(captured_config) in scenario
    (tmp_path / "s.yaml").write_text(scenario)
    run = maillab("run", str(tmp_path / "s.yaml"), "--report-dir", str(tmp_path / "report"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    own = json.loads((tmp_path / "report" / "report.json").read_text())["own_config"]["old"]
    assert own["folder"] == str(captured_config) and own["refused"] == [], own
    # the placeholders: the lab's doveadm password and its database's account
    assert "doveadm_password: the lab's, for the tcp methods (doveadm sync over tcp:HOST:12345)" in own["added"]
    assert "dovecot/dovecot-sql.conf.ext:2: connect: host=127.0.0.1 user=mailserver password=(the lab's)" \
        in own["changed"], own["changed"]
    served = HostState.model_validate(json.loads((tmp_path / "report" / "snapshot-old.json").read_text()))
    assert {address: folders_and_counts(user) for address, user in served.users.items()} == \
        {address: folders_and_counts(user) for address, user in captured.before.users.items()}


def test_an_unknown_host_key_a_refused_key_and_no_sshd_are_exit_3(captured, ssh, tmp_path):
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "known_hosts").write_text(f"[{ssh.address}]:{ssh.port} {stranger.export_public_key().decode()}")
    (tmp_path / "key").write_bytes(stranger.export_private_key())
    (tmp_path / "key").chmod(0o600)
    cases = [(ssh.capture(tmp_path / "a", known_hosts=tmp_path / "known_hosts"),
              f"maillab: {ssh.address}:{ssh.port}: the host key is not trusted by {tmp_path / 'known_hosts'}: "),
             (ssh.capture(tmp_path / "b", key=tmp_path / "key"), f"maillab: {ssh.address} refused the ssh login of root: "),
             (maillab("capture", "--config", "--ssh-key", str(ssh.key), "--known-hosts", str(ssh.known_hosts),
                      "--out", str(tmp_path / "c"), "127.0.0.1:9"), "maillab: cannot reach 127.0.0.1:9 over ssh: ")]
    for run, said in cases:
        assert run.returncode == 3, run.stdout + run.stderr
        assert run.stderr.startswith(said) and len(run.stderr.splitlines()) == 1, run.stderr
    assert not any((tmp_path / name).exists() for name in "abc")
