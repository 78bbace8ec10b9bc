"""tools/sanitizer-run, the sanitizer build's test wrapper, checked on itself: a leak in a
process the test did not run directly (a grandchild, as the relay is to an integration test)
fails the test — with the stack, whole — although the test command exited 0; a clean run
passes.
Only in the sanitizer build (NFLTR_SANITIZER=1), where the helper is built with ASan."""
import os
import subprocess

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("NFLTR_SANITIZER"),
                                reason="not the sanitizer build")
WRAPPER = os.path.join(os.environ.get("NFLTR_SOURCE_ROOT", ""), "tools", "sanitizer-run")
LEAKER = os.path.join(os.environ.get("NFLTR_BUILD_ROOT", ""), "tests", "abuse", "sanitizer-leak")


def run(*argv):
    return subprocess.run([WRAPPER, *argv], capture_output=True, text=True, timeout=120)


def test_a_leak_in_a_grandchild_fails_the_test():
    # The command itself exits 0 whatever its child did, as pytest does when a relay it ran
    # aborted at its leak check.
    r = run("/bin/sh", "-c", f"{LEAKER}; echo child exited $?; exit 0")
    assert "child exited" in r.stdout, r.stdout + r.stderr
    assert r.returncode != 0, f"the wrapper passed a leaking run:\n{r.stderr}"
    assert "LeakSanitizer" in r.stderr and "33 byte(s)" in r.stderr, r.stderr
    assert "sanitizer-leak.c" in r.stderr, f"no whole stack in the report:\n{r.stderr}"


def test_a_clean_run_passes():
    r = run("/bin/sh", "-c", "exit 0")
    assert r.returncode == 0, r.stderr
    assert "sanitizer report" not in r.stderr, r.stderr
