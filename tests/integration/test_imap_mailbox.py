"""IMAP mailbox commands against a real daemon (raw sockets, exact
responses): special-use folders of a new account, CREATE / DELETE /
RENAME, LIST and LSUB patterns, LIST-EXTENDED (RFC 5258), LIST-STATUS
(RFC 5819), SUBSCRIBE, NAMESPACE, STATUS, SELECT / EXAMINE responses,
CONDSTORE and QRESYNC SELECT (RFC 7162), APPEND (APPENDUID, TRYCREATE,
flags, date), CHECK, CLOSE, UNSELECT, non-ASCII names in modified UTF-7
and UTF-8, and names that try to leave the user's directory."""
import os
import re
import time

import pytest

from conftest import T
from imaputil import (ImapError, flagset, imap, lit,  # noqa: F401
                      make_imap, message, parse)


def list_names(untagged, kind=b"LIST"):
    """{name: set of attributes} from LIST (or LSUB) responses."""
    out = {}
    for r in untagged:
        if not r.startswith(b"* " + kind + b" "):
            continue
        vals, _ = parse(r, len(kind) + 3)
        attrs, delim, name = vals[0], vals[1], vals[2]
        assert delim == b"/", r
        out[name.decode()] = set(a.decode() for a in attrs)
    return out


def list_lines(untagged, kind=b"LIST"):
    return [r for r in untagged if r.startswith(b"* " + kind + b" ")]


def status_of(untagged):
    """{name: {ITEM: int}} from STATUS responses."""
    out = {}
    for r in untagged:
        if not r.startswith(b"* STATUS "):
            continue
        vals, _ = parse(r, 9)
        name, items = vals[0], vals[1]
        out[name.decode()] = {items[i].decode(): int(items[i + 1])
                              for i in range(0, len(items), 2)}
    return out


def tagged(c, cmd, literals=()):
    status, untagged = c.command(cmd, literals)
    return status, untagged


# --------------------------------------------------------------------------
# A new account

def test_new_account_special_use_folders(imap):
    c = imap.login()
    u = c.ok('LIST "" "*"')
    names = list_names(u)
    assert list(names)[0] == "INBOX", u
    want = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
            "Junk": "\\Junk", "Archive": "\\Archive"}
    for name, use in want.items():
        assert name in names, u
        assert use in names[name], (name, names[name])
        assert "\\HasNoChildren" in names[name]
    assert "\\HasNoChildren" in names["INBOX"]
    # SPECIAL-USE selection: only those five
    u = c.ok('LIST (SPECIAL-USE) "" "*"')
    assert set(list_names(u)) == set(want), u
    # they are subscribed
    u = c.ok('LSUB "" "*"')
    assert set(want) <= set(list_names(u, b"LSUB")), u
    c.logout()


def test_namespace_and_delimiter(imap):
    c = imap.login()
    u = c.ok("NAMESPACE")
    assert u == [b'* NAMESPACE (("" "/")) NIL NIL'], u
    u = c.ok('LIST "" ""')
    assert u == [b'* LIST (\\Noselect) "/" ""'], u
    c.logout()


# --------------------------------------------------------------------------
# CREATE, DELETE, RENAME

def test_create_delete_rename(imap):
    c = imap.login()
    c.ok('CREATE "work/2026/q4"')
    names = list_names(c.ok('LIST "" "work*"'))
    assert set(names) == {"work", "work/2026", "work/2026/q4"}, names
    assert "\\HasChildren" in names["work"]
    assert "\\HasChildren" in names["work/2026"]
    assert "\\HasNoChildren" in names["work/2026/q4"]

    st, _ = c.command('CREATE "work/2026/q4"')
    assert st.startswith(b"NO [ALREADYEXISTS]"), st
    st, _ = c.command("CREATE INBOX")
    assert st.startswith(b"NO"), st
    # a trailing separator declares a parent: "a/" creates "a"
    c.ok('CREATE "plans/"')
    assert "plans" in list_names(c.ok('LIST "" "plans"'))

    c.ok('RENAME "work" "job"')
    names = list_names(c.ok('LIST "" "*"'))
    assert "job/2026/q4" in names and "work" not in names, names
    st, _ = c.command('RENAME "nothere" "x"')
    assert st.startswith(b"NO [NONEXISTENT]"), st
    st, _ = c.command('RENAME "plans" "Sent"')
    assert st.startswith(b"NO [ALREADYEXISTS]"), st

    c.ok('DELETE "job/2026/q4"')
    st, _ = c.command('DELETE "job/2026/q4"')
    assert st.startswith(b"NO [NONEXISTENT]"), st
    st, _ = c.command("DELETE INBOX")
    assert st.startswith(b"NO"), st
    c.ok('DELETE "plans"')
    names = list_names(c.ok('LIST "" "*"'))
    assert "plans" not in names and "job/2026" in names, names
    c.logout()


def test_rename_inbox_moves_messages(imap):
    c = imap.login()
    for i in range(3):
        c.append(message(i))
    c.ok('RENAME INBOX "old-inbox"')
    st = status_of(c.ok('STATUS "old-inbox" (MESSAGES)'))
    assert st["old-inbox"]["MESSAGES"] == 3
    st = status_of(c.ok('STATUS INBOX (MESSAGES)'))
    assert st["INBOX"]["MESSAGES"] == 0
    c.logout()


def test_delete_folder_with_children_keeps_them(imap):
    c = imap.login()
    c.ok('CREATE "p/c"')
    c.append(message(1), mbox="p")
    c.ok('DELETE "p"')
    names = list_names(c.ok('LIST "" "*"'))
    assert "p/c" in names, names
    # the parent is only a name now
    assert "\\Noselect" in names["p"] or "\\NonExistent" in names["p"], names
    st, _ = c.command('SELECT "p"')
    assert st.startswith(b"NO"), st
    c.logout()


# --------------------------------------------------------------------------
# LIST patterns

def test_list_patterns(imap):
    c = imap.login()
    for name in ("a", "a/b", "a/b/c", "ab", "x/y"):
        c.ok('CREATE "%s"' % name)
    assert set(list_names(c.ok('LIST "" "%"'))) >= {"a", "ab", "x", "INBOX"}
    assert "a/b" not in list_names(c.ok('LIST "" "%"'))
    assert set(list_names(c.ok('LIST "" "a/%"'))) == {"a/b"}
    assert set(list_names(c.ok('LIST "" "a/*"'))) == {"a/b", "a/b/c"}
    assert set(list_names(c.ok('LIST "" "a*"'))) == {"a", "a/b", "a/b/c",
                                                      "ab"}
    assert set(list_names(c.ok('LIST "a/" "%"'))) == {"a/b"}
    assert set(list_names(c.ok('LIST "a" "/*"'))) == {"a/b", "a/b/c"}
    assert set(list_names(c.ok('LIST "" "%/%"'))) == {"a/b", "x/y"}
    assert set(list_names(c.ok('LIST "" "*c"'))) == {"a/b/c"}
    # INBOX in any case
    assert set(list_names(c.ok('LIST "" "inbox"'))) == {"INBOX"}
    # CREATE made the parent too
    names = list_names(c.ok('LIST "" "x"'))
    assert names["x"] == {"\\HasChildren"}, names
    assert list_names(c.ok('LIST "" "nothing*"')) == {}
    c.logout()


def test_list_pattern_no_exponential_backtracking(imap):
    c = imap.login()
    c.ok('CREATE "%s"' % ("a" * 150))
    # patterns are at most 800 bytes (the parser's limit for a name)
    pat = "*%" * 399 + "b"
    t0 = time.time()
    u = c.ok('LIST "" "%s"' % pat)
    assert list_names(u) == {}
    pat = "*%" * 399 + "a"
    u = c.ok('LIST "" "%s"' % pat)
    assert "a" * 150 in list_names(u)
    assert time.time() - t0 < T(5)
    c.logout()


def test_list_extended(imap):
    c = imap.login()
    for name in ("lists/ietf", "lists/debian", "lists/old", "other"):
        c.ok('CREATE "%s"' % name)
    c.ok('SUBSCRIBE "lists/ietf"')
    c.ok('UNSUBSCRIBE "Junk"')
    # SUBSCRIBED selection: \Subscribed shown, only subscribed names
    u = c.ok('LIST (SUBSCRIBED) "" "*"')
    names = list_names(u)
    assert "lists/ietf" in names and "lists/debian" not in names, u
    assert "Junk" not in names
    assert all("\\Subscribed" in a for a in names.values()), names
    # RECURSIVEMATCH: "lists" is not subscribed but has a subscribed child
    u = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    lines = [l for l in list_lines(u) if b'"lists"' in l]
    assert len(lines) == 1 and b'("CHILDINFO" ("SUBSCRIBED"))' in lines[0], u
    # RETURN options
    u = c.ok('LIST "" "*" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)')
    names = list_names(u)
    assert "\\Subscribed" in names["lists/ietf"]
    assert "\\Subscribed" not in names["lists/debian"]
    assert "\\HasChildren" in names["lists"]
    assert "\\Sent" in names["Sent"]
    # several patterns
    u = c.ok('LIST "" ("other" "lists/%")')
    assert set(list_names(u)) == {"other", "lists/ietf", "lists/debian",
                                  "lists/old"}, u
    # REMOTE is accepted and changes nothing here
    assert set(list_names(c.ok('LIST (REMOTE) "" "other"'))) == {"other"}
    # a subscription to a name that does not exist
    c.ok('SUBSCRIBE "ghost"')
    names = list_names(c.ok('LIST (SUBSCRIBED) "" "ghost"'))
    assert "\\NonExistent" in names["ghost"], names
    assert "ghost" not in list_names(c.ok('LIST "" "*"'))
    c.logout()


def test_list_status(imap):
    c = imap.login()
    c.ok('CREATE "box"')
    c.append(message(1), mbox="box")
    c.append(message(2), mbox="box", flags="\\Seen")
    c.ok('SUBSCRIBE "ghost"')
    u = c.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
    st = status_of(u)
    assert st["box"]["MESSAGES"] == 2
    assert st["box"]["UNSEEN"] == 1
    assert st["box"]["UIDNEXT"] >= 3
    assert "INBOX" in st
    # no STATUS for a name that is no mailbox
    u = c.ok('LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES))')
    assert "ghost" in list_names(u) and "ghost" not in status_of(u), u
    assert "Sent" in status_of(u)
    # each STATUS follows its LIST line
    for i, r in enumerate(u):
        if r.startswith(b"* STATUS "):
            assert u[i - 1].startswith(b"* LIST "), u
    c.logout()


def test_lsub_and_subscriptions(imap):
    c = imap.login()
    c.ok('CREATE "news/comp/mail"')
    c.ok('SUBSCRIBE "news/comp/mail"')
    names = list_names(c.ok('LSUB "" "*"'), b"LSUB")
    assert "news/comp/mail" in names and "news" not in names, names
    # "%" names the unsubscribed parent, as \Noselect (RFC 3501 6.3.9)
    names = list_names(c.ok('LSUB "" "news/%"'), b"LSUB")
    assert names.get("news/comp") == {"\\Noselect"}, names
    c.ok('UNSUBSCRIBE "news/comp/mail"')
    assert "news/comp/mail" not in list_names(c.ok('LSUB "" "*"'), b"LSUB")
    c.logout()


# --------------------------------------------------------------------------
# STATUS

def test_status_items(imap):
    c = imap.login()
    c.ok('CREATE "s"')
    sizes = []
    for i, fl in enumerate(("", "\\Seen", "\\Deleted \\Seen")):
        m = message(i)
        sizes.append(len(m))
        c.append(m, mbox="s", flags=fl)
    u = c.ok('STATUS "s" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE '
             'RECENT HIGHESTMODSEQ)')
    st = status_of(u)["s"]
    assert st["MESSAGES"] == 3
    assert st["UNSEEN"] == 1
    assert st["DELETED"] == 1
    assert st["SIZE"] == sum(sizes)
    assert st["UIDNEXT"] == 4
    assert st["UIDVALIDITY"] > 0
    assert st["HIGHESTMODSEQ"] > 0
    assert "RECENT" in st
    # STATUS of the selected mailbox is allowed
    c.select("s")
    st2 = status_of(c.ok('STATUS "s" (MESSAGES UIDVALIDITY)'))["s"]
    assert st2 == {"MESSAGES": 3, "UIDVALIDITY": st["UIDVALIDITY"]}
    st, _ = c.command('STATUS "nothere" (MESSAGES)')
    assert st.startswith(b"NO [NONEXISTENT]"), st
    c.logout()


# --------------------------------------------------------------------------
# SELECT, EXAMINE, CLOSE, UNSELECT

def test_select_responses(imap):
    c = imap.login()
    c.append(message(1))
    c.append(message(2), flags="\\Seen")
    c.append(message(3))
    st, u = c.command("SELECT INBOX")
    assert st.startswith(b"OK [READ-WRITE]"), st
    text = b"\n".join(u)
    assert b"* 3 EXISTS" in u
    assert re.search(rb"^\* \d+ RECENT$", text, re.M)
    assert b"* OK [UNSEEN 1]" in text
    assert re.search(rb"^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen "
                     rb"\\Draft", text, re.M), text
    assert re.search(rb"^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]", text, re.M)
    assert re.search(rb"^\* OK \[UIDVALIDITY \d+\]", text, re.M)
    assert re.search(rb"^\* OK \[UIDNEXT 4\]", text, re.M)
    assert re.search(rb"^\* OK \[HIGHESTMODSEQ \d+\]", text, re.M)
    # selecting again: the previous mailbox is closed first
    st, u = c.command("EXAMINE INBOX")
    assert st.startswith(b"OK [READ-ONLY]"), st
    assert u[0].startswith(b"* OK [CLOSED]"), u
    assert b"* OK [PERMANENTFLAGS ()]" in b"\n".join(u)
    st, _ = c.command("STORE 1 +FLAGS (\\Flagged)")
    assert st.startswith(b"NO"), st
    st, _ = c.command("EXPUNGE")
    assert st.startswith(b"NO"), st
    # a failing SELECT leaves nothing selected
    st, u = c.command('SELECT "nothere"')
    assert st.startswith(b"NO [NONEXISTENT]"), st
    assert u and u[0].startswith(b"* OK [CLOSED]"), u
    st, _ = c.command("FETCH 1 FLAGS")
    assert st.startswith(b"BAD"), st
    c.logout()


def test_select_rev2(imap):
    c = imap.login()
    c.append(message(1))
    c.ok("ENABLE IMAP4rev2")
    u = c.ok('SELECT "INBOX"')
    text = b"\n".join(u)
    assert b"RECENT" not in text and b"[UNSEEN" not in text, text
    assert re.search(rb'^\* LIST \(.*\) "/" "INBOX"', text, re.M), text
    c.logout()


def test_close_expunges_silently_unselect_does_not(imap):
    c = imap.login()
    for i in range(3):
        c.append(message(i), flags="\\Deleted" if i != 1 else "")
    c.select()
    st, u = c.command("UNSELECT")
    assert st.startswith(b"OK") and u == [], (st, u)
    info = c.select()
    assert info["exists"] == 3
    st, u = c.command("CLOSE")
    assert st.startswith(b"OK"), st
    assert not any(b"EXPUNGE" in r for r in u), u
    st, _ = c.command("FETCH 1 FLAGS")
    assert st.startswith(b"BAD"), st
    assert c.select()["exists"] == 1
    # CLOSE after EXAMINE removes nothing
    c.ok("STORE 1 +FLAGS (\\Deleted)")
    c.select(examine=True)
    c.ok("CLOSE")
    assert c.select()["exists"] == 1
    c.ok("CHECK")
    c.logout()


def test_condstore_qresync_select(imap):
    c = imap.login()
    uids = [c.append(message(i))[1] for i in range(5)]
    c.ok("ENABLE QRESYNC")
    st, u = c.command("SELECT INBOX (CONDSTORE)")
    assert st.startswith(b"OK"), st
    text = b"\n".join(u)
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", text).group(1))
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
    c.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    c.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    c.ok("UNSELECT")
    u = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, hms))
    text = b"\n".join(u)
    assert b"* VANISHED (EARLIER) %d" % uids[3] in u, text
    fetches = [r for r in u if b" FETCH " in r]
    assert len(fetches) == 1, u
    assert b"UID %d" % uids[1] in fetches[0]
    assert b"\\Flagged" in fetches[0] and b"MODSEQ" in fetches[0]
    # known UIDs restrict the answer
    c.ok("UNSELECT")
    u = c.ok("SELECT INBOX (QRESYNC (%d %d %d))"
             % (uidvalidity, hms, uids[0]))
    assert not any(b"VANISHED" in r or b" FETCH " in r for r in u), u
    # a wrong UIDVALIDITY: no VANISHED, no FETCH
    c.ok("UNSELECT")
    u = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity + 1, hms))
    assert not any(b"VANISHED" in r or b" FETCH " in r for r in u), u
    c.logout()


def test_qresync_needs_enable(imap):
    c = imap.login()
    st, _ = c.command("SELECT INBOX (QRESYNC (1 1))")
    assert st.startswith(b"BAD"), st
    c.logout()


# --------------------------------------------------------------------------
# APPEND

def test_append(imap):
    c = imap.login()
    st, u = c.command('APPEND INBOX (\\Seen \\Flagged $Label1) '
                      '"05-Jan-2025 10:20:30 +0100" ' + lit(),
                      [message(1)])
    assert st.startswith(b"OK [APPENDUID "), st
    m = re.match(rb"OK \[APPENDUID (\d+) (\d+)\]", st)
    uidvalidity, uid = int(m.group(1)), int(m.group(2))
    info = c.select()
    assert info["uidvalidity"] == uidvalidity
    assert b"$Label1" in b" ".join(info["flags"])
    f = c.fetch("1", "(UID FLAGS INTERNALDATE)")[1]
    assert int(f[b"UID"]) == uid
    assert flagset(f[b"FLAGS"]) >= {"\\Seen", "\\Flagged", "$Label1"}
    assert f[b"INTERNALDATE"] == b"05-Jan-2025 10:20:30 +0100" or \
        f[b"INTERNALDATE"] == b"05-Jan-2025 09:20:30 +0000", f
    # into the selected mailbox: EXISTS comes with the answer
    st, u = c.command('APPEND INBOX ' + lit(), [message(2)])
    assert st.startswith(b"OK [APPENDUID %d %d]" % (uidvalidity, uid + 1)), st
    assert b"* 2 EXISTS" in u, u
    # missing mailbox
    st, u = c.command('APPEND "nothere" ' + lit(), [message(3)])
    assert st.startswith(b"NO [TRYCREATE]"), st
    c.logout()


def test_append_bad_names_and_flags(imap):
    c = imap.login()
    st, _ = c.command('APPEND INBOX (\\Recent) ' + lit(), [message(1)])
    assert st.startswith(b"BAD") or st.startswith(b"NO"), st
    st, _ = c.command('APPEND "../x" ' + lit(), [message(1)])
    assert st.startswith(b"NO"), st
    c.logout()


# --------------------------------------------------------------------------
# Names

def test_non_ascii_names(imap):
    c = imap.login()
    # RFC 3501 example: "Entwürfe" in modified UTF-7
    c.ok('CREATE "Entw&APw-rfe"')
    c.ok('CREATE "&ZeVnLIqe-/&U,BTFw-"')
    names = list_names(c.ok('LIST "" "*"'))
    assert "Entw&APw-rfe" in names and "&ZeVnLIqe-/&U,BTFw-" in names, names
    # on disk in Maildir++ form, inside the user's directory
    md = imap.maildir("alice")
    assert os.path.isdir(os.path.join(md, ".Entw&APw-rfe")), os.listdir(md)
    # not canonical mUTF-7: refused
    st, _ = c.command('CREATE "&AGE-"')
    assert st.startswith(b"NO") or st.startswith(b"BAD"), st
    # UTF-8 names after ENABLE UTF8=ACCEPT
    c.ok("ENABLE UTF8=ACCEPT")
    names = list_names(c.ok('LIST "" "*"'))
    assert "Entwürfe" in names, names
    c.ok('CREATE "Été/Noël"')
    st = status_of(c.ok('STATUS "Été/Noël" (MESSAGES)'))
    assert st["Été/Noël"]["MESSAGES"] == 0
    c.select("Entwürfe")
    c.logout()
    # a rev1 session sees it in mUTF-7
    c = imap.login()
    names = list_names(c.ok('LIST "" "*"'))
    assert "&AMk-t&AOk-/No&AOs-l" in names, names
    c.logout()


@pytest.mark.parametrize("name", [
    "../x", "a/../../x", "..", ".", "/etc", "a//b", "a/", "x/./y",
    "&AC4ALg-", "&AC8-etc", "foo%", "foo*", "a\\u0001b",
])
def test_names_escaping_refused(imap, name):
    c = imap.login()
    name = name.replace("\\u0001", "\x01")
    quoted = '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')
    before = sorted(os.listdir(os.path.dirname(imap.maildir("alice"))))
    for cmd in ("CREATE %s", "SELECT %s", "DELETE %s", "RENAME INBOX %s",
                "STATUS %s (MESSAGES)", "SUBSCRIBE %s"):
        try:
            st, _ = c.command(cmd % quoted)
        except ImapError:
            continue
        if cmd.startswith("CREATE") and name == "a/":
            # a trailing separator is allowed: it creates "a"
            assert st.startswith(b"OK"), st
            continue
        assert st.startswith(b"NO") or st.startswith(b"BAD"), (cmd, st)
    after = sorted(os.listdir(os.path.dirname(imap.maildir("alice"))))
    assert before == after
    for root, dirs, files in os.walk(imap.data_dir):
        for d in dirs:
            assert d not in ("x", "etc"), os.path.join(root, d)
    c.logout()


def test_mailbox_commands_need_login(imap):
    c = imap.raw()
    for cmd in ('SELECT INBOX', 'LIST "" "*"', 'CREATE x', 'STATUS INBOX '
                '(MESSAGES)'):
        st, _ = c.command(cmd)
        assert st.startswith(b"BAD") or st.startswith(b"NO"), (cmd, st)
    c.logout()
