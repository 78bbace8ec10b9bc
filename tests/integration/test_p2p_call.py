"""Audio and video calls (issue 14) through the real relay and two real services: two
`nfltr p2p call --json` with test sources pair by code, carry their SDP and ICE on the
session's CALL stream and run webrtcbin's DTLS-SRTP between them. Both sides must decode
video frames and audio packets (the stats lines). A man in the middle of the signalling
(a rewritten DTLS fingerprint, the test hook NFLTR_CALL_TEST_TAMPER_FINGERPRINT) is refused."""
import json
import re

from nfltrlab import Relay, nfltr_bin, wait_until
from test_p2p_transfer import P2pAgent, service_log

# webrtcbin's libnice agent runs gupnp-igd (1.22 gives no way to turn UPnP off); two agents on
# one host race for the same SSDP port and gupnp logs a warning that G_DEBUG=fatal-warnings
# would make an abort. The media processes run without that one flag.
MEDIA_ENV = {"G_DEBUG": "gc-friendly"}


def events(proc):
    out = []
    for line in list(proc.lines):
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def caller(lab, agent, *extra, env=None):
    proc = lab.spawn(f"{agent.name}:call", [nfltr_bin(), "p2p", "call", "--json", "--video-source", "test",
                                            "--audio-source", "test", *extra],
                     env={**agent.env(), **MEDIA_ENV, **(env or {})}, split_stderr=True)
    code = json.loads(proc.wait_line(r'^\{"event":"code"', 60).string)["code"]
    assert re.fullmatch(r"\d{1,4}(-[a-z]+){3}", code), code
    return proc, code


def joiner(lab, agent, code, *extra, env=None):
    return lab.spawn(f"{agent.name}:join", [nfltr_bin(), "p2p", "call", code, "--json", "--video-source", "test",
                                            "--audio-source", "test", "--pattern", "ball", *extra],
                     env={**agent.env(), **MEDIA_ENV, **(env or {})}, split_stderr=True)


def last_stats(proc):
    stats = [e for e in events(proc) if e.get("event") == "stats"]
    return stats[-1] if stats else {}


def wait_media(proc, frames, packets, timeout):
    """Waits for a stats line with at least frames decoded and packets received."""
    def good(line):
        try:
            e = json.loads(line)
        except ValueError:
            return False
        # the path too: the first stats of a call may come before ICE's stats name the pair
        return (e.get("event") == "stats" and e["video_frames_decoded"] >= frames
                and e["audio_packets_received"] >= packets and e["path"] != "")
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in list(proc.lines) if good(line)]
        if found:
            return json.loads(found[-1])
        if not proc.alive():
            break
        time.sleep(0.5)
    raise AssertionError(f"{proc.name}: no {frames} frames and {packets} packets; output:\n{proc.text()}")


def test_call_direct(lab):
    relay = Relay(lab).start()
    a, b = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    a.login(relay)
    b.login(relay)
    call, code = caller(lab, a, "--duration", "300")
    join = joiner(lab, b, code, "--duration", "300")
    try:
        sa = wait_media(call, 8, 100, 240)
        sb = wait_media(join, 8, 100, 240)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{service_log(a)}\n{service_log(b)}") from None
    for s in (sa, sb):
        assert s["path"] == "direct", s
        assert s["state"] == "connected", s
        assert s["video_frames_received"] >= s["video_frames_decoded"] > 0
    assert any(e.get("event") == "connected" for e in events(call)), call.text()
    assert any(e.get("event") == "connected" for e in events(join)), join.text()
    # Hanging up on one side ends the other.
    call.stop()
    assert join.wait_exit(60) == 0, join.text()
    # The relay never saw the code's words, nor any SDP (it went inside the session's records).
    log = relay.log()
    # (as a sequence: single list words such as "agent" are ordinary words of its log)
    assert "-".join(code.split("-")[1:]) not in log
    assert "a=fingerprint" not in log and "m=video" not in log
    print(f"\ndirect: alice {sa}\n        bob {sb}")


def test_killed_caller_ends_the_peers_call(lab):
    """A media process that dies without hanging up (SIGKILL) leaves the bus: its service
    ends the call and tells the peer (bye), whose command then ends too."""
    import signal
    relay = Relay(lab).start()
    a, b = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    a.login(relay)
    b.login(relay)
    call, code = caller(lab, a, "--duration", "300")
    join = joiner(lab, b, code, "--duration", "300")
    join.wait_line(r'"event":"connected"', 240)
    call.stop(signal.SIGKILL)
    assert join.wait_exit(60) == 0, join.text()
    assert any(e.get("event") == "bye" for e in events(join)), join.text()


def test_tampered_fingerprint_is_refused(lab):
    relay = Relay(lab).start()
    a, b = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    a.login(relay)
    b.login(relay)
    call, code = caller(lab, a, "--duration", "60")
    join = joiner(lab, b, code, env={"NFLTR_CALL_TEST_TAMPER_FINGERPRINT": "1"})
    assert join.wait_exit(120) == 1, join.text()
    errors = [e for e in events(join) if e.get("event") == "error"]
    assert errors and "does not match the fingerprint in the authenticated SDP" in errors[0]["message"], join.text()
    assert not any(e.get("event") == "connected" for e in events(join)), join.text()
    # Bob's side hung up: Alice's call ends too, and neither counted a video frame as connected.
    assert call.wait_exit(60) in (0, 1), call.text()


# --- the relay fallback: TURN (coturn) next to the relay, credentials minted by the relay -----

VP8_KEYFRAME_320x240 = bytes.fromhex("9d012a4001f000")  # RFC 6386 §9.1: start code, width, height


def free_udp_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_turnserver(lab, secret):
    """coturn on loopback with the TURN REST API's shared secret (use-auth-secret)."""
    import random
    import shutil
    import pytest
    if not shutil.which("turnserver"):
        pytest.skip("coturn (turnserver) is not installed")
    port = free_udp_port()
    low = random.randrange(40000, 60000, 200)
    proc = lab.spawn("turnserver", ["turnserver", "-n", "--listening-ip", "127.0.0.1", "--listening-port", str(port),
                                    "--relay-ip", "127.0.0.1", "--min-port", str(low), "--max-port", str(low + 199),
                                    "--use-auth-secret", "--static-auth-secret", secret, "--realm", "nfltr.test",
                                    "--no-tls", "--no-dtls", "--no-tcp", "--no-cli", "--allow-loopback-peers",
                                    "--db", lab.path("turndb"), "--pidfile", lab.path("turn.pid"),
                                    "--log-file", "stdout", "--simple-log"])
    wait_until(lambda: stun_answers(port) or not proc.alive(), 30, "coturn to answer STUN")
    assert proc.alive(), proc.text()
    return proc, port, range(low, low + 200)


def stun_answers(port):
    """A STUN Binding request (RFC 5389 §6) to 127.0.0.1:port gets an answer."""
    import os
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12), ("127.0.0.1", port))
        try:
            return len(s.recv(2048)) >= 20
        except OSError:
            return False


def read_pcap(path):
    """[(src port, dst port, UDP payload)] of the IPv4 UDP packets of an Ethernet (lo) capture."""
    import struct
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        l2 = 14 if linktype == 1 else 16 if linktype == 113 else 0
        if len(pkt) < l2 + 28:
            continue
        ethertype = pkt[12:14] if linktype == 1 else pkt[14:16]
        if ethertype != b"\x08\x00":
            continue
        ip = pkt[l2:]
        ihl = (ip[0] & 0x0f) * 4
        if ip[9] != 17:
            continue
        udp = ip[ihl:]
        sport, dport = struct.unpack(">HH", udp[:4])
        out.append((sport, dport, udp[8:]))
    return out


def test_call_relayed_through_turn_carries_only_ciphertext(lab):
    import os
    import shutil
    import subprocess
    import pytest
    if os.geteuid() != 0 or not shutil.which("tcpdump"):
        pytest.skip("the capture on lo needs root and tcpdump")
    secret = "nfltr-test-turn-secret"
    secret_file = lab.path("turn.secret")
    with open(secret_file, "w") as f:
        f.write(secret + "\n")
    turn, turn_port, relay_ports = start_turnserver(lab, secret)
    relay = Relay(lab, extra_args=["--turn", f"turn:127.0.0.1:{turn_port}", "--turn-secret-file", secret_file]).start()
    a, b = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    a.login(relay)
    b.login(relay)
    pcap = lab.path("lo.pcap")
    cap = lab.spawn("tcpdump", ["tcpdump", "-i", "lo", "-U", "-n", "-s", "0", "-w", pcap, "udp"])
    cap.wait_line(r"listening on lo", 20)
    # The control: the same VP8 at the same size, as plain RTP (no SRTP) over loopback in the
    # same capture. The detector must find the marker in it.
    plain_port = free_udp_port()
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=20", "!",
                    "video/x-raw,width=320,height=240,framerate=15/1", "!", "vp8enc", "deadline=1", "!",
                    "rtpvp8pay", "mtu=1200", "!", "udpsink", "host=127.0.0.1", f"port={plain_port}"],
                   check=True, timeout=120, capture_output=True)
    call, code = caller(lab, a, "--relay-only", "--duration", "300")
    join = joiner(lab, b, code, "--relay-only", "--duration", "300")
    try:
        sa = wait_media(call, 8, 60, 240)
        sb = wait_media(join, 8, 60, 240)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{turn.text()[-3000:]}\n{service_log(a)}\n{service_log(b)}") from None
    call.stop()
    join.wait_exit(60)
    cap.stop(signal_int())
    assert sa["path"] == "relayed" and sb["path"] == "relayed", (sa, sb)
    packets = read_pcap(pcap)
    plain = [p for s, d, p in packets if d == plain_port]
    via_turn = [p for s, d, p in packets if turn_port in (s, d) or s in relay_ports or d in relay_ports]
    assert any(VP8_KEYFRAME_320x240 in p for p in plain), "the detector finds no cleartext VP8 keyframe"
    assert sum(len(p) for p in via_turn) > 100_000, f"only {sum(len(p) for p in via_turn)} bytes went through TURN"
    leaked = [p for s, d, p in packets if d != plain_port and VP8_KEYFRAME_320x240 in p]
    assert not leaked, f"{len(leaked)} packets outside the control carry a cleartext VP8 keyframe"
    print(f"\nrelayed: {len(via_turn)} packets, {sum(len(p) for p in via_turn)} bytes through TURN, none in clear; "
          f"the control's {len(plain)} plain RTP packets show the marker\nalice {sa}\nbob {sb}")


def signal_int():
    import signal
    return signal.SIGINT


# --- under loss: 5 % random loss and 20 ms round trip (tools/netlab's delay line) -----------

def test_call_keeps_going_under_loss(lab):
    """The relay and Alice in one namespace, Bob in the other, joined by the delay line with a
    20 ms round trip and 5 % loss each way: the call must keep decoding video and audio for its
    whole length (NACK/RTX, ULPFEC, Opus FEC and concealment at work). Reports frames decoded
    per second and the audio concealed."""
    import os
    import subprocess
    import sys
    import time
    import pytest
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(top, "tools", "netlab"))
    import netlab
    from nfltrlab import free_port, normalize_fingerprint, relay_bin
    from test_p2p_lossy import DOMAIN, NsAgent
    seconds = 40
    with netlab.Link(rtt_ms=20, loss=0.05, seed=11) as link:
        for side in ("a", "b"):
            link.hosts(side, {DOMAIN: link.addr_a})
        port = free_port()
        data = lab.mkdir("relay-data")
        relay = lab.spawn("relay", link.argv("a", [relay_bin(), "serve", "--listen", f"{link.addr_a}:{port}",
                                                    "--domain", DOMAIN, "--data-dir", data]))
        fp = normalize_fingerprint(relay.wait_line(r"listening.*(sha256:[0-9a-f]{64})", 20).group(1))
        key = subprocess.run([relay_bin(), "keys", "create", "--data-dir", data], capture_output=True,
                             text=True, env=lab.env()).stdout.split()[-1]
        a = NsAgent(lab, "alice", link, "a", True)
        b = NsAgent(lab, "bob", link, "b", True)
        for agent in (a, b):
            r = agent.run("login", "--relay", f"{DOMAIN}:{port}", "--fingerprint", fp,
                          env={"NFLTR_API_KEY": key}, timeout=120)
            assert r.returncode == 0, r.stderr
        common = ["p2p", "call", "--json", "--video-source", "test", "--audio-source", "test",
                  "--duration", str(seconds)]
        call = lab.spawn("alice:call", a.argv(*common), env={**a.env(), **MEDIA_ENV}, split_stderr=True)
        code = json.loads(call.wait_line(r'^\{"event":"code"', 60).string)["code"]
        join = lab.spawn("bob:join", b.argv(*common[:2], code, *common[2:], "--pattern", "ball"),
                         env={**b.env(), **MEDIA_ENV}, split_stderr=True)
        t0 = time.monotonic()
        assert join.wait_exit(seconds + 180) == 0, join.text()
        assert call.wait_exit(60) == 0, call.text()
        report = []
        for proc, who in ((call, "alice"), (join, "bob")):
            stats = [e for e in events(proc) if e.get("event") == "stats" and e["state"] == "connected"]
            assert len(stats) >= seconds // 2, proc.text()
            first, mid, last = stats[0], stats[len(stats) // 2], stats[-1]
            span = len(stats) - 1
            fps = (last["video_frames_decoded"] - first["video_frames_decoded"]) / max(span, 1)
            # The call kept going: the second half decoded video and audio too.
            assert last["video_frames_decoded"] > mid["video_frames_decoded"], (who, mid, last)
            assert last["audio_packets_received"] > mid["audio_packets_received"] + 100, (who, mid, last)
            assert last["path"] == "direct", last
            report.append(f"{who}: {fps:.1f} frames decoded/s over {span} s, {last['lost']} RTP packets lost, "
                          f"{last['audio_concealed_ms']} ms of audio concealed, video target {last['target_kbps']} kbit/s, "
                          f"round trip {last['rtt_ms']:.0f} ms")
        print("\n5 % loss, 20 ms RTT, " + f"{time.monotonic() - t0:.0f} s:\n  " + "\n  ".join(report))
        relay.stop()


# --- a call rung inside a running session (the chat pane's Call button) ----------------------

SERVICE = "xyz.nfltr.Nfltr.Service"


def bus(agent):
    import gi
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio
    return Gio.DBusConnection.new_for_address_sync(
        agent.env()["DBUS_SESSION_BUS_ADDRESS"],
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)


def managed(conn, iface):
    """{path: properties} of the service's objects with interface iface."""
    from gi.repository import GLib
    r = conn.call_sync(SERVICE, "/xyz/nfltr/Nfltr", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                       None, GLib.VariantType("(a{oa{sa{sv}}})"), 0, 10000, None).unpack()[0]
    return {path: ifaces[iface] for path, ifaces in r.items() if iface in ifaces}


def call_method(conn, path, iface, method, args=None, reply=None):
    from gi.repository import GLib
    return conn.call_sync(SERVICE, path, iface, method, args, GLib.VariantType(reply) if reply else None, 0, 10000,
                          None).unpack()


def test_ring_accept_and_decline_inside_a_chat_session(lab):
    """What the app's Call button in the chat pane does (app.start-call with the session's
    path): P2p.Call with "transfer" rings the peer, whose service exports a Call in state
    "ringing" (the incoming-call notification); Accept connects both, Hangup ends the peer's too;
    a second ring that is declined leaves the caller's Call "declined"."""
    from gi.repository import GLib
    relay = Relay(lab).start()
    a, b = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    a.login(relay)
    b.login(relay)
    import subprocess
    # stdin stays open: `p2p chat` ends its session at end of input.
    chat_a = lab.spawn("alice:chat", [nfltr_bin(), "p2p", "chat", "--json"], env=a.env(), split_stderr=True,
                       stdin=subprocess.PIPE)
    code = json.loads(chat_a.wait_line(r'^\{"event":"code"', 60).string)["code"]
    chat_b = lab.spawn("bob:chat", [nfltr_bin(), "p2p", "chat", code, "--json"], env=b.env(), split_stderr=True,
                       stdin=subprocess.PIPE)
    chat_a.wait_line(r'"state":"connected"', 120)
    chat_b.wait_line(r'"state":"connected"', 120)
    ca, cb = bus(a), bus(b)
    transfers = [p for p, props in managed(ca, "xyz.nfltr.Nfltr.Transfer").items() if props["State"] == "connected"]
    assert len(transfers) == 1, managed(ca, "xyz.nfltr.Nfltr.Transfer")

    def ring():
        path, _ = call_method(ca, "/xyz/nfltr/Nfltr/p2p", "xyz.nfltr.Nfltr.P2p", "Call",
                              GLib.Variant("(sa{sv})", ("", {"transfer": GLib.Variant("o", transfers[0]),
                                                             "video": GLib.Variant("b", True)})), "(os)")
        seen = set(managed(cb, "xyz.nfltr.Nfltr.Call"))
        incoming = wait_until(lambda: [p for p, props in managed(cb, "xyz.nfltr.Nfltr.Call").items()
                                       if props["State"] == "ringing"], 30, "Bob's service to show a ringing call")
        return path, incoming[0], seen

    def state(conn, path):
        return managed(conn, "xyz.nfltr.Nfltr.Call")[path]

    caller, callee, _ = ring()
    assert state(ca, caller)["State"] == "calling" and state(ca, caller)["Initiator"]
    assert state(cb, callee)["Verified"] and not state(cb, callee)["Initiator"] and state(cb, callee)["Video"]
    call_method(cb, callee, "xyz.nfltr.Nfltr.Call", "Accept")
    wait_until(lambda: state(ca, caller)["State"] == "connected", 30, "Alice's call to connect")
    assert state(cb, callee)["State"] == "connected"
    call_method(ca, caller, "xyz.nfltr.Nfltr.Call", "Hangup")
    wait_until(lambda: state(cb, callee)["State"] == "ended", 30, "Bob's call to end on Alice's hang-up")
    # Again, declined this time.
    caller2, callee2, _ = ring()
    call_method(cb, callee2, "xyz.nfltr.Nfltr.Call", "Hangup")
    wait_until(lambda: state(ca, caller2)["State"] == "declined", 30, "Alice's second call to be declined")
    assert state(cb, callee2)["State"] == "declined"
    # The chat session under both calls is still there.
    assert managed(ca, "xyz.nfltr.Nfltr.Transfer")[transfers[0]]["State"] == "connected"
