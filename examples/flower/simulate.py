"""Simulate the FlowerTune-style app in-process and write its run directory (docs/FLOWER.md).

    PYTHONPATH=. python examples/flower/simulate.py --out runs/flower-fedit

then replay it like any run: ``netbench sweep runs/flower-fedit --networks 0.2/1,1/5,2/10,5/25 ...``.
It prints the ``netbench train`` command that trains the same configuration natively.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `examples` as a package

from examples.flower.flowertune_netbench.task import Settings  # noqa: E402
from integrations.flower.sizes import SIZES  # noqa: E402


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run directory to write (new).")
@click.option("--clients", default=Settings.clients, show_default=True, help="Simulated SuperNodes (partitions).")
@click.option("--rounds", default=Settings.rounds, show_default=True, help="FedAvg rounds.")
@click.option("--local-steps", default=Settings.local_steps, show_default=True, help="Local AdamW steps per round.")
@click.option("--batch-size", default=Settings.batch_size, show_default=True)
@click.option("--max-len", default=Settings.max_len, show_default=True, help="Tokens per example.")
@click.option("--rank", default=Settings.rank, show_default=True, help="LoRA rank.")
@click.option("--model", default=Settings.model, show_default=True)
@click.option("--seed", default=Settings.seed, show_default=True)
@click.option("--workers", default=1, show_default=True, help="ClientApp actors in parallel (one CPU each).")
@click.option("--size", type=click.Choice(SIZES), default="objects", show_default=True,
              help="Which size is uplink/downlink_bytes (docs/FLOWER.md).")
@click.option("--flower-blobs", is_flag=True, help="Keep each message's Flower protobuf bytes under blobs/.")
def main(out, clients, rounds, local_steps, batch_size, max_len, rank, model, seed, workers, size,
         flower_blobs) -> None:
    """Run the app under Flower's simulation runtime; the recorder writes OUT."""
    from fl_core.run.device import resolve
    from fl_core.errors import NetbenchError
    from integrations.flower import FlowerRecorder, simulate
    from integrations.flower.errors import require_flwr

    try:
        require_flwr()
    except NetbenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from examples.flower.flowertune_netbench.client_app import make_client_app
    from examples.flower.flowertune_netbench.server_app import make_server_app

    settings = Settings(model=model, clients=clients, rounds=rounds, local_steps=local_steps, batch_size=batch_size,
                        max_len=max_len, rank=rank, seed=seed)
    try:
        recorder = FlowerRecorder(out, app_name="flowertune-fedavg", size=size, keep_blobs=flower_blobs,
                                  compute=resolve("cpu").describe(), config=settings.to_dict())
        simulate(make_server_app(settings, recorder), make_client_app(settings), recorder,
                 num_supernodes=clients, ray_cpus=workers)
    except NetbenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {out}; the same configuration natively:\n  netbench train --method fedit --model {model} "
               f"--clients {clients} --participants {clients} --rounds {rounds} --local-steps {local_steps} "
               f"--batch-size {batch_size} --max-len {max_len} --rank {rank} --seed {seed} --threads 1 --device cpu "
               f"--arc-subset 0 --arc-final 0 --eval-every {rounds} --no-blobs --out RUN")


if __name__ == "__main__":
    main()
