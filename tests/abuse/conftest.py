"""Fixtures for the abuse tests: the integration suite's own (a real relay, a private bus, the
CLI, origins — tests/integration/conftest.py, loaded as is, not copied), plus a raised
descriptor limit for the floods."""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")
sys.path.insert(0, INTEGRATION)
sys.path.insert(0, HERE)

_spec = importlib.util.spec_from_file_location("nfltr_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
# Fixtures and hooks are found by pytest as attributes of this module.
globals().update({k: v for k, v in vars(_integration).items()
                  if not k.startswith("__") and k not in ("os", "sys", "types")})

import abuselab  # noqa: E402

abuselab.raise_fd_limit()
