"""``netbench verify``: decode every recorded message of a run and check it against the rounds table."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["verify"]


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
def verify(run: Path) -> None:
    """Check that every blob of RUN has the recorded size and SHA-256 and decodes as a valid message."""
    from fl_core.codec.wire import decode_message
    from fl_core.errors import CodecError, RunDirError
    from fl_core.rundir import read_run, sha256

    record = read_run(run)
    if not record.meta.get("config", {}).get("keep_blobs", True):
        raise RunDirError(f"{run} was trained with --no-blobs: only sizes and hashes were kept")
    checked = 0
    for row in record.rounds.itertuples():
        for direction, size, digest in (("down", row.downlink_bytes, row.downlink_sha256),
                                        ("up", row.uplink_bytes, row.uplink_sha256)):
            path = record.blob_path(row.round, row.client, direction)
            if not path.is_file():
                raise RunDirError(f"{path}: blob missing")
            data = path.read_bytes()
            if len(data) != size or sha256(data) != digest:
                raise RunDirError(f"{path}: {len(data)} bytes / sha256 differ from rounds.csv ({size} bytes)")
            try:
                decode_message(data)
            except CodecError as exc:
                raise CodecError(f"{path}: {exc}") from None
            checked += 1
    click.echo(f"{run}: {checked} messages verified (size, sha256, frame, checksum, payload)")
