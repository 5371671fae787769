"""Executors: where the clients of a round train.

``local`` trains them one after another in this process; ``ray`` trains them in parallel
as Ray actors, each holding one copy of the base model (:mod:`fl_core.executors.ray_actors`).
Both run the same client step, so every message byte is the same whichever runs it.
Ray is an optional extra: :func:`import_ray` says exactly what to install when it is missing.
"""
from __future__ import annotations

import os

from fl_core.errors import ConfigError

EXECUTORS = ("local", "ray")
RAY_REQUIREMENT = "ray==2.60.0"


def import_ray():
    """The ``ray`` module, or one ``ConfigError`` line naming the package to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: pip install 'fedlora-netbench[ray]' "
                          f"(or pip install {RAY_REQUIREMENT})") from None
    return ray


def ray_session(address: str | None = None, num_cpus: int | None = None):
    """The ``ray`` module with Ray running: the instance already started in this process, the cluster
    at ``address`` (``auto``, ``ray://host:port`` or ``host:port``), or a new local instance
    (``num_cpus``: default all of this machine's)."""
    ray = import_ray()
    address = address or os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        options = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
        ray.init(logging_level="ERROR", log_to_driver=False, **options)
    return ray
