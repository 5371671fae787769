"""The ``netbench`` command group: one verb per module in ``harness.commands``."""
from __future__ import annotations

import sys

import click

from fl_core.errors import NetbenchError


class _Group(click.Group):
    """A click group that turns the project's own errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context):  # noqa: D102
        try:
            return super().invoke(ctx)
        except NetbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="fedlora-netbench")
def main() -> None:
    """Federated LoRA fine-tuning, replayed through ns-3 TCP networks."""


def _register() -> None:
    import importlib
    import pkgutil

    import harness.commands as commands

    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"harness.commands.{info.name}")
        for name in getattr(module, "__all__", []):
            main.add_command(getattr(module, name))


_register()
