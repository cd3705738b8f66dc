"""The certificate lifecycle agent (``pyscep monitor``): keystores watched, renewed in time.

A TOML configuration lists keystores (`load_config`); `status` says where each
stands, `renew_all` renews those that are due (a key swap that survives a
crash, a CA rollover followed, PENDING polled on the next run). The modules:
``config``, ``keystores`` (PEM, PKCS#12, JKS), ``rollover``, ``run``,
``state`` (what a run leaves for the next) and ``status``.
"""

from __future__ import annotations

from .config import KeystoreConfig, MonitorConfigError, load_config
from .run import EXIT_FAILED, EXIT_PENDING, Outcome, renew_all
from .state import MonitorState
from .status import status

__all__ = [
    "EXIT_FAILED",
    "EXIT_PENDING",
    "KeystoreConfig",
    "MonitorConfigError",
    "MonitorState",
    "Outcome",
    "load_config",
    "renew_all",
    "status",
]
