"""gRPC through NFLTR tunnels (issue 8 §6), with Debian's python3-grpcio on both ends: a
plain `grpc.server` on an insecure (h2c) port as the local server, and a TLS client that
trusts only the tunnel's certificate.

- `nfltr http`: the agent's HTTP/2 proxy probes the server, finds h2c and passes streams
  end to end — unary, server-streaming and bidirectional calls, status codes and trailers,
  metadata with the forwarding headers added.
- `nfltr http --origin-tls`: the same through a gRPC server with TLS of its own (ALPN h2).
- `nfltr tcp --alpn h2`: the raw TLS tunnel offers h2, so the same client works; without
  --alpn the client refuses the connection (no ALPN selected), which is what the issue saw.
"""
import os
import subprocess
from concurrent import futures

import grpc
import pytest

from nfltrlab import Agent, Relay, served_cert_pem

SERVICE = "nfltr.test.Echo"


def _ident(b):
    return b


class EchoServer:
    """Echo service with raw-bytes messages (no generated code): Unary echoes, Split streams
    one message per byte, Chat echoes each message of a stream, Fail aborts NOT_FOUND. Each
    call records the metadata it got."""

    def __init__(self, lab, credentials=None):
        self.metadata = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary, _ident, _ident),
            "Split": grpc.unary_stream_rpc_method_handler(self.split, _ident, _ident),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat, _ident, _ident),
            "Fail": grpc.unary_unary_rpc_method_handler(self.fail, _ident, _ident),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),))
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.server.start()
        lab.cleanups.append(lambda: self.server.stop(None))

    def _note(self, context):
        self.metadata.append(dict(context.invocation_metadata()))

    def unary(self, request, context):
        self._note(context)
        context.set_trailing_metadata((("x-echo-len", str(len(request))),))
        return b"echo:" + request

    def split(self, request, context):
        self._note(context)
        for i in range(len(request)):
            yield request[i:i + 1]

    def chat(self, requests, context):
        self._note(context)
        for r in requests:
            yield r.upper()

    def fail(self, request, context):
        self._note(context)
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing: " + request.decode())


def channel(tunnel):
    """A TLS channel to the tunnel through the relay, trusting only the tunnel's certificate."""
    pem = served_cert_pem(tunnel.host, tunnel.port).encode()
    creds = grpc.ssl_channel_credentials(root_certificates=pem)
    return grpc.secure_channel(f"127.0.0.1:{tunnel.port}", creds, options=(
        ("grpc.ssl_target_name_override", tunnel.host),
        ("grpc.default_authority", tunnel.host),
    ))


def calls(ch):
    return (ch.unary_unary(f"/{SERVICE}/Unary", _ident, _ident),
            ch.unary_stream(f"/{SERVICE}/Split", _ident, _ident),
            ch.stream_stream(f"/{SERVICE}/Chat", _ident, _ident),
            ch.unary_unary(f"/{SERVICE}/Fail", _ident, _ident))


@pytest.fixture(scope="module")
def lab_setup(mlab):
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    server = EchoServer(mlab)
    return agent, server


def test_grpc_through_http_tunnel(lab_setup):
    agent, server = lab_setup
    tunnel = agent.http(server.port)
    with channel(tunnel) as ch:
        unary, split, chat, fail = calls(ch)
        reply, call = unary.with_call(b"hello", timeout=20,
                                      metadata=(("x-forwarded-for", "198.51.100.9"),
                                                ("x-real-ip", "10.1.2.3")))
        assert reply == b"echo:hello"
        assert dict(call.trailing_metadata())["x-echo-len"] == "5"
        assert list(split(b"abcdef", timeout=20)) == [b"a", b"b", b"c", b"d", b"e", b"f"]
        # a bidirectional stream of many messages, large enough to need window updates
        msgs = [bytes([97 + i % 26]) * 20000 for i in range(200)]
        assert list(chat(iter(msgs), timeout=60)) == [m.upper() for m in msgs]
        with pytest.raises(grpc.RpcError) as err:
            fail(b"x", timeout=20)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert err.value.details() == "no such thing: x"
    md = server.metadata[0]
    assert md["x-forwarded-for"] == "198.51.100.9, 127.0.0.1", md
    assert md["x-forwarded-proto"] == "https", md
    assert md["x-forwarded-host"] == tunnel.host, md
    assert "x-real-ip" not in md, md


def test_grpc_wrong_authority_does_not_reach_the_server(lab_setup):
    agent, server = lab_setup
    tunnel = agent.http(server.port)
    before = len(server.metadata)
    pem = served_cert_pem(tunnel.host, tunnel.port).encode()
    creds = grpc.ssl_channel_credentials(root_certificates=pem)
    with grpc.secure_channel(f"127.0.0.1:{tunnel.port}", creds, options=(
            ("grpc.ssl_target_name_override", tunnel.host),
            ("grpc.default_authority", "other.example"))) as ch:
        unary = calls(ch)[0]
        with pytest.raises(grpc.RpcError) as err:
            unary(b"hello", timeout=20)
    # gRPC maps an HTTP 421 answer to UNKNOWN (or UNAVAILABLE), naming the status
    assert err.value.code() in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE), err.value
    assert "421" in err.value.details(), err.value.details()
    assert len(server.metadata) == before


def test_grpc_through_tcp_tunnel_with_alpn(lab_setup):
    agent, server = lab_setup
    tunnel = agent.tcp(server.port, "--alpn", "h2")
    with channel(tunnel) as ch:
        unary, split, chat, _ = calls(ch)
        assert unary(b"raw", timeout=20) == b"echo:raw"
        assert list(chat(iter([b"a", b"b"]), timeout=20)) == [b"A", b"B"]


def test_grpc_through_tcp_tunnel_without_alpn_fails(lab_setup):
    agent, server = lab_setup
    tunnel = agent.tcp(server.port)
    with channel(tunnel) as ch:
        with pytest.raises(grpc.RpcError) as err:
            calls(ch)[0](b"raw", timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def self_signed(lab, name="localhost"):
    """A throwaway certificate and key for a local TLS server, as PEM bytes."""
    d = lab.mkdir("origin-cert")
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    with open(key, "rb") as k, open(crt, "rb") as c:
        return c.read(), k.read()


def test_grpc_through_http_tunnel_to_a_tls_server(mlab, lab_setup):
    agent, _ = lab_setup
    crt, key = self_signed(mlab)
    server = EchoServer(mlab, credentials=grpc.ssl_server_credentials(((key, crt),)))
    tunnel = agent.http(server.port, "--origin-tls")
    with channel(tunnel) as ch:
        unary, split, chat, _ = calls(ch)
        assert unary(b"over tls", timeout=20) == b"echo:over tls"
        assert list(split(b"xyz", timeout=20)) == [b"x", b"y", b"z"]
        assert list(chat(iter([b"a", b"b"]), timeout=20)) == [b"A", b"B"]
    assert server.metadata[-1]["x-forwarded-for"] == "127.0.0.1", server.metadata[-1]
