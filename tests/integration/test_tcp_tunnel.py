"""`nfltr tcp`: raw TCP inside the agent's TLS. `openssl s_client -connect ... -servername ...`
reaches a local TCP echo server and gets its bytes back, over the agent's certificate."""
import secrets
import subprocess

from nfltrlab import der_fingerprint, pem_to_der, served_cert_pem


def test_s_client_reaches_local_tcp_echo(lab, relay, logged_in, tcp_echo):
    t = logged_in.tcp(tcp_echo.port)
    assert t.mode == "verified", t.ready
    assert t.host and t.host.endswith(".nfltr.localhost"), t.url

    # The client is served the agent's certificate, the one the CLI printed.
    assert der_fingerprint(pem_to_der(served_cert_pem(t.host, relay.port))) == t.fingerprint

    payload = secrets.token_hex(24)
    client = lab.spawn("s_client", ["openssl", "s_client", "-connect",
                                    f"127.0.0.1:{relay.port}", "-servername", t.host,
                                    "-quiet", "-verify_quiet"],
                       stdin=subprocess.PIPE)
    client.p.stdin.write((payload + "\n").encode())
    client.p.stdin.flush()
    client.wait_line(payload, 20)
    assert payload.encode() in bytes(tcp_echo.received)
    client.p.stdin.close()
    client.stop()
