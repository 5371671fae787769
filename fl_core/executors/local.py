"""The ``local`` executor: the clients of a round trained one after another in this process."""
from __future__ import annotations


class LocalExecutor:
    """Runs :meth:`fl_core.run.context.RunContext.client_step` in order; the reference every executor matches."""

    name = "local"
    remote = False  # clients train in this process: every method can

    def start(self, ctx) -> None:
        """Nothing to set up."""

    def run(self, ctx, round_idx: int, jobs: list[tuple[int, int]]) -> list:
        """``ClientResult`` of each ``(position, client)`` of ``jobs``, in order."""
        return [ctx.client_step(round_idx, position, client) for position, client in jobs]

    def compute_description(self) -> None:
        """The clients compute where the run context does (``None``: use its own description)."""
        return None

    def close(self) -> None:
        """Nothing to release."""
