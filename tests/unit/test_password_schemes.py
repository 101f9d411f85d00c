"""Password schemes (docs/password-schemes.md): which log lines name which user's failed login,
the reason each login_failed finding carries, how a hash is stored, and what a host's drop-in
says. The lines are Dovecot's own, as the lab logged them (2.4.1 on trixie, 2.3.19 on bookworm)."""

import pytest

from maillab.lab.containers import dovecot_settings
from maillab.runner.rehearsal.compare import compare
from maillab.runner.rehearsal.on_disk import UsersOnDisk
from maillab.runner.rehearsal.seed import stored_hash
from maillab.runner.rehearsal.snapshot import _with_reasons, login_reasons
from maillab.runner.rehearsal.state import HostState, UserState
from maillab.runner.schema.scenario import HostSpec

from .states import state

WEAK = ("Dec 04 23:55:31 auth-worker(md5@example.org,172.18.0.1)<239><Eo2BnNdh6N5/AAAB>: request [1]: Error: sql: "
        "Invalid password in passdb: Weak password scheme 'MD5-CRYPT' used and refused")
WEAK_PASSWD_FILE = ("Dec 04 23:37:50 auth(md5@example.org,sasl:plain): Error: passwd-file: Invalid password in passdb: "
                    "Weak password scheme 'MD5-CRYPT' used and refused")
LOGIN_24 = ("Dec 04 23:55:34 imap-login: Info: Login aborted: Logged out (auth service reported temporary failure, "
            "1 attempts in 3 secs) (temp_fail): user=<md5@example.org>, method=PLAIN, rip=172.18.0.1, "
            "lip=172.18.0.3, secured, session=<Eo2BnNdh6N5/AAAB>")
LOGIN_23 = ("Dec 04 23:37:52 imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<b@example.org>, "
            "method=PLAIN, rip=172.18.0.1, lip=172.18.0.3, session=<Cd2>")
MISMATCH_23 = "Dec 04 23:37:52 auth: Info: passwd-file(b@example.org,172.18.0.1,<Cd2>): Password mismatch"
OTHER = "Dec 04 23:37:53 imap(ok@example.org)<7<Ef3>: Logged out in=12 out=345"
SUPERVISOR = "2026-12-04 23:37:50,770 INFO spawned: 'dovecot' with pid 67"

# (case, the log, the users asked about, the reasons that must come out)
CASES = [
    ("2.4's weak-scheme refusal wins over the login process's line", [WEAK, LOGIN_24],
     ["md5@example.org"], {"md5@example.org": WEAK[16:]}),
    ("2.4's refusal of a passwd-file user", [WEAK_PASSWD_FILE, LOGIN_24],
     ["md5@example.org"], {"md5@example.org": WEAK_PASSWD_FILE[16:]}),
    ("2.4's login process alone", [LOGIN_24], ["md5@example.org"], {"md5@example.org": LOGIN_24[16:]}),
    ("2.3 without auth_verbose: only the login process says it", [SUPERVISOR, LOGIN_23],
     ["b@example.org"], {"b@example.org": LOGIN_23[16:]}),
    ("2.3 with auth_verbose: the auth service's line", [MISMATCH_23, LOGIN_23],
     ["b@example.org"], {"b@example.org": MISMATCH_23[16:]}),
    ("each user gets its own lines, a repeated line once", [WEAK, LOGIN_23, WEAK, OTHER],
     ["md5@example.org", "b@example.org"], {"md5@example.org": WEAK[16:], "b@example.org": LOGIN_23[16:]}),
    ("a user the log does not name gets nothing", [WEAK, OTHER], ["ok@example.org"], {}),
    ("a user who is only a prefix of another is not named", [WEAK], ["d5@example.org"], {}),
]


@pytest.mark.parametrize(("log", "users", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_log_lines_name_the_users_whose_login_failed(log, users, expected):
    assert login_reasons("\n".join(log) + "\n", users) == expected


class LoggingHost:
    role = "new"

    def __init__(self, log: str) -> None:
        self.log = log
        self.since: list[float] = []

    def logs(self, since: float | None = None) -> str:
        self.since.append(since)
        return self.log


def stored(users) -> UsersOnDisk:
    """The users as a snapshot keeps them."""
    store = UsersOnDisk()
    for user in users:
        store.put(user)
    return store


def test_every_failed_login_carries_what_the_log_says_and_every_user_is_a_finding():
    refused = "b'[AUTHENTICATIONFAILED] Authentication failed.'"
    addresses = [f"u{n}@example.org" for n in range(5)]
    log = "\n".join(WEAK.replace("md5@", f"u{n}@") for n in range(4))  # the log names all but the last
    host = LoggingHost(log)
    users = _with_reasons(host, stored(UserState(address=a, login_error=refused) for a in addresses), addresses,
                          started=100.0, unknown=set())
    assert host.since == [99.0]
    assert users["u0@example.org"].login_error == (f"{refused}; new's log: auth-worker(u0@example.org,172.18.0.1)"
                                                    "<239><Eo2BnNdh6N5/AAAB>: request [1]: Error: sql: Invalid "
                                                    "password in passdb: Weak password scheme 'MD5-CRYPT' used and "
                                                    "refused")
    assert users["u4@example.org"].login_error == f"{refused}; new's log: no line about this user"
    old = HostState(role="old", users={a: state().users["a@example.org"].model_copy(update={"address": a})
                                       for a in addresses}, user_db={})
    findings = compare(old, HostState(role="new", users=users, user_db={}))
    assert [(f.kind, f.user) for f in findings] == [("login_failed", a) for a in addresses]
    assert findings[0].detail.startswith("5 messages out of reach: b'[AUTHENTICATIONFAILED]")
    assert findings[0].detail.endswith("Weak password scheme 'MD5-CRYPT' used and refused")


def test_nothing_is_read_when_every_login_worked():
    host = LoggingHost("")
    users = stored([UserState(address="a@example.org")])
    assert _with_reasons(host, users, [], started=5.0, unknown=set()) is users and host.since == []


@pytest.mark.parametrize(("prefix", "stored"), [(True, "{MD5-CRYPT}$1$salt$hash"), (False, "$1$salt$hash")])
def test_a_hash_is_stored_with_its_scheme_or_bare(prefix, stored):
    assert stored_hash(HostSpec(suite="bookworm", password_prefix=prefix), "{MD5-CRYPT}$1$salt$hash") == stored


@pytest.mark.parametrize(("spec", "lines"), [
    (HostSpec(suite="trixie", allow_weak_schemes=True), ["auth_allow_weak_schemes = yes"]),
    (HostSpec(suite="trixie"), []),  # no drop-in: the image's entrypoint starts the host as ever
])
def test_a_host_gets_the_settings_its_spec_asks_for(spec, lines):
    assert dovecot_settings(spec) == lines


def test_a_user_the_userdb_does_not_know_is_not_looked_for_in_the_log_and_is_a_login_failure():
    host = LoggingHost("")
    unknown = UserState(address="a@example.org", login_error="new's userdb does not know the user "
                                                              "(doveadm user: user doesn't exist)")
    users = _with_reasons(host, stored([unknown]), ["a@example.org"], started=5.0, unknown={"a@example.org"})
    assert users == {"a@example.org": unknown} and host.since == []
    old = HostState(role="old", users={"a@example.org": state().users["a@example.org"]}, user_db={})
    [finding] = compare(old, HostState(role="new", users=users, user_db={}))
    assert (finding.kind, finding.detail) == ("login_failed", "5 messages out of reach: new's userdb does not know "
                                                              "the user (doveadm user: user doesn't exist)")
