"""``netbench verify``: decode every recorded message of a run and check it against the rounds table."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["verify"]


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
def verify(run: Path) -> None:
    """Check that every blob of RUN has the recorded size and SHA-256 and decodes as a valid message."""
    from fl_core.errors import RunDirError
    from fl_core.rundir.reader import read_run, verify_blobs

    record = read_run(run)
    foreign = record.meta.get("recorder")
    if foreign is not None:  # a run directory written by another framework's recorder (integrations/)
        blobs = record.meta.get("blobs")
        kept = f"its blobs are {foreign}'s own messages ({blobs})" if blobs else "it kept no blobs"
        raise RunDirError(f"{run} was recorded from a {foreign} app and {kept}, not netbench messages: "
                          f"nothing for netbench verify to decode")
    if not record.meta.get("config", {}).get("keep_blobs", True):
        raise RunDirError(f"{run} was trained with --no-blobs: only sizes and hashes were kept")
    checked = verify_blobs(record)
    click.echo(f"{run}: {checked} messages verified (size, sha256, frame, checksum, payload)")
