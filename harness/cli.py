"""The ``netbench`` command group: one verb per module in ``harness.commands``."""
from __future__ import annotations

import sys

import click

from fl_core.errors import NetbenchError


#: ``ctx.meta`` key of a callable a command sets: what to tell the user after Ctrl-C (how to resume).
INTERRUPT_HINT = "netbench.interrupt_hint"


def on_interrupt(hint) -> None:
    """Register ``hint() -> str``, printed after ``interrupted`` if the user stops the command with Ctrl-C."""
    click.get_current_context().find_root().meta[INTERRUPT_HINT] = hint


def continue_command() -> str:
    """This process's command line as the user can paste it again (``netbench sweep ...``), for interrupt hints."""
    import shlex

    return shlex.join(["netbench", *sys.argv[1:]])


def _os_error_line(exc: OSError) -> str:
    """``/x/y: No space left on device`` from any OSError: the file (when known) and the reason."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


class _Group(click.Group):
    """A click group that turns the project's own errors into one clear line and exit code 2.

    An ``OSError`` that escapes a command (a disk that fills up, a folder that cannot be
    created or written) is also one ``error:`` line; the commands check their ``--out``
    before any work, so this is the net under those checks.
    """

    def invoke(self, ctx: click.Context):  # noqa: D102
        try:
            return super().invoke(ctx)
        except NetbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:
            click.echo(f"error: {_os_error_line(exc)}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            hint = ctx.meta.get(INTERRUPT_HINT)
            click.echo(f"\ninterrupted{'; ' + hint() if hint else ''}", err=True)
            sys.exit(130)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List every command with its whole first sentence (click cuts it at the terminal width)."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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
