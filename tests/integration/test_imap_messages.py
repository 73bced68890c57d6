"""IMAP message commands against a real daemon (raw sockets, exact
bytes): APPEND then FETCH byte-exact, every FETCH item on a multipart
message with an attachment, \\Seen by BODY[] and not by BODY.PEEK,
STORE (.SILENT, keywords, UNCHANGEDSINCE), SEARCH keys (RFC 2047
subjects, quoted-printable bodies, flags, dates, sets, OR/NOT), ESEARCH,
SEARCHRES, SORT, THREAD, COPY / MOVE with COPYUID, EXPUNGE and UID
EXPUNGE numbering, two sessions on one mailbox, CONDSTORE / QRESYNC
FETCH, sequence sets out of range."""
import base64
import os
import re

from imaputil import (View, chown_facteur, fetch_items, flagset,  # noqa: F401
                      imap, lit, make_imap, message)

ATTACHMENT = bytes(range(256)) * 3

MULTI = (
    b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jurgen@example.org>\r\n"
    b"To: Alice <alice@example.test>, bob@example.org\r\n"
    b"Cc: carol@example.test\r\n"
    b"Subject: =?UTF-8?B?UsOpc3Vtw6kgYXR0YWNoZWQ=?=\r\n"
    b"Date: Tue, 03 Mar 2026 10:00:00 +0000\r\n"
    b"Message-Id: <multi1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
    b"\r\n"
    b"This is a multi-part message.\r\n"
    b"--XYZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 au lait, see the attachment.\r\n"
    b"--XYZ\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + b"".join(base64.encodebytes(ATTACHMENT).splitlines(keepends=True))
    .replace(b"\n", b"\r\n") +
    b"--XYZ--\r\n"
)
PART1_MIME = (b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")


def flagsof(v):
    """FLAGS as a set, without \\Recent (IMAP4rev1 shows it to the
    session that first sees a message)."""
    return flagset(v) - {"\\Recent"}


def item(f, prefix):
    """The value of the first item whose name starts with prefix."""
    for k, v in f.items():
        if k.startswith(prefix):
            return v
    raise AssertionError("no %r in %r" % (prefix, list(f)))


def search_nums(u, kind=b"SEARCH"):
    for r in u:
        if r.startswith(b"* " + kind):
            return [int(x) for x in r.split()[2:] if x.isdigit()]
    raise AssertionError("no * %s in %r" % (kind.decode(), u))


def append_all(c, msgs, mbox="INBOX"):
    return [c.append(m, mbox=mbox)[1] for m in msgs]


def upper(v):
    """A parsed value with every string upper-cased (for comparisons)."""
    if isinstance(v, list):
        return [upper(x) for x in v]
    return v.upper() if isinstance(v, bytes) else v


# --------------------------------------------------------------------------
# FETCH

def test_append_fetch_byte_exact(imap):
    c = imap.login()
    body = (b".starts with a dot\r\n..two dots\r\n.\r\n"
            b"8-bit: \xc3\xa9t\xc3\xa9 \xff\xfe\r\n"
            + b"L" * 990 + b"\r\n" + b"end without newline")
    msg = (b"From: <bob@example.org>\r\nSubject: exact\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    c.append(msg)
    c.select()
    f = c.fetch("1", "(BODY.PEEK[] RFC822.SIZE BODY.PEEK[TEXT])")[1]
    assert f[b"BODY[]"] == msg
    assert int(f[b"RFC822.SIZE"]) == len(msg)
    assert f[b"BODY[TEXT]"] == body
    # partial fetches
    f = c.fetch("1", "(BODY.PEEK[]<0.4> BODY.PEEK[]<%d.100>)"
                % (len(msg) - 5))[1]
    assert f[b"BODY[]<0>"] == msg[:4]
    assert f[b"BODY[]<%d>" % (len(msg) - 5)] == msg[-5:]
    c.logout()


def test_fetch_every_item_multipart(imap):
    c = imap.login()
    uid = c.append(MULTI)[1]
    c.select()
    # a header section first, before anything else loads the message
    f = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject)])")[1]
    assert item(f, b"BODY[HEADER.FIELDS") == \
        b"Subject: =?UTF-8?B?UsOpc3Vtw6kgYXR0YWNoZWQ=?=\r\n\r\n"
    f = c.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE "
                "BODYSTRUCTURE BODY)")[1]
    assert int(f[b"UID"]) == uid
    assert int(f[b"RFC822.SIZE"]) == len(MULTI)
    assert re.match(rb"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}$",
                    f[b"INTERNALDATE"]), f[b"INTERNALDATE"]
    env = f[b"ENVELOPE"]
    assert env[0] == b"Tue, 03 Mar 2026 10:00:00 +0000"
    assert env[1] == b"=?UTF-8?B?UsOpc3Vtw6kgYXR0YWNoZWQ=?="
    assert env[2][0][2:] == [b"jurgen", b"example.org"]
    assert env[3] == env[2] and env[4] == env[2]    # sender, reply-to
    assert [a[2:] for a in env[5]] == [[b"alice", b"example.test"],
                                       [b"bob", b"example.org"]]
    assert env[6][0][2:] == [b"carol", b"example.test"]
    assert env[9] == b"<multi1@example.org>"
    bs = upper(f[b"BODYSTRUCTURE"])
    text, att = bs[0], bs[1]
    assert bs[2] == b"MIXED"
    assert text[:2] == [b"TEXT", b"PLAIN"] and text[2] == [b"CHARSET",
                                                          b"UTF-8"]
    assert text[5] == b"QUOTED-PRINTABLE"
    assert att[:2] == [b"APPLICATION", b"OCTET-STREAM"]
    assert att[5] == b"BASE64"
    assert [b"ATTACHMENT", [b"FILENAME", b"DATA.BIN"]] in att, att
    assert [b"BOUNDARY", b"XYZ"] == bs[3], bs
    body = upper(f[b"BODY"])
    assert body[0][:2] == [b"TEXT", b"PLAIN"] and body[2] == b"MIXED"

    f = c.fetch("1", "(BODY.PEEK[1.MIME] BODY.PEEK[2]<0.10> BINARY.PEEK[2] "
                "BINARY.SIZE[2] BINARY.PEEK[1] BODY.PEEK[1] "
                "BODY.PEEK[HEADER.FIELDS (Subject Message-Id)] "
                "BODY.PEEK[HEADER.FIELDS.NOT (Subject)] BODY.PEEK[HEADER] "
                "RFC822.HEADER)")[1]
    assert item(f, b"BODY[1.MIME]") == PART1_MIME
    part2 = MULTI.split(b"base64\r\n\r\n")[1].split(b"--XYZ--")[0]
    assert item(f, b"BODY[2]<0>") == part2[:10]
    assert item(f, b"BINARY[2]") == ATTACHMENT
    assert int(item(f, b"BINARY.SIZE[2]")) == len(ATTACHMENT)
    # the CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1)
    assert item(f, b"BINARY[1]") == "Café au lait, see the attachment." \
        .encode()
    assert item(f, b"BODY[1]") == b"Caf=C3=A9 au lait, see the attachment."
    hdr = MULTI.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert item(f, b"BODY[HEADER]") == hdr
    assert item(f, b"RFC822.HEADER") == hdr
    fields = item(f, b"BODY[HEADER.FIELDS ")
    assert fields == (b"Subject: =?UTF-8?B?UsOpc3Vtw6kgYXR0YWNoZWQ=?=\r\n"
                      b"Message-Id: <multi1@example.org>\r\n\r\n"), fields
    nots = item(f, b"BODY[HEADER.FIELDS.NOT")
    assert b"Subject:" not in nots and b"Cc: carol" in nots
    # nothing above set \Seen
    assert flagsof(c.fetch("1", "FLAGS")[1][b"FLAGS"]) == set()
    c.logout()


def test_body_sets_seen_peek_does_not(imap):
    c = imap.login()
    append_all(c, [message(i) for i in range(4)])
    c.select()
    u = c.ok("FETCH 1 BODY.PEEK[]")
    assert b"FLAGS" not in u[0]
    u = c.ok("FETCH 1 BODY[TEXT]")
    f = fetch_items(u[0])[1]
    assert "\\Seen" in flagsof(f[b"FLAGS"]), u
    u = c.ok("FETCH 2 RFC822")
    assert "\\Seen" in flagsof(fetch_items(u[0])[1][b"FLAGS"])
    u = c.ok("FETCH 3 BINARY[1]")
    assert "\\Seen" in flagsof(fetch_items(u[0])[1][b"FLAGS"])
    # a read-only view changes nothing
    c.select(examine=True)
    c.ok("FETCH 4 BODY[]")
    c.select()
    f = c.fetch("1:4", "FLAGS")
    assert ["\\Seen" in flagsof(f[i][b"FLAGS"]) for i in (1, 2, 3, 4)] == \
        [True, True, True, False]
    c.logout()


def test_fetch_large_output_in_chunks(imap):
    c = imap.login()
    msgs = [message(i, size=100000) for i in range(30)]
    for m in msgs:
        c.append(m, nonsync=False)
    c.select()
    f = c.fetch("1:*", "(BODY.PEEK[])")
    assert len(f) == 30
    for i, m in enumerate(msgs):
        assert f[i + 1][b"BODY[]"] == m
    c.logout()


def test_sequence_sets(imap):
    c = imap.login()
    c.select()
    st, _ = c.command("FETCH 1:* FLAGS")     # empty mailbox: "*" too
    assert st.startswith(b"BAD"), st
    st, u = c.command("UID FETCH 1:* FLAGS")
    assert st.startswith(b"OK") and u == [], (st, u)
    uids = append_all(c, [message(i) for i in range(5)])
    c.ok("NOOP")
    st, _ = c.command("FETCH 6 FLAGS")
    assert st.startswith(b"BAD"), st
    st, _ = c.command("STORE 2:9 +FLAGS (\\Seen)")
    assert st.startswith(b"BAD"), st
    st, u = c.command("UID FETCH 100:200 FLAGS")
    assert st.startswith(b"OK") and u == [], (st, u)
    # ranges in any order, overlapping, and "*"
    f = c.fetch("5:4,1,2:1,*", "UID")
    assert sorted(f) == [1, 2, 4, 5]
    # a UID range past the end still names the last message
    f = c.fetch("%d:*" % (uids[-1] + 100), "UID", uid=True)
    assert [int(v[b"UID"]) for v in f.values()] == [uids[-1]]
    c.logout()


# --------------------------------------------------------------------------
# STORE

def test_store_variants(imap):
    c = imap.login()
    uids = append_all(c, [message(i) for i in range(3)])
    c.select()
    u = c.ok("STORE 1 FLAGS (\\Seen \\Flagged)")
    assert len(u) == 1 and flagsof(fetch_items(u[0])[1][b"FLAGS"]) == {
        "\\Seen", "\\Flagged"}, u
    u = c.ok("STORE 1 -FLAGS (\\Seen)")
    assert flagsof(fetch_items(u[0])[1][b"FLAGS"]) == {"\\Flagged"}
    u = c.ok("STORE 1:2 +FLAGS.SILENT (\\Answered)")
    assert u == [], u
    u = c.ok("UID STORE %d +FLAGS ($Work Later)" % uids[2])
    f = fetch_items(u[-1])[1]
    assert int(f[b"UID"]) == uids[2]
    assert flagsof(f[b"FLAGS"]) == {"$Work", "Later"}
    # the new keywords were announced
    assert any(r.startswith(b"* FLAGS (") and b"$Work" in r for r in u), u
    f = c.fetch("1:3", "FLAGS")
    assert flagsof(f[1][b"FLAGS"]) == {"\\Flagged", "\\Answered"}
    assert flagsof(f[2][b"FLAGS"]) == {"\\Answered"}
    u = c.ok("STORE 3 -FLAGS (Later Unknown)")
    assert flagsof(fetch_items(u[0])[1][b"FLAGS"]) == {"$Work"}
    st, _ = c.command("STORE 1 +FLAGS (\\Recent)")
    assert st.startswith(b"BAD"), st
    c.logout()


def test_store_keyword_limit(imap):
    c = imap.login()
    c.append(message(1))
    c.select()
    for i in range(26):
        c.ok("STORE 1 +FLAGS (kw%d)" % i)
    st, _ = c.command("STORE 1 +FLAGS (one-too-many)")
    assert st.startswith(b"NO [LIMIT]"), st
    c.logout()


def test_store_condstore(imap):
    c = imap.login()
    append_all(c, [message(i) for i in range(3)])
    c.ok("SELECT INBOX (CONDSTORE)")
    f = c.fetch("1:3", "(MODSEQ)")
    ms = {k: int(v[b"MODSEQ"][0]) for k, v in f.items()}
    u = c.ok("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % ms[1])
    f = fetch_items(u[0])[1]
    new1 = int(f[b"MODSEQ"][0])
    assert new1 > ms[1]
    # message 1 changed since ms[1]: it fails, 2 succeeds
    st, u = c.command("STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)"
                      % ms[2])
    assert st.startswith(b"OK [MODIFIED 1]"), st
    seqs = [fetch_items(r)[0] for r in u if fetch_items(r)]
    assert seqs == [2], u
    # UID STORE: MODIFIED holds UIDs
    uid1 = int(c.fetch("1", "UID")[1][b"UID"])
    st, u = c.command("UID STORE %d (UNCHANGEDSINCE 1) +FLAGS (\\Draft)"
                      % uid1)
    assert st.startswith(b"OK [MODIFIED %d]" % uid1), st
    # UNCHANGEDSINCE 0 always fails
    st, _ = c.command("STORE 3 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
    assert st.startswith(b"OK [MODIFIED 3]"), st
    # .SILENT with CONDSTORE still reports the new MODSEQ
    u = c.ok("STORE 3 +FLAGS.SILENT (\\Answered)")
    assert len(u) == 1 and b"MODSEQ" in u[0] and b"FLAGS" not in u[0], u
    assert b"UID " in u[0], u       # UID too, once CONDSTORE is on
    u = c.ok("STORE 3 -FLAGS (\\Answered)")
    f = fetch_items(u[0])[1]
    assert b"UID" in f and b"MODSEQ" in f, u
    # CHANGEDSINCE
    hms = max(int(v[b"MODSEQ"][0]) for v in c.fetch("1:*", "MODSEQ")
              .values())
    c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    f = c.fetch("1:*", "(FLAGS) (CHANGEDSINCE %d)" % hms)
    assert list(f) == [2], f
    c.logout()


# --------------------------------------------------------------------------
# SEARCH, SORT, THREAD

def search_corpus(c):
    msgs = [
        (b"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\n"
         b"Subject: =?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?=\r\n"
         b"Date: Mon, 02 Feb 2026 09:00:00 +0000\r\n"
         b"Message-Id: <s1@example.org>\r\n\r\nhello world\r\n",
         "\\Flagged", '"01-Feb-2026 10:00:00 +0000"'),
        (b"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\n"
         b"Subject: Meeting\r\nDate: Tue, 10 Mar 2026 09:00:00 +0000\r\n"
         b"Message-Id: <s2@example.org>\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         b"la r=C3=A9union de=\r\nmain\r\n",
         "\\Seen", '"10-Mar-2026 10:00:00 +0000"'),
        (b"From: Dave <dave@example.net>\r\nTo: bob@example.org\r\n"
         b"Cc: alice@example.test\r\nSubject: Re: Meeting\r\n"
         b"Date: Wed, 11 Mar 2026 09:00:00 +0000\r\n"
         b"Message-Id: <s3@example.org>\r\nIn-Reply-To: <s2@example.org>\r\n"
         b"References: <s2@example.org>\r\n\r\n" + b"z" * 5000 + b"\r\n",
         "\\Flagged \\Seen $Important", '"11-Mar-2026 10:00:00 +0000"'),
    ]
    uids = []
    for m, flags, date in msgs:
        st, _ = c.command("APPEND INBOX (%s) %s %s" % (flags, date, lit()),
                          [m])
        assert st.startswith(b"OK"), st
        uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", st).group(1)))
    c.select()
    return uids


def test_search_keys(imap):
    c = imap.login()
    uids = search_corpus(c)

    def s(q, literals=()):
        return search_nums(c.ok("SEARCH " + q, literals))

    assert s("ALL") == [1, 2, 3]
    assert s("FLAGGED") == [1, 3]
    assert s("UNFLAGGED") == [2]
    assert s("SEEN NOT FLAGGED") == [2]
    assert s("UNSEEN") == [1]
    assert s("KEYWORD $Important") == [3]
    assert s("UNKEYWORD $Important") == [1, 2]
    assert s("FROM carol") == [1]
    assert s("TO bob@example.org") == [3]
    assert s("CC alice") == [3]
    assert s('SUBJECT "meeting"') == [2, 3]
    assert s("CHARSET UTF-8 SUBJECT " + lit(), ["CAFÉ".encode()]) == [1]
    assert s("CHARSET UTF-8 BODY " + lit(), ["réunion".encode()]) == [2]
    assert s("CHARSET UTF-8 TEXT " + lit(), ["Réunion Demain".encode()]) \
        == [2]
    assert s("BODY hello") == [1]
    assert s("TEXT s3@example") == [3]
    assert s('HEADER In-Reply-To "<s2@example.org>"') == [3]
    assert s("HEADER Message-Id s1") == [1]
    assert s("LARGER 4000") == [3]
    assert s("SMALLER 4000") == [1, 2]
    assert s("BEFORE 10-Mar-2026") == [1]
    assert s("ON 10-Mar-2026") == [2]
    assert s("SINCE 10-Mar-2026") == [2, 3]
    assert s("SENTBEFORE 3-Mar-2026") == [1]
    assert s("SENTON 11-Mar-2026") == [3]
    assert s("SENTSINCE 10-Mar-2026") == [2, 3]
    assert s("OR FROM carol FROM dave") == [1, 3]
    assert s("NOT (FLAGGED SEEN)") == [1, 2]
    assert s("2:3 FLAGGED") == [3]
    assert s("UID %d:%d" % (uids[0], uids[1])) == [1, 2]
    assert s("*") == [3]
    assert search_nums(c.ok("UID SEARCH FLAGGED")) == [uids[0], uids[2]]
    assert s("FROM nobody") == []
    st, _ = c.command("SEARCH CHARSET KOI8-R FROM x")
    assert st.startswith(b"NO [BADCHARSET"), st
    c.logout()


def test_esearch_and_searchres(imap):
    c = imap.login()
    uids = search_corpus(c)
    st, u = c.command("SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED")
    assert len(u) == 1, u
    m = re.match(rb'\* ESEARCH \(TAG "(\w+)"\) MIN 1 MAX 3 COUNT 2 ALL '
                 rb'1,3$', u[0])
    assert m, u
    u = c.ok("UID SEARCH RETURN (COUNT) ALL")
    assert re.match(rb'\* ESEARCH \(TAG "\w+"\) UID COUNT 3$', u[0]), u
    u = c.ok("UID SEARCH RETURN () ALL")
    assert re.match(rb'\* ESEARCH \(TAG "\w+"\) UID ALL %d:%d$'
                    % (uids[0], uids[2]), u[0]), u
    u = c.ok("SEARCH RETURN (MIN COUNT) FROM nobody")
    assert re.match(rb'\* ESEARCH \(TAG "\w+"\) COUNT 0$', u[0]), u
    # SAVE alone answers nothing; "$" is then the result
    u = c.ok("SEARCH RETURN (SAVE) FLAGGED")
    assert u == [], u
    f = c.fetch("$", "UID")
    assert sorted(f) == [1, 3]
    assert search_nums(c.ok("UID SEARCH UID $ SEEN")) == [uids[2]]
    u = c.ok("UID SEARCH RETURN (SAVE MIN) ALL")
    assert u == [] or b"MIN" in u[0]
    assert list(c.fetch("$", "UID")) == [1]
    # $ after SELECT is empty
    c.select()
    st, u = c.command("FETCH $ UID")
    assert st.startswith(b"OK") and u == [], (st, u)
    c.logout()


def test_search_rev2_answers_esearch(imap):
    c = imap.login()
    search_corpus(c)
    c.ok("ENABLE IMAP4rev2")
    c.select()
    u = c.ok("SEARCH FLAGGED")
    assert re.match(rb'\* ESEARCH \(TAG "\w+"\) ALL 1,3$', u[0]), u
    c.logout()


def test_sort(imap):
    c = imap.login()
    search_corpus(c)
    assert search_nums(c.ok("SORT (SUBJECT) UTF-8 ALL"), b"SORT") == \
        [1, 2, 3]
    assert search_nums(c.ok("SORT (REVERSE SIZE) UTF-8 ALL"), b"SORT")[0] \
        == 3
    assert search_nums(c.ok("SORT (FROM) UTF-8 ALL"), b"SORT") == [2, 1, 3]
    assert search_nums(c.ok("SORT (REVERSE DATE) UTF-8 ALL"), b"SORT") == \
        [3, 2, 1]
    assert search_nums(c.ok("SORT (ARRIVAL) UTF-8 FLAGGED"), b"SORT") == \
        [1, 3]
    uids = c.uids()
    assert search_nums(c.ok("UID SORT (REVERSE ARRIVAL) UTF-8 ALL"),
                       b"SORT") == uids[::-1]
    c.logout()


def test_thread(imap):
    c = imap.login()
    search_corpus(c)
    u = c.ok("THREAD REFERENCES UTF-8 ALL")
    assert u == [b"* THREAD (1)(2 3)"], u
    u = c.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert u == [b"* THREAD (1)(2 3)"], u
    uids = c.uids()
    u = c.ok("UID THREAD REFERENCES UTF-8 ALL")
    assert u == [b"* THREAD (%d)(%d %d)" % tuple(uids)], u
    c.logout()


# --------------------------------------------------------------------------
# COPY, MOVE, EXPUNGE

def test_copy_move(imap):
    c = imap.login()
    uids = append_all(c, [message(i) for i in range(4)])
    c.select()
    c.ok("STORE 1 +FLAGS (\\Flagged $Kw)")
    st, u = c.command('COPY 1:2 "Trash"')
    m = re.match(rb"OK \[COPYUID (\d+) (\S+) (\S+)\]", st)
    assert m, st
    assert m.group(2) == b"%d:%d" % (uids[0], uids[1])
    assert m.group(3) == b"1:2"
    st, _ = c.command('COPY 1 "nothere"')
    assert st.startswith(b"NO [TRYCREATE]"), st
    # MOVE: COPYUID untagged, then the EXPUNGE, then OK
    st, u = c.command('MOVE 2 "Archive"')
    assert st.startswith(b"OK"), st
    assert re.match(rb"\* OK \[COPYUID \d+ %d 1\]" % uids[1], u[0]), u
    assert u[1:] == [b"* 2 EXPUNGE"], u
    st, u = c.command('UID MOVE %d:%d "Archive"' % (uids[2], uids[3]))
    assert st.startswith(b"OK"), st
    assert u[1:] == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"], u
    c.select("Trash")
    f = c.fetch("1", "FLAGS")[1]
    assert flagsof(f[b"FLAGS"]) >= {"\\Flagged", "$Kw"}
    c.ok("SELECT INBOX")
    assert c.uids() == [uids[0]]
    c.logout()


def test_move_with_qresync_vanished(imap):
    c = imap.login()
    uids = append_all(c, [message(i) for i in range(3)])
    c.ok("ENABLE QRESYNC")
    c.select()
    st, u = c.command('UID MOVE %d "Trash"' % uids[1])
    assert st.startswith(b"OK"), st
    assert b"* VANISHED %d" % uids[1] in u, u
    c.logout()


def test_expunge_numbering(imap):
    c = imap.login()
    uids = append_all(c, [message(i) for i in range(6)])
    c.select()
    c.ok("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    u = c.ok("EXPUNGE")
    assert u == [b"* 2 EXPUNGE", b"* 3 EXPUNGE", b"* 3 EXPUNGE"], u
    assert c.uids() == View(uids).apply(u).uids == [uids[0], uids[2],
                                                    uids[5]]
    # UID EXPUNGE removes only the named ones
    c.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    u = c.ok("UID EXPUNGE %d" % uids[2])
    assert u == [b"* 2 EXPUNGE"], u
    assert c.uids() == [uids[0], uids[5]]
    c.logout()


def test_two_sessions(imap):
    a = imap.login()
    uids = append_all(a, [message(i) for i in range(4)])
    a.select()
    b = imap.login()
    b.select()
    view = View(uids)
    # a flag change in one is a FETCH in the other
    a.ok("STORE 2 +FLAGS (\\Flagged)")
    u = b.ok("NOOP")
    view.apply(u)
    f = [fetch_items(r) for r in u if fetch_items(r)]
    assert len(f) == 1 and f[0][0] == 2, u
    assert int(f[0][1][b"UID"]) == uids[1]
    assert "\\Flagged" in flagsof(f[0][1][b"FLAGS"])
    # no EXPUNGE during a FETCH; then NOOP gives it with the right number
    a.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    u = b.ok("FETCH 1:4 UID")
    assert not any(b"EXPUNGE" in r for r in u), u
    u = b.ok("NOOP")
    assert b"* 3 EXPUNGE" in u, u
    view.apply(u)
    assert view.uids == [uids[0], uids[1], uids[3]]
    # new mail: EXISTS
    a.append(message(9))
    u = b.ok("NOOP")
    assert b"* 4 EXISTS" in u, u
    a.logout()
    b.logout()


def test_condstore_fetch_vanished(imap):
    c = imap.login()
    uids = append_all(c, [message(i) for i in range(4)])
    c.ok("ENABLE QRESYNC")
    c.select()
    hms = max(int(v[b"MODSEQ"][0]) for v in c.fetch("1:*", "MODSEQ")
              .values())
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    c.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    u = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
    assert u[0] == b"* VANISHED (EARLIER) %d" % uids[0], u
    f = [fetch_items(r) for r in u[1:]]
    assert [int(x[1][b"UID"]) for x in f] == [uids[2]], u
    st, _ = c.command("FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert st.startswith(b"BAD"), st
    c.logout()


def test_search_big_mailbox_in_slices(imap):
    """A body search over more messages than one slice (2000): the job
    pauses and resumes, and every match is found."""
    c = imap.login()
    c.logout()
    new = os.path.join(imap.maildir("alice"), "new")
    n = 2600
    for i in range(n):
        body = b"needle here\r\n" if i in (5, 2001, 2599) else b"hay\r\n"
        path = os.path.join(new, "%d.M%dP1.test" % (1700000000 + i, i))
        with open(path, "wb") as f:
            f.write(message(i, body=body))
        chown_facteur(path)
    c = imap.login()
    assert c.select()["exists"] == n
    assert search_nums(c.ok("SEARCH BODY needle")) == [6, 2002, 2600]
    u = c.ok("SEARCH RETURN (COUNT) TEXT hay")
    assert u[0].endswith(b"COUNT %d" % (n - 3)), u
    assert search_nums(c.ok("SORT (REVERSE ARRIVAL) UTF-8 BODY needle"),
                       b"SORT") == [2600, 2002, 6]
    c.logout()
