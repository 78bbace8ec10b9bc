"""Audio and video calls (issue 14) through the real relay and two real services: two
`nfltr p2p call --json` with test sources pair by code, carry their SDP and ICE on the
session's CALL stream and run webrtcbin's DTLS-SRTP between them. Both sides must decode
video frames and audio packets (the stats lines). A man in the middle of the signalling
(a rewritten DTLS fingerprint, the test hook NFLTR_CALL_TEST_TAMPER_FINGERPRINT) is refused."""
import json
import re

from nfltrlab import Relay, nfltr_bin
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
        return (e.get("event") == "stats" and e["video_frames_decoded"] >= frames
                and e["audio_packets_received"] >= packets)
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(good(line) for line in list(proc.lines)):
            return last_stats(proc)
        if not proc.alive():
            break
        time.sleep(0.5)
    raise AssertionError(f"{proc.name}: no {frames} frames and {packets} packets; output:\n{proc.text()}")


def test_call_direct(lab):
    relay = Relay(lab).start()
    a, b = P2pAgent(lab, "alice"), P2pAgent(lab, "bob")
    a.login(relay)
    b.login(relay)
    call, code = caller(lab, a, "--duration", "40")
    join = joiner(lab, b, code, "--duration", "40")
    try:
        sa = wait_media(call, 15, 100, 150)
        sb = wait_media(join, 15, 100, 150)
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
    assert not any(w in log for w in code.split("-")[1:])
    assert "a=fingerprint" not in log and "m=video" not in log
    print(f"\ndirect: alice {sa}\n        bob {sb}")


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
