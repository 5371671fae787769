"""ns-3 TCP against real Linux CUBIC: the effect of each ns-3 attribute on the reference cases.

The reference cases are issue 18's external check (Linux 6.18 CUBIC between two network
namespaces, a userspace relay doing rate, one-way delay, a 100-packet drop-tail queue and
seeded Bernoulli loss on the data direction). Each variant is a TCP config derived from
``linux-rto`` with one ns-3 attribute changed; every case runs as the project's own
isolated flows (:func:`ns3_scenarios.engines.isolated.flow_times`, default queue, random loss on the
data direction seeded 1..N) and the mean completion time is compared with Linux's.

    PYTHONPATH=$PWD python benchmarks/tcp_fidelity.py --seeds 128 --out results.json

``--paired`` runs instead, per case, the loss seeds of Linux's own runs on this machine
(``results/reference_linux_tcp.csv``, variant ``default``) and compares with their mean: the relay
draws the same splitmix64 stream per data-direction packet as ns-3's error model, so a seed
drops the same packet indices in both stacks.

The flow cache is switched off so every flow is simulated.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

#: (label, bytes, rate bit/s, one-way delay s, loss, real Linux mean completion s).
CASES = [
    ("5M 25ms 2MB lossless", 2_000_000, 5e6, 0.025, 0.0, 3.432),
    ("5M 25ms 2MB 1%", 2_000_000, 5e6, 0.025, 0.01, 5.04),
    ("5M 25ms 2MB 5%", 2_000_000, 5e6, 0.025, 0.05, 16.86),
    ("1M 25ms 2MB 1%", 2_000_000, 1e6, 0.025, 0.01, 17.02),
    ("20M 10ms 1MB 1%", 1_000_000, 20e6, 0.010, 0.01, 0.97),
    # bursty loss (not in issue 18's check: no figure): the divergence scenarios' Gilbert-Elliott
    # chain at 1 % loss, mean burst 4 slots of 1500 B (p_bad_good 1/4), on the data direction
    ("5M 25ms 2MB GE 1% b4", 2_000_000, 5e6, 0.025, ("ge", 0.0025 / 0.99, 0.25, 0.0, 1.0), float("nan")),
    ("20M 10ms 1MB GE 1% b4", 1_000_000, 20e6, 0.010, ("ge", 0.0025 / 0.99, 0.25, 0.0, 1.0), float("nan")),
    # a capacity trace on the data direction (TRACES), lossless and at 1 % loss
    ("trace 1-5M 25ms 5MB lossless", 5_000_000, 5e6, 0.025, 0.0, float("nan")),
    ("trace 1-5M 25ms 5MB 1%", 5_000_000, 5e6, 0.025, 0.01, float("nan")),
]
#: Capacity traces by case label: (step start times s, rates bit/s, period s), from the flow's start.
TRACES = {label: ((0.0, 1.0, 2.0, 3.0, 4.0), (5e6, 1e6, 3e6, 2e6, 4e6), 5.0)
          for label in ("trace 1-5M 25ms 5MB lossless", "trace 1-5M 25ms 5MB 1%")}


def loss_model(loss: float | tuple):
    """A case's loss as the project's model: ``RandomLoss(rate)`` or ``GilbertElliott(*params)``."""
    from ns3_scenarios.links import GilbertElliott, RandomLoss

    return GilbertElliott(*loss[1:]) if isinstance(loss, tuple) else RandomLoss(loss)

#: (variant name, changes to ``linux-rto``; ``None`` = the named config as it is).
VARIANTS: list[tuple[str, dict | None]] = [
    ("linux", None),
    ("linux-rto", None),
    ("linux-cubic", None),  # the default: linux-rto with the port of Linux's tcp_cubic.c and 16 quick ACKs
    # ablations of linux-cubic ("base"): without quick ACKs; without CUBIC's Reno floor; the port fed
    # ns-3's segmentsAcked (TcpCubic's ACK counting) instead of Linux's; a constant 64 KiB window
    ("linux-cubic-no-quickack", {"base": "linux-cubic", "quickacks": 0}),
    ("linux-cubic-friendliness-off", {"base": "linux-cubic", "tcp_friendliness": False}),
    ("linux-cubic-ns3-acked", {"base": "linux-cubic", "linux_cubic_acked_is_delivered": False}),
    ("linux-cubic-rcvbuf-64KiB", {"base": "linux-cubic", "rcv_buf": 65536}),
    ("linux-cubic-rcvtune", None),  # linux-cubic with Linux's receive-window autotuning (cpp/rcv_autotune.h)
    # its sensitivity to skb->truesize: Linux's default scaling_ratio 128 kept (truesize = 2 x 1448)
    ("linux-cubic-rcvtune-ratio-128", {"base": "linux-cubic-rcvtune", "rcv_skb_truesize": 2896}),
    # Linux 6.19's faster growth (slow-start term in tcp_rcvbuf_grow), not the reference's 6.18
    ("linux-cubic-rcvtune-6.19", {"base": "linux-cubic-rcvtune", "rcv_autotune_619": True}),
    # linux-rto with Linux's quick ACKs alone (ns-3's TcpCubic)
    ("linux-rto-quickack", {"quickacks": 16}),
    ("hystart-off", {"hystart": False}),
    ("friendliness-off", {"tcp_friendliness": False}),
    ("hystart-delay-max-1s", {"hystart_delay_max_ms": 1000}),
    ("classic-recovery", {"recovery_type": "ns3::TcpClassicRecovery"}),
    ("sack-off", {"sack": False}),
    ("timestamps-off", {"timestamps": False}),
    ("delack-count-1", {"del_ack_count": 1}),
    ("delack-timeout-200ms", {"del_ack_timeout_ms": 200}),
    ("rcvbuf-128KiB", {"rcv_buf": 131072}),
    ("rcvbuf-64KiB", {"rcv_buf": 65536}),
    ("sndbuf-128KiB", {"snd_buf": 131072}),
    ("min-rto-1s", {"min_rto_ms": 1000}),
    ("clock-granularity-1ms", {"clock_granularity_ms": 1}),
    ("conn-timeout-3s", {"conn_timeout_ms": 3000}),
    ("initial-cwnd-4", {"initial_cwnd": 4}),
]


def _register(name: str, changes: dict | None) -> str:
    """The TCP config name to simulate for variant ``name`` (registered if derived)."""
    from ns3_scenarios.tcp import TCP_CONFIGS

    if changes is None:
        return name
    changes = dict(changes)
    TCP_CONFIGS[name] = replace(TCP_CONFIGS[changes.pop("base", "linux-rto")], name=name, **changes)
    return name


#: Per-flow sender counts that ``--counters`` reports (ns3_scenarios.probes.recovery_counts).
COUNTS = ("recoveries", "timeouts", "loss_episodes", "retransmissions")

#: Linux's runs on this machine (benchmarks/linux_reference.py).
REFERENCE_CSV = Path(__file__).resolve().parent.parent / "results" / "reference_linux_tcp.csv"


def linux_runs(path: Path = REFERENCE_CSV) -> dict[str, dict[int, float]]:
    """Seconds by case label and seed of the reference's ``default`` (stock Linux) rows."""
    import csv

    runs: dict[str, dict[int, float]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["variant"] == "default":
                runs.setdefault(row["case"], {})[int(row["seed"])] = float(row["seconds"])
    return runs


def measure(variants: list[tuple[str, dict | None]], seeds: int, queue: str = "default",
            paired: bool = False, counters: bool = False) -> list[dict]:
    """One row per (variant, case): mean and standard deviation of ``seeds`` completion times.

    ``counters`` runs each flow in its own simulation with the sender's loss-recovery counts
    (:func:`ns3_scenarios.probes.recovery_counts`) and adds their means per flow to the row.

    ``queue`` "droptail" replaces ns-3's default queue (100-packet device FIFO under FqCoDel)
    with the reference relay's plain 100-packet drop-tail FIFO. ``paired`` takes each case's
    seeds and real mean from Linux's own runs (:func:`linux_runs`) instead of 1..``seeds``.
    """
    from ns3_scenarios.engines.isolated import FlowSpec, flow_times
    from ns3_scenarios.links import NONE, CapacityTrace, Impairments, Queue
    from ns3_scenarios.probes import recovery_counts

    link_queue = Queue(100, "packets", "droptail") if queue == "droptail" else None
    reference = linux_runs() if paired else {}

    rows = []
    for vname, changes in variants:
        tcp = _register(vname, changes)
        for label, nbytes, bps, delay, loss, real in CASES:
            trace = CapacityTrace(*TRACES[label], source=label) if label in TRACES else None
            data = Impairments(loss=loss_model(loss) if loss else NONE, trace=trace)
            seed_list = list(range(1, (seeds if loss else 1) + 1))
            if paired:
                seed_list = sorted(reference[label]) if loss else seed_list
                real = statistics.fmean(reference[label].values())
            n = len(seed_list)
            specs = [FlowSpec(nbytes, bps, bps, delay, tcp, data=data, queue=link_queue, data_seed=s) for s in seed_list]
            counts = [recovery_counts(s) for s in specs] if counters else []
            times = [c["seconds"] for c in counts] if counters else flow_times(specs)
            mean = statistics.fmean(times)
            rows.append({"variant": vname, "case": label, "queue": queue, "seeds": n, "mean_s": round(mean, 4),
                         "sd_s": round(statistics.stdev(times), 4) if n > 1 else 0.0,
                         "real_s": round(real, 4), "vs_real": round(mean / real - 1, 4),
                         **{f"mean_{k}": round(statistics.fmean(c[k] for c in counts), 3) for k in COUNTS if counts}})
            extra = "  ".join(f"{k} {rows[-1][f'mean_{k}']:.2f}" for k in COUNTS if counts)
            print(f"{vname:24s} {label:22s} {mean:8.3f} s  real {real:6.3f}  {100 * (mean / real - 1):+6.1f} %  {extra}",
                  flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure every variant (or those named) on every case; write JSON rows to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=128, help="loss seeds per lossy case (default 128)")
    parser.add_argument("--variants", nargs="*", help="only these variant names")
    parser.add_argument("--queue", choices=("default", "droptail"), default="default",
                        help="ns-3's default queue or the relay's 100-packet drop-tail FIFO")
    parser.add_argument("--paired", action="store_true",
                        help="each lossy case on the seeds of Linux's own runs, against their mean")
    parser.add_argument("--counters", action="store_true",
                        help="one simulation per flow, with the sender's recoveries, RTOs and retransmissions")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2")
    known = dict(VARIANTS)
    chosen = args.variants or list(known)
    unknown = [v for v in chosen if v not in known]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}: expected some of {', '.join(known)}")
    os.environ["NETBENCH_FLOW_CACHE"] = "off"
    start = time.process_time()
    rows = measure([(v, known[v]) for v in chosen], args.seeds, args.queue, args.paired, args.counters)
    print(f"CPU {time.process_time() - start:.1f} s", file=sys.stderr)
    if args.out:
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
