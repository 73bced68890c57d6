"""facteur user|domain|alias: the real binary on a temporary data_dir.

Run with /usr/bin/python3 -m pytest; the binary is $FACTEUR_BIN, by
default <repo>/build/facteur.
"""
import os
import pwd
import sqlite3
import stat
import subprocess
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt underneath: knows yescrypt

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("FACTEUR_BIN", os.path.join(REPO, "build", "facteur"))
ROOT = os.geteuid() == 0
# As root the CLI hands the database and maildirs to the configured
# unprivileged user; as anyone else it leaves them to the caller.
RUN_USER = "nobody" if ROOT else pwd.getpwuid(os.getuid()).pw_name
RUN_UID = pwd.getpwnam(RUN_USER).pw_uid


class Facteur:
    def __init__(self, tmp_path, user=RUN_USER):
        self.data = tmp_path / "data"
        self.conf = tmp_path / "facteur.conf"
        self.conf.write_text(
            "# written by test_cli.py\n"
            f"data_dir {self.data}\n"
            f"user {user}\n"
            "hostname mail.example.test\n"
            "listen smtp 127.0.0.1:2525\n")

    def run(self, *args, stdin=None):
        """Run facteur -c CONF ARGS; stdin is text, or nothing at all."""
        assert os.access(BIN, os.X_OK), f"no binary at {BIN}: build first"
        return subprocess.run(
            [BIN, "-c", str(self.conf), *args],
            input=stdin, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL if stdin is None else None)

    def ok(self, *args, stdin=None):
        p = self.run(*args, stdin=stdin)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def fails(self, code, *args, stdin=None, err=None):
        p = self.run(*args, stdin=stdin)
        assert p.returncode == code, (p.stdout, p.stderr)
        assert p.stdout == ""
        if err is not None:
            assert err in p.stderr, p.stderr
        return p.stderr

    def lines(self, *args):
        return self.ok(*args).splitlines()

    def hash_of(self, address):
        db = sqlite3.connect(f"file:{self.data / 'accounts.db'}?mode=ro",
                             uri=True)
        try:
            row = db.execute("SELECT hash FROM users WHERE address = ?",
                             (address,)).fetchone()
        finally:
            db.close()
        return row[0] if row else None

    def maildir(self, address):
        local, domain = address.split("@")
        return self.data / "mail" / domain / local


@pytest.fixture
def fct(tmp_path):
    return Facteur(tmp_path)


@pytest.fixture
def dom(fct):
    assert fct.ok("domain", "add", "example.test") == "added example.test\n"
    return fct


def password_ok(fct, address, password):
    h = fct.hash_of(address)
    return h is not None and crypt.crypt(password, h) == h


# --- domains -------------------------------------------------------------

def test_domain_add_list_del(fct):
    assert fct.ok("domain", "add", "Example.TEST") == "added example.test\n"
    fct.ok("domain", "add", "b.test")
    fct.ok("domain", "add", "a.test")
    assert fct.lines("domain", "list") == ["a.test", "b.test", "example.test"]
    fct.fails(1, "domain", "add", "EXAMPLE.test",
              err="facteur: domain: domain exists: example.test")
    assert fct.ok("domain", "del", "B.test") == "deleted b.test\n"
    fct.fails(1, "domain", "del", "b.test",
              err="facteur: domain: no such domain: b.test")
    assert fct.lines("domain", "list") == ["a.test", "example.test"]


@pytest.mark.parametrize("bad", ["a..test", "-a.test", "a b.test",
                                 "a/b.test", "../x", "a.test.", ""])
def test_domain_invalid(fct, bad):
    fct.fails(1, "domain", "add", bad, err="facteur: domain: invalid domain")


@pytest.mark.parametrize("args", [(), ("frob",), ("add",), ("add", "a", "b"),
                                  ("del",), ("list", "x")])
def test_domain_usage(fct, args):
    fct.fails(2, "domain", *args, err="usage: facteur domain")


def test_domain_del_refused_while_in_use(dom):
    dom.ok("user", "add", "alice@example.test", stdin="pw\n")
    dom.fails(1, "domain", "del", "example.test",
              err="facteur: domain: domain example.test has 1 user")
    dom.ok("user", "del", "alice@example.test")
    dom.ok("alias", "add", "info@example.test", "x@remote.test")
    dom.fails(1, "domain", "del", "example.test", err="1 alias")
    dom.ok("alias", "del", "info@example.test")
    dom.ok("domain", "del", "example.test")


# --- users ---------------------------------------------------------------

def test_user_add_creates_maildir_and_database(dom):
    out = dom.ok("user", "add", "Alice@Example.Test", stdin="s3cret\n")
    assert out == "added alice@example.test\n"
    md = dom.maildir("alice@example.test")
    for sub in ("", "tmp", "new", "cur"):
        st = os.stat(md / sub)
        assert stat.S_ISDIR(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == RUN_UID
    assert os.stat(md.parent).st_uid == RUN_UID
    assert os.stat(dom.data / "mail").st_uid == RUN_UID
    st = os.stat(dom.data / "accounts.db")
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == RUN_UID
    # yescrypt, never the clear password
    assert dom.hash_of("alice@example.test").startswith("$y$")
    assert password_ok(dom, "alice@example.test", "s3cret")
    assert not password_ok(dom, "alice@example.test", "s3cret\n")
    for f in dom.data.iterdir():
        if f.is_file():
            assert b"s3cret" not in f.read_bytes()


def test_user_password_is_the_first_line(dom):
    dom.ok("user", "add", "bob@example.test", stdin="first one\r\nsecond\n")
    assert password_ok(dom, "bob@example.test", "first one")
    dom.ok("user", "add", "carol@example.test", stdin="no newline")
    assert password_ok(dom, "carol@example.test", "no newline")


def test_user_password_errors(dom):
    dom.fails(1, "user", "add", "bob@example.test", stdin="\n",
              err="empty password")
    dom.fails(1, "user", "add", "bob@example.test", stdin="",
              err="no password")
    dom.fails(1, "user", "add", "bob@example.test", stdin=None,
              err="no password")
    dom.fails(1, "user", "add", "bob@example.test", stdin="x" * 1025 + "\n",
              err="longer than 1024")
    assert dom.lines("user", "list") == []
    assert not dom.maildir("bob@example.test").exists()


def test_user_add_errors(dom):
    dom.fails(1, "user", "add", "bob@nowhere.test", stdin="pw\n",
              err="facteur: user: no such domain: nowhere.test")
    for bad in ("bob", "@example.test", "../x@example.test",
                "a/b@example.test", ".bob@example.test", "b b@example.test",
                "x" * 65 + "@example.test"):
        dom.fails(1, "user", "add", bad, stdin="pw\n",
                  err="facteur: user: invalid address")
    dom.ok("user", "add", "bob@example.test", stdin="pw\n")
    dom.fails(1, "user", "add", "BOB@example.test", stdin="pw\n",
              err="facteur: user: user exists: bob@example.test")
    assert sorted(os.listdir(dom.data / "mail" / "example.test")) == ["bob"]


@pytest.mark.parametrize("args", [(), ("frob",), ("add",),
                                  ("add", "a@example.test", "b"),
                                  ("del",), ("passwd",),
                                  ("list", "a", "b")])
def test_user_usage(dom, args):
    dom.fails(2, "user", *args, err="usage: facteur user")


def test_user_list_passwd_del(dom):
    dom.ok("domain", "add", "other.test")
    for a in ("zed@example.test", "amy@other.test", "bob@example.test"):
        dom.ok("user", "add", a, stdin="pw\n")
    assert dom.lines("user", "list") == [
        "bob@example.test", "zed@example.test", "amy@other.test"]
    assert dom.lines("user", "list", "Example.test") == [
        "bob@example.test", "zed@example.test"]
    dom.fails(1, "user", "list", "nowhere.test", err="no such domain")

    out = dom.ok("user", "passwd", "Bob@example.test", stdin="new pw\n")
    assert "bob@example.test" in out and len(out.splitlines()) == 1
    assert password_ok(dom, "bob@example.test", "new pw")
    assert not password_ok(dom, "bob@example.test", "pw")
    dom.fails(1, "user", "passwd", "nobody@example.test", stdin="x\n",
              err="facteur: user: no such user: nobody@example.test")
    dom.fails(1, "user", "passwd", "bob@example.test", stdin="\n",
              err="empty password")
    assert password_ok(dom, "bob@example.test", "new pw")

    md = dom.maildir("bob@example.test")
    out = dom.ok("user", "del", "BOB@example.test")
    assert out == f"deleted bob@example.test (mail kept in {md})\n"
    assert (md / "new").is_dir()
    dom.fails(1, "user", "del", "bob@example.test",
              err="facteur: user: no such user: bob@example.test")
    assert dom.lines("user", "list") == ["zed@example.test", "amy@other.test"]
    # the same address again reuses the kept maildir
    dom.ok("user", "add", "bob@example.test", stdin="pw\n")


# --- aliases -------------------------------------------------------------

def test_alias_commands(dom):
    dom.ok("user", "add", "alice@example.test", stdin="pw\n")
    out = dom.ok("alias", "add", "Info@Example.test", "alice@example.test",
                 "Ops@Remote.test")
    assert out == ("added info@example.test -> alice@example.test, "
                   "ops@remote.test\n")
    assert dom.ok("alias", "add", "@example.test", "alice@example.test") == \
        "added @example.test -> alice@example.test\n"
    assert dom.lines("alias", "list") == [
        "@example.test -> alice@example.test",
        "info@example.test -> alice@example.test",
        "info@example.test -> ops@remote.test",
    ]
    dom.fails(1, "alias", "add", "info@example.test", "ALICE@example.test",
              err="facteur: alias: alias exists")
    dom.fails(1, "alias", "add", "x@remote.test", "alice@example.test",
              err="facteur: alias: no such domain: remote.test")
    dom.fails(1, "alias", "add", "alice@example.test", "x@remote.test",
              err="facteur: alias: user exists")
    dom.fails(1, "alias", "add", "x@example.test", "not-an-address",
              err="facteur: alias: invalid address")
    dom.fails(1, "user", "add", "info@example.test", stdin="pw\n",
              err="facteur: user: alias exists")

    assert dom.ok("alias", "del", "info@example.test", "ops@remote.test") == \
        "deleted info@example.test -> ops@remote.test\n"
    dom.fails(1, "alias", "del", "info@example.test", "ops@remote.test",
              err="no such alias")
    assert dom.ok("alias", "del", "@Example.test") == \
        "deleted @example.test\n"
    dom.fails(1, "alias", "del", "@example.test", err="no such alias")
    assert dom.lines("alias", "list") == [
        "info@example.test -> alice@example.test"]


def test_alias_add_is_all_or_nothing(dom):
    dom.ok("alias", "add", "team@example.test", "a@remote.test")
    dom.fails(1, "alias", "add", "team@example.test", "b@remote.test",
              "a@remote.test", err="alias exists")
    assert dom.lines("alias", "list") == ["team@example.test -> a@remote.test"]


@pytest.mark.parametrize("args", [(), ("frob",), ("add",),
                                  ("add", "a@example.test"), ("del",),
                                  ("del", "a", "b", "c"), ("list", "x")])
def test_alias_usage(dom, args):
    dom.fails(2, "alias", *args, err="usage: facteur alias")


# --- environment ---------------------------------------------------------

@pytest.mark.skipif(not ROOT, reason="the run user matters only for root")
def test_missing_run_user(tmp_path):
    f = Facteur(tmp_path, user="facteur-no-such-user")
    err = f.fails(1, "domain", "add", "example.test")
    assert "facteur-no-such-user" in err and "does not exist" in err
    assert not (f.data / "accounts.db").exists()


def test_data_dir_created(tmp_path):
    f = Facteur(tmp_path)
    f.data = tmp_path / "deep" / "er" / "data"
    f.conf.write_text(f.conf.read_text().replace(
        str(tmp_path / "data"), str(f.data)))
    f.ok("domain", "list")
    st = os.stat(f.data)
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert st.st_uid == RUN_UID
    assert (f.data / "accounts.db").is_file()
    assert (f.data / "mail").is_dir()
