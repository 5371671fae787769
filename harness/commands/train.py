"""``netbench train``: one federated fine-tuning run written to a run directory."""
from __future__ import annotations

from pathlib import Path

import click

from fl_core.config import EcoLoRAConfig, RunConfig
from harness.params import links_option

__all__ = ["train"]

_UNIT = click.FloatRange(0, 1, min_open=True)


def parse_method(text: str) -> tuple[str, bool]:
    """``fedit`` or ``fedit+ecolora`` -> (base method, EcoLoRA on?)."""
    from fl_core.errors import ConfigError
    from fl_core.methods import get_method

    base, _, suffix = text.partition("+")
    if suffix and suffix != "ecolora":
        raise ConfigError(f"unknown method suffix {suffix!r} in {text!r}; only '+ecolora' composes")
    cls = get_method(base)
    if suffix and not cls.composes_with_ecolora:
        raise ConfigError(f"method {base!r} does not compose with EcoLoRA")
    return base, bool(suffix)


def build_config(opts: dict) -> RunConfig:
    """A validated ``RunConfig`` from the command's options."""
    base, eco_in_name = parse_method(opts["method"])
    eco = None
    if opts["ecolora"] or eco_in_name:
        eco = EcoLoRAConfig(
            round_robin=opts["round_robin"], n_segments=opts["segments"], beta=opts["beta"],
            sparsify=opts["sparsify"], k_max=opts["k_max"], k_min_a=opts["k_min_a"], k_min_b=opts["k_min_b"],
            gamma_a=opts["gamma_a"], gamma_b=opts["gamma_b"], fixed_k=opts["fixed_k"], encode=opts["encode"],
            raw_position_bits=opts["raw_position_bits"], dense_fallback=opts["dense_fallback"],
            sparsify_download=opts["sparsify_download"],
        )
    cfg = RunConfig(
        method=base, objective=opts["objective"], model=opts["model"], dataset=opts["dataset"],
        partition=opts["partition"], alpha=opts["alpha"], n_clients=opts["clients"],
        participants=opts["participants"], rounds=opts["rounds"], local_steps=opts["local_steps"],
        batch_size=opts["batch_size"], max_len=opts["max_len"], lr=opts["lr"], rank=opts["rank"],
        lora_alpha=opts["lora_alpha"], target_modules=tuple(opts["target_modules"].split(",")),
        ranks=tuple(opts["ranks"]) if opts["ranks"] else RunConfig.ranks, per_category=opts["per_category"],
        eval_examples=opts["eval_examples"], eval_every=opts["eval_every"], arc_subset=opts["arc_subset"],
        arc_final=opts["arc_final"], full_arc=opts["full_arc"], evals=opts["evals"],
        mmlu_subset=opts["mmlu_subset"], seed=opts["seed"], threads=opts["threads"],
        keep_blobs=opts["blobs"],
        participation=opts["participation"], concurrency=opts["concurrency"],
        staleness_exponent=opts["staleness_exponent"], links=tuple(n.name for n in opts["links"] or ()),
        links_seed=opts["links_seed"], ecolora=eco, extra={"dpo_beta": opts["dpo_beta"]},
    )
    if opts["dataset"] != "embedded" and not Path(opts["dataset"]).exists():
        from fl_core.errors import DataError

        raise DataError(f"dataset file {opts['dataset']!r} does not exist")
    cfg.validate()
    return cfg


def _ranks(ctx, param, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None


@click.command()
@click.option("--method", default="fedit", show_default=True,
              help="fedit | ffa-lora | flora | hlora | celora, optionally '+ecolora' (e.g. fedit+ecolora).")
@click.option("--ecolora/--no-ecolora", default=False, help="Wrap the method in EcoLoRA (same as '+ecolora').")
@click.option("--objective", default="sft", show_default=True, help="sft (instruction tuning) or dpo.")
@click.option("--dpo-beta", type=click.FloatRange(0, min_open=True), default=0.1, show_default=True,
              help="DPO: strength of the KL anchor to the frozen base model.")
@click.option("--model", default="smollm2-135m", show_default=True,
              help="smollm2-135m (offline default), tiny-llama (tests), a local HF folder or a hub id.")
@click.option("--dataset", default="embedded", show_default=True,
              help="'embedded' (offline QA mix) or a Dolly/Alpaca JSON(L) file (or preference JSONL for dpo).")
@click.option("--partition", default="dirichlet", show_default=True, help="dirichlet | domain | iid | kmeans-dirichlet.")
@click.option("--alpha", type=click.FloatRange(0, min_open=True), default=0.5, show_default=True,
              help="Dirichlet concentration (Appendix A: 0.5).")
@click.option("--clients", type=click.IntRange(1), default=100, show_default=True, help="K, clients in total.")
@click.option("--participants", type=click.IntRange(1), default=10, show_default=True, help="N_t, sampled per round.")
@click.option("--rounds", type=click.IntRange(1), default=40, show_default=True, help="Global rounds.")
@click.option("--local-steps", type=click.IntRange(1), default=10, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option("--max-len", type=click.IntRange(8), default=128, show_default=True, help="Tokens per example.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=3e-4, show_default=True)
@click.option("--rank", type=click.IntRange(1), default=16, show_default=True, help="LoRA rank r.")
@click.option("--lora-alpha", type=click.IntRange(1), default=32, show_default=True)
@click.option("--target-modules", default="q_proj,v_proj", show_default=True)
@click.option("--ranks", callback=_ranks, default=None,
              help="Heterogeneous client ranks for flora/hlora, cycled (default 64,32,16,16,8,8,4,4,4,4).")
@click.option("--segments", type=int, default=5, show_default=True, help="EcoLoRA N_s (must be <= participants).")
@click.option("--round-robin/--no-round-robin", default=True, show_default=True)
@click.option("--sparsify/--no-sparsify", default=True, show_default=True)
@click.option("--fixed-k", type=_UNIT, default=None, help="Fixed top-k ratio for A and B (ablation).")
@click.option("--encode/--no-encode", default=True, show_default=True,
              help="Golomb-code positions; --no-encode writes fixed-width positions (Table 3's w/o Encoding).")
@click.option("--raw-position-bits", type=click.Choice(["16", "32"]), default="16", show_default=True,
              callback=lambda ctx, param, v: int(v),
              help="Width of --no-encode positions: 16 bits relative to 2^16-element blocks (the paper's) or 32.")
@click.option("--dense-fallback/--no-dense-fallback", default=True, show_default=True,
              help="Send a segment dense (fp16) when that is smaller than its sparse message.")
@click.option("--sparsify-download/--dense-download", default=True, show_default=True)
@click.option("--beta", type=click.FloatRange(0), default=0.3, show_default=True, help="Eq. 3 staleness decay.")
@click.option("--k-max", type=_UNIT, default=0.95, show_default=True)
@click.option("--k-min-a", type=_UNIT, default=0.6, show_default=True)
@click.option("--k-min-b", type=_UNIT, default=0.5, show_default=True)
@click.option("--gamma-a", type=click.FloatRange(0), default=1.0, show_default=True)
@click.option("--gamma-b", type=click.FloatRange(0), default=2.0, show_default=True)
@click.option("--per-category", type=click.IntRange(1), default=400, show_default=True,
              help="Embedded data: examples per source set.")
@click.option("--eval-examples", type=click.IntRange(1), default=64, show_default=True)
@click.option("--eval-every", type=click.IntRange(1), default=5, show_default=True)
@click.option("--arc-subset", type=click.IntRange(0), default=100, show_default=True,
              help="ARC questions per level during training (0 = skip).")
@click.option("--arc-final", type=click.IntRange(0), default=100, show_default=True,
              help="ARC questions per level scored at the end and for the base model (a seeded subset; 0 = skip).")
@click.option("--full-arc", is_flag=True,
              help="Score on the full ARC validation sets (570 + 299 questions) at the end: the paper's Table 1 "
                   "metric. The base model's scores are cached in ~/.cache/fedlora-netbench, so only the trained "
                   "adapter's evaluation costs time.")
@click.option("--evals", default=None, callback=lambda ctx, param, v: None if v is None else tuple(
                  x.strip() for x in v.split(",") if x.strip()),
              help="Benchmarks, comma-separated from arc, qa, arc-template, mmlu "
                   "(default: arc,qa for sft; mmlu for dpo, the paper's Table 2).")
@click.option("--mmlu-subset", default="200", show_default=True,
              callback=lambda ctx, param, v: None if v == "all" else click.IntRange(1)(v),
              help="MMLU questions per evaluation (a seeded subset), or 'all' for the 14,042.")
@click.option("--participation", type=click.Choice(["uniform", "fedbuff"]), default="uniform", show_default=True,
              help="uniform sampling of N_t clients, or asynchronous FedBuff with a buffer of N_t.")
@click.option("--concurrency", type=click.IntRange(1), default=None, help="FedBuff: clients in flight (default 2 N_t).")
@click.option("--staleness-exponent", type=click.FloatRange(0), default=0.5, show_default=True,
              help="FedBuff: an update of staleness s is weighted (1+s)^-exponent.")
@click.option("--links", callback=links_option, default=None,
              help="Per-client links UP/DOWN Mbps, cycled by client id (FedBuff arrival order), e.g. 0.2/1,5/25.")
@click.option("--links-seed", type=int, default=None,
              help="Draw each client's link uniformly from --links with this seed.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--blobs/--no-blobs", default=True, show_default=True, help="Keep every message's bytes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory (default runs/<method>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Continue an interrupted run directory from its last completed round.")
@click.option("--progress/--no-progress", default=True)
def train(**opts) -> None:
    """Train one federated LoRA run and write its run directory (bytes of every message)."""
    from fl_core import loop
    from harness.cli import on_interrupt

    if opts["resume_dir"] is not None:
        on_interrupt(lambda: resume_hint(opts["resume_dir"]))
        out = loop.resume(opts["resume_dir"], progress=opts["progress"])
    else:
        cfg = build_config(opts)
        arrivals = None
        if cfg.participation == "fedbuff":
            from harness.arrivals import NetworkArrivals

            arrivals = NetworkArrivals(cfg)
        out = opts["out"] or Path("runs") / cfg.method_label
        on_interrupt(lambda: resume_hint(out))
        out = loop.train(cfg, out, progress=opts["progress"], arrivals=arrivals)
    click.echo(summary_line(out))


def resume_hint(out: Path) -> str:
    """After Ctrl-C: how to continue the run in ``out`` (if it recorded a round), else that nothing was kept."""
    import json

    try:
        meta = json.loads((Path(out) / "run.json").read_text())
    except (OSError, ValueError):
        return "no round was recorded; start the run again"
    if meta.get("config", {}).get("participation") == "fedbuff":
        return "FedBuff runs cannot be resumed; start the run again into another --out"
    return f"continue with: netbench train --resume {out}"


def summary_line(out: Path) -> str:
    """One line: bytes and final metrics of a finished run, next to the base model's."""
    from fl_core.rundir import read_run

    run = read_run(out)
    up, down = int(run.rounds["uplink_bytes"].sum()), int(run.rounds["downlink_bytes"].sum())
    parts = [f"{out}: {run.method}", f"upload {up / 1e6:.2f} MB", f"total {(up + down) / 1e6:.2f} MB"]
    ev = run.evals
    if not ev.empty:
        base, final = ev.iloc[0], ev.iloc[-1]
        parts.append(f"eval loss {base['eval_loss']:.3f} -> {final['eval_loss']:.3f}")
        if "pref_accuracy" in ev:
            parts.append(f"preference accuracy {base['pref_accuracy']:.3f} -> {final['pref_accuracy']:.3f} "
                         f"(policy {base['policy_pref_accuracy']:.3f} -> {final['policy_pref_accuracy']:.3f})")
        if "arc" in ev and final.get("arc") == final.get("arc"):
            parts.append(f"ARC {base['arc']:.3f} -> {final['arc']:.3f} (easy {final['arc_easy']:.3f}, "
                         f"challenge {final['arc_challenge']:.3f})")
    return "; ".join(parts)
