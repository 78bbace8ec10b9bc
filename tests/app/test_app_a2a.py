"""Issue 15: the app's Conversations window against the real relay and two real agents: after
bob sends alice a message and alice answers, alice's window shows her id and key fingerprint
(as `nfltr a2a id` prints them) and the conversation with bob — both messages, which way,
delivered, end-to-end encrypted — and labels a message sent without payload encryption."""
import json

import applab
from nfltrlab import Agent


def ident(agent):
    r = agent.run("a2a", "id", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_conversations_window(lab, relay, xvfb):
    alice, bob = Agent(lab, "alice"), Agent(lab, "bob")
    alice.login(relay)
    bob.login(relay)
    ida, idb = ident(alice), ident(bob)
    app = applab.App(lab, alice, xvfb)
    app.wait(lambda w: w.get("page") in ("empty", "tunnels"), 30, "the main window")
    r = bob.run("a2a", "send", ida["id"], "Hello alice, the build is green", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    r = alice.run("a2a", "send", idb["id"], "Thanks bob, merging now", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    r = alice.run("a2a", "send", idb["id"], "debug dump", "--no-payload-encryption", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    app.activate("conversations")

    def shown(w):
        page = w.get("conversations-window", {})
        convs = page.get("conversations", [])
        return page.get("id") == ida["id"] and convs and len(convs[0]["messages"]) == 3 and \
            "delivered" in convs[0]["messages"][1][1]

    app.wait(shown, 30, "the conversation with bob in the Conversations window")
    page = app.window()["conversations-window"]
    assert page["fingerprint"].replace(" ", "").replace(":", "").lower().endswith(
        ida["fingerprint"].split(":")[1][-8:]), page
    conv = page["conversations"][0]
    assert conv["title"] == f"Agent {idb['id']}"
    (t1, s1), (t2, s2), (t3, s3) = conv["messages"]
    assert t1 == "Hello alice, the build is green" and s1.startswith("received") and "end-to-end encrypted" in s1
    assert t2 == "Thanks bob, merging now" and s2.startswith("sent, delivered")
    assert t3 == "debug dump" and "NOT ENCRYPTED" in s3
    app.settle()
    xvfb.screenshot("a2a-conversations", title="Conversations")
