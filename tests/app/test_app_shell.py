"""The New Tunnel dialog's "Shell (SSH)" choice (service/kinds/shell), against the real service
and relay: its target is an authorized_keys file (empty: ~/.ssh/authorized_keys), and the
tunnel it creates lets OpenSSH log in with the key in that file."""
import getpass
import os
import subprocess

import applab


def test_dialog_creates_a_shell_that_openssh_logs_in_to(world):
    key = world.lab.path("keys", "id_app")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, timeout=30)
    keys = world.lab.path("app_authorized_keys")
    with open(key + ".pub") as f, open(keys, "w") as out:
        out.write(f.read())
    os.chmod(keys, 0o600)

    app = applab.App(world.lab, world.agent, world.xvfb)
    app.wait(lambda w: w.get("page") == "empty", 20, "the empty page (logged in, no tunnels)")
    app.open_new_tunnel(kind="shell", target="", name="app-shell")
    d = app.window()["new-tunnel-dialog"]
    assert d["kind"] == "shell" and "shell" in d["kinds"], d
    # Empty is the default file; a relative path is refused as typed.
    assert d["valid"] and d["validation"] == "", d
    app.fill_new_tunnel(target="keys/relative")
    d = app.window()["new-tunnel-dialog"]
    assert not d["valid"] and "authorized_keys" in d["validation"], d
    app.fill_new_tunnel(target=keys)
    d = app.window()["new-tunnel-dialog"]
    assert d["valid"] and d["validation"] == "", d
    app.settle()
    world.xvfb.screenshot("new-tunnel-shell", title="New Tunnel")

    app.activate("test-create")
    app.wait(lambda w: "new-tunnel-dialog" not in w and len(w.get("rows", [])) == 1, 30,
             "the dialog to close and the shell's row")
    app.wait(lambda w: w["rows"][0]["switch-state"] and w["rows"][0]["url"].startswith("https://"),
             20, "the shell online")
    host = "app-shell.nfltr.localhost"
    r = subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=accept-new",
         "-o", f"UserKnownHostsFile={world.lab.path('known_hosts')}",
         "-o", f"ProxyCommand=openssl s_client -quiet -verify_quiet -connect "
               f"127.0.0.1:{world.relay.port} -servername %h",
         f"{getpass.getuser()}@{host}", "echo made-in-the-dialog"],
        capture_output=True, timeout=60, env=world.agent.env(), stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout == b"made-in-the-dialog\n", r
