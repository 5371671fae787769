"""Executors: where the clients of a round train.

``local`` trains them one after another in this process; ``ray`` trains them in parallel
as Ray actors, each holding one copy of the base model (:mod:`fl_core.executors.ray`).
Both run the same client step, so every message byte is the same whichever runs it.
Ray is an optional extra: :func:`import_ray` says exactly what to install when it is missing.
"""
from __future__ import annotations

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
