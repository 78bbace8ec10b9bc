"""ClientHello edge cases against the relay (docs/protocol.md §1–§2).

Each case gets its documented answer — through to the agent, TLS alert unrecognized_name (112)
or decode_error (50), or a plain close — with the reason in the relay's log, while a good tunnel
on the same relay keeps serving during and after. The ClientHellos are real ones (OpenSSL's,
through Python's ssl module with memory BIOs) that the test carries to the wire itself: byte by
byte, re-fragmented into two TLS records, padded past one MTU, cut short.
"""
import socket
import threading
import time
import types

import pytest

from nfltrlab import (DOMAIN, Agent, MemTLS, Origin, Relay, curl_tunnel, der_fingerprint,
                      http_get_bytes, pem_to_der, read_until_closed, record, s_client,
                      served_cert_pem, split_records)

ALERT_DECODE_ERROR = 50       # RFC 8446 §6.2
ALERT_UNRECOGNIZED_NAME = 112  # RFC 6066 §3


def assert_serves(env, path="/still-serving"):
    """The good tunnel answers a real client (curl), and the relay is still up."""
    assert env.relay.proc.alive(), f"the relay died:\n{env.relay.log()}"
    r = curl_tunnel(env.tunnel, path)
    assert r.curl_rc == 0 and r.status == 200, r


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def assert_refused(relay, client_port, reason):
    """The relay logged this very connection (by the client's port) with the reason."""
    relay.wait_log(rf"refused peer=127\.0\.0\.1:{client_port} reason={reason}\b")


def assert_alert(data, how, description):
    """Exactly one fatal alert record `15 03 0x 00 02 02 <description>`, then the close."""
    assert len(data) == 7, f"expected one 7-byte alert record, got {data.hex()} ({how})"
    assert data[0] == 0x15 and data[1] == 0x03 and data[2] <= 0x04, data.hex()
    assert data[3:6] == b"\x00\x02\x02", f"not a fatal alert: {data.hex()}"
    assert data[6] == description, f"alert {data[6]}, expected {description}"
    assert how in ("eof", "reset"), f"the relay left the connection open after the alert ({how})"


def assert_hello_refused(env, hello, description, reason):
    """hello (bytes, in one write) gets exactly the alert, the relay logs the reason for this
    connection, and the good tunnel still serves."""
    with connect(env.relay.port) as s:
        port = s.getsockname()[1]
        s.sendall(hello)
        data, _, how = read_until_closed(s, 10)
    assert_alert(data, how, description)
    assert_refused(env.relay, port, reason)
    assert_serves(env)


def complete_and_get(env, tls, sock):
    """Finishes the handshake the test started, checks the certificate is the agent's and
    fetches a page through it."""
    tls.finish(sock)
    assert der_fingerprint(tls.peer_der()) == env.tunnel.fingerprint
    reply = tls.request(sock, http_get_bytes(env.tunnel.host, "/edge"))
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert any(q["path"] == "/edge" for q in env.origin.requests)


@pytest.fixture(scope="module")
def env(shared_tunnel):
    return shared_tunnel


def test_hello_in_one_byte_tcp_writes(env):
    tls = MemTLS(env.tunnel.host)
    with connect(env.relay.port) as s:
        half = len(tls.hello) // 2
        for i, b in enumerate(tls.hello):
            s.send(bytes([b]))
            # One byte per segment: with TCP_NODELAY each send leaves at once; the pause
            # keeps the relay from reading two at a time. There is no event to wait for.
            time.sleep(0.001)
            if i == half:
                assert_serves(env, "/during-1-byte")
        complete_and_get(env, tls, s)
    assert_serves(env)


@pytest.mark.parametrize("writes", ["one-write", "two-writes"])
def test_hello_split_across_two_tls_records(env, writes):
    tls = MemTLS(env.tunnel.host)
    records = split_records(tls.hello)
    assert len(records) == 1 and records[0][0] == 0x16, "OpenSSL sent more than one record"
    _, version, message = records[0]
    # Cut inside the server name itself, the one thing the relay reads.
    cut = message.index(env.tunnel.host.encode()) + 3
    first, second = record(0x16, version, message[:cut]), record(0x16, version, message[cut:])
    with connect(env.relay.port) as s:
        if writes == "one-write":
            s.sendall(first + second)
        else:
            s.sendall(first)
            assert_serves(env, "/during-two-records")
            s.sendall(second)
        complete_and_get(env, tls, s)
    assert_serves(env)


def test_hello_larger_than_one_mtu(env):
    # Post-quantum key shares make ClientHellos of 1.2-2 KB. OpenSSL 3.0 has no such group,
    # so the same size comes from a long ALPN list (the server ignores names it does not know).
    alpn = [f"x-pad-{i:02d}-" + "p" * 200 for i in range(10)] + ["http/1.1"]
    tls = MemTLS(env.tunnel.host, alpn=alpn)
    assert len(tls.hello) > 1500, len(tls.hello)
    with connect(env.relay.port) as s:
        # In MTU-sized TCP writes, as it would arrive from a real network.
        for off in range(0, len(tls.hello), 1400):
            s.sendall(tls.hello[off:off + 1400])
        complete_and_get(env, tls, s)
    assert_serves(env)


def test_hello_over_the_size_limit_gets_decode_error(env):
    # Past --hello-max-bytes (65536 by default, more than an ALPN list can fill): a real hello
    # whose handshake header says one byte more, refused as soon as that header is in.
    _, version, message = split_records(MemTLS(env.tunnel.host).hello)[0]
    big = message[:1] + (65536 - 4 + 1).to_bytes(3, "big") + message[4:]
    assert_hello_refused(env, record(0x16, version, big), ALERT_DECODE_ERROR, "hello-too-big")


def test_no_sni_gets_unrecognized_name(env):
    tls = MemTLS(None)
    assert_hello_refused(env, tls.hello, ALERT_UNRECOGNIZED_NAME, "no-sni")


@pytest.mark.parametrize("name", [f"nobody-here.{DOMAIN}", "example.com", f"a.b.{DOMAIN}"])
def test_unknown_name_gets_unrecognized_name(env, name):
    tls = MemTLS(name)
    assert_hello_refused(env, tls.hello, ALERT_UNRECOGNIZED_NAME, "unknown-name")


def test_garbage_is_closed(env):
    with connect(env.relay.port) as s:
        port = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: nfltr.localhost\r\n\r\n")
        data, took, how = read_until_closed(s, 10)
    assert data == b"", f"the relay answered garbage with {data!r}"
    assert how in ("eof", "reset"), "the relay kept a non-TLS connection open"
    assert_refused(env.relay, port, "not-tls")
    assert_serves(env)


def test_malformed_hello_gets_decode_error(env):
    # A handshake record holding a ClientHello whose declared length overruns its body.
    bogus = record(0x16, b"\x03\x01", b"\x01\x00\x00\x40" + b"\x03\x03" + b"\x00" * 10)
    assert_hello_refused(env, bogus + record(0x17, b"\x03\x03", b"\x00" * 60), ALERT_DECODE_ERROR,
                         "bad-hello")


@pytest.mark.parametrize("sent", [20, 0], ids=["partial-hello", "nothing"])
def test_client_that_never_finishes_is_closed_at_the_deadline(lab, sent):
    relay = Relay(lab, extra_args=["--handshake-timeout", "2"]).start()
    agent = Agent(lab)
    agent.login(relay)
    origin = Origin(lab)
    good = types.SimpleNamespace(relay=relay, origin=origin, tunnel=agent.http(origin.port))
    assert_serves(good, "/before")

    tls = MemTLS(good.tunnel.host)
    with connect(relay.port) as s:
        port = s.getsockname()[1]
        if sent:
            s.sendall(tls.hello[:sent])
        started = time.monotonic()
        result = {}
        reader = threading.Thread(target=lambda: result.update(
            zip(("data", "took", "how"), read_until_closed(s, 15))))
        reader.start()
        # The good tunnel serves while the stalled client waits out its deadline.
        assert_serves(good, "/during-stall")
        reader.join(20)
    took = time.monotonic() - started
    assert result.get("how") in ("eof", "reset"), f"not closed within 15 s: {result}"
    assert result["data"] == b"", f"expected a plain close, got {result['data'].hex()}"
    assert 1.5 <= took <= 6, f"closed after {took:.1f}s with --handshake-timeout 2"
    assert_refused(relay, port, "hello-timeout")
    assert_serves(good, "/after-stall")


def test_names_are_compared_in_lower_case(env):
    """protocol §2: SNI is compared in lower case; a trailing dot is removed."""
    for sni in (env.tunnel.host.upper(), env.tunnel.host + "."):
        rc, out = s_client(sni, env.relay.port)
        assert "Server public key is 256 bit" in out, f"SNI {sni!r} was not routed:\n{out}"
    assert der_fingerprint(pem_to_der(served_cert_pem(env.tunnel.host.upper(),
                                                      env.relay.port))) == env.tunnel.fingerprint
    assert_serves(env)
