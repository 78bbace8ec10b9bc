"""`nfltr command -- CMD ARGS…` through the relay: the body on stdin, stdout back, exit status
and stderr in headers, the status mapping, --timeout, --max-output, --concurrency, and
injection attempts that do nothing (no shell; --arg-from-query is one argv entry)."""
import concurrent.futures
import os
import types
import urllib.parse

import pytest

from nfltrlab import Agent, Relay, Tunnel, curl, nfltr_bin


@pytest.fixture(scope="module")
def env(mlab):
    relay = Relay(mlab).start()
    agent = Agent(mlab)
    agent.login(relay)
    return types.SimpleNamespace(relay=relay, agent=agent, lab=mlab)


def start(env, *args):
    argv = [nfltr_bin(), "command", "--json", *args]
    proc = env.lab.spawn("nfltr-command", argv, env=env.agent.env(), split_stderr=True)
    t = Tunnel(proc)
    t.wait_ready(60)
    return t


def call(t, query="", *args, timeout=30):
    url = t.url.rstrip("/") + "/" + (("?" + query) if query else "")
    return curl(url, "-k", "-D", "/dev/stderr", *args, resolve=(t.host, t.port), timeout=timeout)


def header(r, name):
    for line in r.stderr.splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def test_body_in_stdout_back(env):
    t = start(env, "--", "wc", "-c")
    r = call(t, "", "--data-binary", "hello world")
    assert r.status == 200 and r.body.strip() == b"11", r
    assert header(r, "X-Exit-Status") == "0"
    t.proc.stop()


def test_exit_status_and_stderr(env):
    t = start(env, "--", "ls", "/nonexistent-nfltr")
    r = call(t)
    assert r.status == 500, r
    assert header(r, "X-Exit-Status") == "2"
    assert "No such file" in header(r, "X-Stderr")
    t.proc.stop()


@pytest.mark.parametrize("value", [
    "a;touch {marker}",
    "$(touch {marker})",
    "`touch {marker}`",
    "a\ntouch {marker}",
    "a && touch {marker}",
    "| touch {marker}",
])
def test_injection_attempts_do_nothing(env, value, tmp_path):
    marker = str(tmp_path / "pwned")
    value = value.format(marker=marker)
    t = start(env, "--arg-from-query", "q", "--", "echo")
    r = call(t, "q=" + urllib.parse.quote(value, safe=""))
    assert r.status == 200, r
    # echo got exactly one argument: the value, unchanged
    assert r.body == value.encode() + b"\n", r
    assert not os.path.exists(marker)
    t.proc.stop()


def test_option_values_from_the_query_are_refused(env):
    t = start(env, "--arg-from-query", "q", "--", "echo")
    for value in ("--help", "-n", "-e\\x41"):
        r = call(t, "q=" + urllib.parse.quote(value, safe=""))
        assert r.status == 400 and "may not start with".encode() in r.body, r
    # other parameters never reach the command
    r = call(t, "x=" + urllib.parse.quote("; touch /tmp/x", safe="") + "&q=ok")
    assert r.body == b"ok\n", r
    t.proc.stop()


def test_without_arg_from_query_the_query_is_ignored(env):
    t = start(env, "--", "echo", "fixed")
    r = call(t, "q=" + urllib.parse.quote("$(id)", safe=""))
    assert r.status == 200 and r.body == b"fixed\n", r
    t.proc.stop()


def test_timeout(env):
    t = start(env, "--timeout", "1", "--", "sleep", "30")
    r = call(t, timeout=20)
    assert r.status == 504 and header(r, "X-Exit-Status") == "timeout", r
    t.proc.stop()


def test_max_output(env):
    t = start(env, "--max-output", "100K", "--", "yes")
    r = call(t, timeout=20)
    assert r.status == 502 and header(r, "X-Exit-Status") == "output-limit", r
    assert b"over the limit" in r.body
    t.proc.stop()


def test_concurrency(env):
    t = start(env, "--concurrency", "1", "--", "sleep", "2")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: call(t, timeout=20), range(3)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) >= 1 and 503 in statuses, results
    t.proc.stop()


def test_basic_auth(env):
    t = start(env, "--basic-auth", "u:p4ssword", "--", "echo", "secret output")
    r = call(t)
    assert r.status == 401 and b"secret output" not in r.body, r
    r = call(t, "", "-u", "u:wrong")
    assert r.status == 401, r
    r = call(t, "", "-u", "u:p4ssword")
    assert r.status == 200 and r.body == b"secret output\n", r
    t.proc.stop()


def test_token(env):
    t = start(env, "--token=c0mmand-t0ken", "--", "echo", "token output")
    r = call(t)
    assert r.status == 401 and b"token output" not in r.body, r
    r = call(t, "token=c0mmand-t0keX")
    assert r.status == 401 and b"token output" not in r.body, r
    r = call(t, "token=c0mmand-t0ken")
    assert r.status == 200 and r.body == b"token output\n", r
    t.proc.stop()


def test_token_made_when_not_given(env):
    t = start(env, "--token", "--", "echo", "random token output")
    m = t.proc.wait_line(r"Access token: ([A-Za-z0-9_-]{20,}) ", 10, stream="err")
    assert call(t).status == 401
    r = call(t, "token=" + m.group(1))
    assert r.status == 200 and r.body == b"random token output\n", r
    t.proc.stop()


def test_bad_command_line(env):
    r = env.agent.run("command")
    assert r.returncode == 2, r
    r = env.agent.run("command", "--", "no-such-program-nfltr")
    assert r.returncode == 1 and "is not a program found in PATH" in r.stderr, r
