"""Message content: SIZE and header limits, SMTP smuggling, BDAT."""
import os
import re

import pytest

from conftest import T, new_msgid, simple_message, split_trace


# --- SIZE -------------------------------------------------------------------

def test_mail_size_parameter_over_limit(make_server):
    srv = make_server(smtp_max_message_size="64K")
    with srv.connect() as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<bob@example.org> SIZE=65537")
        assert r.code == 552 and r.lines[0].startswith("5.3.4"), r
        # not in a transaction after the refusal
        r = c.cmd("RCPT TO:<alice@example.test>")
        assert r.code == 503, r
        c.expect("MAIL FROM:<bob@example.org> SIZE=65536", 250)
        r = c.cmd("MAIL FROM:<bob@example.org> SIZE=99999999999999999999999")
        assert r.code in (501, 552, 503), r
        c.quit()


def test_message_over_size_limit(make_server):
    srv = make_server(smtp_max_message_size="64K")
    msgid, msg = simple_message(body=(b"y" * 998 + b"\r\n") * 70)
    assert len(msg) > 65536
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.reply()
        assert r.code == 552 and r.lines[0].startswith("5.3.4"), r
        # the session goes on
        msgid2, msg2 = simple_message()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg2).code == 250
        c.quit()
    assert srv.find("alice", msgid) == []
    assert len(srv.find("alice", msgid2)) == 1
    assert len(srv.messages("alice")) == 1
    assert srv.files("alice", sub="tmp") == []
    assert re.search(r"smtp rejected from=<bob@example.org> size=\d+ "
                     r"reason=<too big>", srv.log())


def test_message_just_under_size_limit(make_server):
    srv = make_server(smtp_max_message_size="64K")
    head = b"Subject: fits\r\nMessage-Id: <fits@example.org>\r\n\r\n"
    body = b"z" * 900 + b"\r\n"
    msg = head + body * ((65536 - len(head)) // len(body))
    assert len(msg) <= 65536
    with srv.connect() as c:
        c.ehlo()
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg).code == 250
        c.quit()
    data = srv.messages("alice")[0]
    assert split_trace(data)[1] == msg


def test_header_over_limit(make_server):
    srv = make_server(smtp_max_header_size="2K")
    msgid = new_msgid()
    msg = (b"Message-Id: " + msgid.encode() + b"\r\n" +
           b"".join(b"X-Filler-%d: %s\r\n" % (i, b"h" * 70) for i in range(40)) +
           b"\r\nsmall body\r\n")
    with srv.connect() as c:
        c.ehlo()
        r = c.send_mail("bob@example.org", ["alice@example.test"], msg)
        assert r.code == 552, r
        # a big body under a small header is fine
        msgid2, msg2 = simple_message(body=b"b" * 500 + b"\r\n" * 20)
        msg2 = msg2 + (b"c" * 1000 + b"\r\n") * 10
        assert c.send_mail("bob@example.org", ["alice@example.test"],
                           msg2).code == 250
        c.quit()
    assert srv.find("alice", msgid) == []
    assert len(srv.find("alice", msgid2)) == 1


# --- smuggling ---------------------------------------------------------------

SMUGGLE_ENDINGS = {
    "lf-dot-lf": b"\n.\n",
    "cr-dot-cr": b"\r.\r",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
}


@pytest.mark.parametrize("name", sorted(SMUGGLE_ENDINGS))
def test_smuggling(server, name):
    ending = SMUGGLE_ENDINGS[name]
    outer_id, inner_id = new_msgid(), new_msgid()
    smuggled = (b"MAIL FROM:<admin@example.test>\r\n"
                b"RCPT TO:<bob@example.test>\r\n"
                b"DATA\r\n"
                b"From: admin@example.test\r\n"
                b"Message-Id: " + inner_id.encode() + b"\r\n"
                b"Subject: smuggled\r\n\r\nsmuggled body\r\n")
    content = (b"From: bob@example.org\r\nMessage-Id: " + outer_id.encode() +
               b"\r\nSubject: outer\r\n\r\nouter body" + ending + smuggled)
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(content + b"\r\n.\r\n")
        r = c.reply()
        # a bare CR or LF is refused (README: 554 5.6.0)
        assert r.code == 554 and r.lines[0].startswith("5.6.0"), r
        # exactly one reply: nothing from the smuggled commands
        c.expect("NOOP", 250)
        assert c.buf == b""
        c.quit()
    assert server.find("bob", inner_id) == [], "smuggled message delivered"
    assert server.find("alice", inner_id) == []
    assert server.find("alice", outer_id) == []
    assert server.messages("bob") == []
    assert server.files("alice", sub="tmp") == []


def test_dot_lines_are_not_end_of_data(server):
    """'.' followed by anything but CRLF is content, the real end is
    CRLF.CRLF only; a stuffed '..' line is unstuffed once."""
    msgid = new_msgid()
    wire = (b"Message-Id: " + msgid.encode() + b"\r\n\r\n"
            b"..\r\n"
            b". \r\n"
            b".x\r\n"
            b"...\r\n"
            b"end\r\n")
    stored = (b"Message-Id: " + msgid.encode() + b"\r\n\r\n"
              b".\r\n"
              b" \r\n"
              b"x\r\n"
              b"..\r\n"
              b"end\r\n")
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(wire + b".\r\n")
        assert c.reply().code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert split_trace(data)[1] == stored


def test_end_of_data_split_across_packets(server):
    import time
    msgid, msg = simple_message()
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(msg[:-1])
        for piece in (b"\n", b".", b"\r", b"\n"):
            time.sleep(0.05)
            c.send(piece)
        assert c.reply().code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert split_trace(data)[1] == msg


def test_data_byte_at_a_time(server):
    import time
    msgid, msg = simple_message(body=b".dot\r\nline two\r\n")
    wire = b"DATA\r\n" + msg.replace(b"\r\n.dot", b"\r\n..dot") + b".\r\n"
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        for i in range(len(wire)):
            c.send(wire[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.002)
        assert c.reply().code == 354
        assert c.reply().code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert split_trace(data)[1] == msg


# --- BDAT (CHUNKING) ------------------------------------------------------------

def bdat(c, chunk, last=False):
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
    return c.reply()


def test_bdat_chunks(server):
    msgid = new_msgid()
    # binary-safe: dot lines are not unstuffed, CRLF.CRLF is content,
    # NUL and 8-bit bytes pass
    parts = [
        b"Message-Id: " + msgid.encode() + b"\r\nSubject: chunks\r\n\r\n",
        b"..two dots stay two dots\r\n.\r\n",
        b"NUL\x00byte and 8-bit \xff\xfe\xe9\r\n",
        b"MAIL FROM:<x@example.org>\r\nQUIT\r\n",
    ]
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        for p in parts[:-1]:
            r = bdat(c, p)
            assert r.code == 250, r
        r = bdat(c, parts[-1], last=True)
        assert r.code == 250 and "queued as" in r.lines[0], r
        c.expect("NOOP", 250)
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert split_trace(data)[1] == b"".join(parts)


def test_bdat_pipelined_whole_transaction(server):
    msgid = new_msgid()
    content = b"Message-Id: " + msgid.encode() + b"\r\n\r\nbody\r\n"
    with server.connect() as c:
        c.ehlo()
        c.send(b"MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
               b"BDAT 10\r\n" + content[:10] +
               b"BDAT %d LAST\r\n" % (len(content) - 10) + content[10:] +
               b"NOOP\r\n")
        codes = [c.reply().code for _ in range(5)]
        assert codes == [250, 250, 250, 250, 250]
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert split_trace(data)[1] == content


def test_bdat_zero_last(server):
    msgid = new_msgid()
    content = b"Message-Id: " + msgid.encode() + b"\r\n\r\nzero last\r\n"
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        assert bdat(c, content).code == 250
        r = c.cmd("BDAT 0 LAST")
        assert r.code == 250 and "queued as" in r.lines[0], r
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    assert split_trace(data)[1] == content


def test_bdat_without_final_crlf(server):
    msgid = new_msgid()
    content = b"Message-Id: " + msgid.encode() + b"\r\n\r\nno newline at end"
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        assert bdat(c, content, last=True).code == 250
        c.quit()
    data = open(server.find("alice", msgid)[0], "rb").read()
    body = split_trace(data)[1]
    assert body in (content, content + b"\r\n")


def test_bdat_before_rcpt_consumes_chunk(server):
    with server.connect() as c:
        c.ehlo()
        # before MAIL
        r = bdat(c, b"QUIT\r\n")
        assert r.code == 503, r
        c.expect("NOOP", 250)
        c.expect("MAIL FROM:<bob@example.org>", 250)
        # before RCPT: the chunk is still read and thrown away
        r = bdat(c, b"QUIT\r\n")
        assert r.code == 503, r
        r = bdat(c, b"RSET\r\n", last=True)
        assert r.code == 503, r
        c.expect("NOOP", 250)
        # the transaction is still open: RCPT and a real BDAT work
        c.expect("RCPT TO:<alice@example.test>", 250)
        msgid, msg = simple_message()
        assert bdat(c, msg, last=True).code == 250
        c.quit()
    assert len(server.find("alice", msgid)) == 1


def test_bdat_then_data_refused(server):
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        assert bdat(c, b"Subject: x\r\n\r\n").code == 250
        r = c.cmd("DATA")
        assert r.code == 503, r
        c.expect("RSET", 250)
        c.quit()
    assert server.messages("alice") == []


def test_bdat_over_size_limit(make_server):
    srv = make_server(smtp_max_message_size="16K")
    with srv.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        chunk = b"Subject: big\r\n\r\n" + (b"q" * 998 + b"\r\n") * 10
        assert bdat(c, chunk).code in (250, 552)
        r = bdat(c, chunk, last=True)
        assert r.code == 552, r
        c.expect("NOOP", 250)
        c.quit()
    assert srv.messages("alice") == []
    assert srv.files("alice", sub="tmp") == []


def test_bdat_bad_size_closes(server):
    with server.connect() as c:
        c.ehlo()
        r = c.cmd("BDAT lots")
        assert r.code == 501, r
        assert c.is_closed()


def test_bdat_bare_lf_refused(server):
    msgid = new_msgid()
    with server.connect() as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.org>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        r = bdat(c, b"Message-Id: " + msgid.encode() +
                 b"\r\n\r\nbare\nlf\r\n", last=True)
        assert r.code == 554, r
        c.quit()
    assert server.find("alice", msgid) == []
