"""Real Linux TCP over a userspace link relay: the reference that ns-3's TCP is compared with.

Three network namespaces, sender ``snd``, relay ``rly``, receiver ``rcv``, joined by two veth
pairs. In ``rly`` the C relay (``benchmarks/linux_relay.c``, compiled with gcc into a temp dir,
run under SCHED_FIFO pinned to one CPU) bridges frames between its two veths through AF_PACKET
sockets and models the data direction as ns-3's point-to-point link does: serialization at the
rate counting IP + 2 B (PPP) per packet, a 100-packet drop-tail queue, the one-way delay, and
seeded Bernoulli loss of IPv4 packets after the wire. The ACK direction gets the same rate,
queue and delay, no loss. TSO/GSO/GRO and checksum offload are off on every veth (MTU 1500), so
the relay sees the segments the kernel's TCP sends.

One flow = one TCP connection carrying N bytes from ``snd`` to ``rcv``; its time runs from the
sender's ``connect()`` to the receiving application holding the last byte, which is ns-3's
``flow_times`` definition (handshake included). Before each flow the TCP metrics cache of both
namespaces is flushed (and ``tcp_no_metrics_save`` is 1 unless a variant says otherwise), so
no flow starts from a cached ssthresh or RTT.

    sudo python benchmarks/linux_reference.py --seeds 16 --out results/reference_linux_tcp.csv
    sudo python benchmarks/linux_reference.py --variants rack-off frto-off --cases "20M 10ms 1MB 1%"

Needs root, ``ip netns``, ``ethtool``, ``gcc``, ``chrt`` and ``taskset``. Namespaces are
removed on exit, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tcp_fidelity import CASES, TRACES  # noqa: E402  (the same cases and issue-18 figures)

RELAY_SOURCE = Path(__file__).with_name("linux_relay.c")
CUBIC_PARAMS = Path("/sys/module/tcp_cubic/parameters")
#: tcp_cubic's module parameters a variant may change (global, restored on exit) and their defaults.
CUBIC_DEFAULTS = {"hystart": "1", "tcp_friendliness": "1"}
SND_IP, RCV_IP, PORT = "10.18.0.1", "10.18.0.2", 5018
SND_MAC, RCV_MAC = "02:18:00:00:00:01", "02:18:00:00:00:02"
QUEUE_PACKETS = 100
RELAY_CPU, PEER_CPU = "1", "0"
CSV_FIELDS = ["variant", "case", "seed", "seconds", "losses", "queue_drops"]
#: The sender's recovery counters (``/proc/net/netstat`` TcpExt, ``/proc/net/snmp`` Tcp) that
#: ``--counters FILE`` records per flow: RTOs, tail-loss probes, SACK recovery episodes, lost
#: retransmissions (found by RACK) and the undo events.
COUNTERS = ("TcpExt.TCPTimeouts", "TcpExt.TCPLossProbes", "TcpExt.TCPLossProbeRecovery", "TcpExt.TCPSackRecovery",
            "TcpExt.TCPSackRecoveryFail", "TcpExt.TCPLostRetransmit", "TcpExt.TCPFastRetrans",
            "TcpExt.TCPSlowStartRetrans", "TcpExt.TCPSpuriousRTOs", "TcpExt.TCPLossUndo", "TcpExt.TCPFullUndo",
            "TcpExt.TCPPartialUndo", "TcpExt.TCPDSACKUndo", "Tcp.RetransSegs", "Tcp.OutSegs")


@dataclass(frozen=True)
class Variant:
    """Linux settings for one measured series: per-netns sysctls, tcp_cubic parameters, initial cwnd."""

    sysctls: dict[str, str] = field(default_factory=dict)
    cubic: dict[str, str] = field(default_factory=dict)
    initcwnd: int | None = None
    flush_metrics: bool = True


#: Default Linux (``cubic``, metrics not saved, flushed) and each feature switched off alone.
VARIANTS: dict[str, Variant] = {
    "default": Variant(),
    "metrics-saved": Variant({"net.ipv4.tcp_no_metrics_save": "0"}, flush_metrics=False),
    "rack-off": Variant({"net.ipv4.tcp_recovery": "0"}),
    "tlp-off": Variant({"net.ipv4.tcp_early_retrans": "0"}),
    "frto-off": Variant({"net.ipv4.tcp_frto": "0"}),
    "autotune-off": Variant({"net.ipv4.tcp_moderate_rcvbuf": "0"}),
    "rmem-fixed-128K": Variant({"net.ipv4.tcp_rmem": "131072 131072 131072", "net.ipv4.tcp_moderate_rcvbuf": "0"}),
    "sack-off": Variant({"net.ipv4.tcp_sack": "0"}),
    "dsack-off": Variant({"net.ipv4.tcp_dsack": "0"}),
    "timestamps-off": Variant({"net.ipv4.tcp_timestamps": "0"}),
    "hystart-off": Variant(cubic={"hystart": "0"}),
    "friendliness-off": Variant(cubic={"tcp_friendliness": "0"}),
    "ssai-off": Variant({"net.ipv4.tcp_slow_start_after_idle": "0"}),
    "initcwnd-4": Variant(initcwnd=4),
}


def run(*cmd: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` (inside ``netns`` when given), capturing its output."""
    full = ["ip", "netns", "exec", netns, *cmd] if netns else list(cmd)
    result = subprocess.run(full, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed: {result.stderr.strip()}")
    return result


def preflight() -> str | None:
    """One line saying why the testbed cannot run here, or ``None``."""
    if os.geteuid() != 0:
        return "linux_reference: needs root (network namespaces, raw sockets, SCHED_FIFO)"
    missing = [tool for tool in ("ip", "ethtool", "gcc", "chrt", "taskset") if shutil.which(tool) is None]
    if missing:
        return f"linux_reference: missing tool(s) {', '.join(missing)} (ethtool: apt-get install -y ethtool)"
    probe = f"lr18probe{os.getpid()}"
    if run("ip", "netns", "add", probe, check=False).returncode != 0:
        return "linux_reference: cannot create a network namespace (ip netns add failed)"
    run("ip", "netns", "del", probe, check=False)
    return None


def compile_relay(workdir: Path) -> Path:
    """The relay binary, built from :data:`RELAY_SOURCE` in ``workdir``."""
    binary = workdir / "linux_relay"
    run("gcc", "-O2", "-Wall", "-Wextra", "-o", str(binary), str(RELAY_SOURCE), "-lm")
    return binary


@contextmanager
def testbed() -> Iterator[dict[str, str]]:
    """The three namespaces, wired and configured; removed on exit. Yields role -> netns name."""
    names = {role: f"lr18{role}{os.getpid()}" for role in ("snd", "rly", "rcv")}
    try:
        for ns in names.values():
            run("ip", "netns", "add", ns)
        _wire(names)
        yield names
    finally:
        for ns in names.values():
            run("ip", "netns", "del", ns, check=False)


def _wire(names: dict[str, str]) -> None:
    """veth snd:eth0 <-> rly:a and rly:b <-> rcv:eth0, offloads off, static neighbours."""
    snd, rly, rcv = names["snd"], names["rly"], names["rcv"]
    run("ip", "link", "add", "eth0", "netns", snd, "address", SND_MAC, "type", "veth", "peer", "name", "a",
        "netns", rly)
    run("ip", "link", "add", "eth0", "netns", rcv, "address", RCV_MAC, "type", "veth", "peer", "name", "b",
        "netns", rly)
    for ns, dev in ((snd, "eth0"), (rly, "a"), (rly, "b"), (rcv, "eth0")):
        run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", netns=ns)
        run("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off", netns=ns)
        run("ip", "link", "set", "dev", dev, "mtu", "1500", "up", netns=ns)
        run("ip", "link", "set", "lo", "up", netns=ns)
    for ns, ip, peer_ip, peer_mac in ((snd, SND_IP, RCV_IP, RCV_MAC), (rcv, RCV_IP, SND_IP, SND_MAC)):
        run("ip", "addr", "add", f"{ip}/24", "dev", "eth0", netns=ns)
        run("ip", "neigh", "replace", peer_ip, "lladdr", peer_mac, "dev", "eth0", "nud", "permanent", netns=ns)


def configure(names: dict[str, str], variant: Variant) -> None:
    """Apply ``variant`` on top of the namespaces' defaults (metrics not saved).

    CUBIC is chosen per socket (:func:`peer`): a namespace may not change its default
    congestion control to one outside ``tcp_allowed_congestion_control``.
    """
    for ns in (names["snd"], names["rcv"]):
        settings = {"net.ipv4.tcp_no_metrics_save": "1", **variant.sysctls}
        for key, value in settings.items():
            run("sysctl", "-qw", f"{key}={value}", netns=ns)
    for name, value in {**CUBIC_DEFAULTS, **variant.cubic}.items():
        (CUBIC_PARAMS / name).write_text(value)
    route = ["ip", "route", "replace", "10.18.0.0/24", "dev", "eth0", "src", SND_IP]
    run(*route, *(["initcwnd", str(variant.initcwnd)] if variant.initcwnd else []), netns=names["snd"])


def relay_loss(loss: float | tuple) -> str:
    """The relay's LOSS_AB argument: a Bernoulli rate, or ``ge:PGB:PBG:LOSS_GOOD:LOSS_BAD`` for a
    case's ``("ge", ...)`` Gilbert-Elliott chain (stepped per 1500-byte slot, as ns-3's)."""
    return "ge:" + ":".join(repr(float(x)) for x in loss[1:]) if isinstance(loss, tuple) else repr(loss)


def relay_trace(trace: tuple) -> str:
    """The relay's TRACE_AB argument for a (times s, rates bit/s, period s) capacity trace."""
    times, rates, period = trace
    return f"{period!r}:" + ",".join(f"{float(t)!r}={float(r)!r}" for t, r in zip(times, rates))


@contextmanager
def relay(binary: Path, netns: str, bps: float, delay_s: float, loss: float, seed: int,
          trace: tuple | None = None) -> Iterator[dict[str, int]]:
    """The relay running in ``netns`` for one flow; yields its counters, filled in on exit."""
    cmd = ["ip", "netns", "exec", netns, "chrt", "-f", "50", "taskset", "-c", RELAY_CPU, str(binary), "a", "b",
           repr(bps), repr(delay_s * 1e6), str(QUEUE_PACKETS), relay_loss(loss), str(seed), repr(bps),
           *([relay_trace(trace)] if trace else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    counters: dict[str, int] = {}
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"relay did not start: {proc.stderr.read().strip()}")
        yield counters
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        words = err.split()
        counters.update({k: int(v) for k, v in zip(words[::2], words[1::2]) if v.isdigit()})


def _peer(role: str, netns: str, nbytes: int) -> subprocess.Popen:
    """This script's ``peer`` mode as ``role`` in ``netns``, SCHED_FIFO below the relay."""
    cmd = ["ip", "netns", "exec", netns, "chrt", "-f", "40", "taskset", "-c", PEER_CPU, sys.executable,
           str(Path(__file__).resolve()), "peer", role, str(nbytes)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sender_counters(netns: str) -> dict[str, int]:
    """:data:`COUNTERS` of ``netns`` now (the namespace's own ``/proc/net`` tables)."""
    values: dict[str, int] = {}
    for table in ("/proc/net/netstat", "/proc/net/snmp"):
        lines = run("cat", table, netns=netns).stdout.splitlines()
        for names_line, values_line in zip(lines[::2], lines[1::2]):
            prefix, *keys = names_line.split()
            values.update({f"{prefix[:-1]}.{k}": int(v) for k, v in zip(keys, values_line.split()[1:])})
    return {name: values.get(name, 0) for name in COUNTERS}


def one_flow(binary: Path, names: dict[str, str], nbytes: int, bps: float, delay_s: float, loss: float,
             seed: int, variant: Variant, trace: tuple | None = None) -> tuple[float, dict[str, int]]:
    """Seconds from ``connect()`` to the receiver's last byte for one seeded flow (over ``trace`` if
    given), and the relay's counters beside the sender's :data:`COUNTERS` for this flow."""
    before = sender_counters(names["snd"])
    if variant.flush_metrics:
        for ns in (names["snd"], names["rcv"]):
            run("ip", "tcp_metrics", "flush", "all", netns=ns, check=False)
    with relay(binary, names["rly"], bps, delay_s, loss, seed, trace) as counters:
        receiver = _peer("recv", names["rcv"], nbytes)
        if receiver.stdout.readline().strip() != "ready":
            raise RuntimeError(f"receiver did not start: {receiver.stderr.read().strip()}")
        sender = _peer("send", names["snd"], nbytes)
        sent_out, sent_err = sender.communicate(timeout=600)
        recv_out, recv_err = receiver.communicate(timeout=600)
        if sender.returncode or receiver.returncode:
            raise RuntimeError(f"flow failed: {sent_err.strip()} {recv_err.strip()}")
    after = sender_counters(names["snd"])
    counters.update({name: after[name] - before[name] for name in COUNTERS})
    return (int(recv_out) - int(sent_out)) / 1e9, counters


def peer(role: str, nbytes: int) -> None:
    """Inside a namespace: receive or send ``nbytes``; print a CLOCK_MONOTONIC time in ns.

    The receiver prints when it holds the last byte, the sender when it called ``connect()``.
    Both sockets use CUBIC.
    """
    if role == "recv":
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the last flow may linger in LAST_ACK
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
            server.bind((RCV_IP, PORT))
            server.listen()
            print("ready", flush=True)
            conn, _ = server.accept()
            buf, got = bytearray(1 << 20), 0
            while got < nbytes:
                n = conn.recv_into(buf)
                if n == 0:
                    raise SystemExit(f"receiver: connection closed after {got} of {nbytes} B")
                got += n
            print(time.monotonic_ns(), flush=True)
            conn.close()
        return
    payload = bytes(nbytes)
    with socket.socket() as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
        start = time.monotonic_ns()
        sock.connect((RCV_IP, PORT))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)
    print(start, flush=True)


def measure(variants: list[str], cases: list[tuple], seeds: int, out: Path | None, first_seed: int = 1,
            counters_out: Path | None = None) -> list[dict]:
    """Every (variant, case, seed) flow, seeds ``first_seed`` on; rows appended to ``out`` as they finish,
    and with the sender's :data:`COUNTERS` to ``counters_out``."""
    rows: list[dict] = []
    saved = {name: (CUBIC_PARAMS / name).read_text().strip() for name in CUBIC_DEFAULTS}
    with tempfile.TemporaryDirectory() as tmp, testbed() as names:
        binary = compile_relay(Path(tmp))
        try:
            for vname in variants:
                configure(names, VARIANTS[vname])
                for label, nbytes, bps, delay, loss, real in cases:
                    times = []
                    for seed in range(first_seed, first_seed + (seeds if loss else min(seeds, 4))):
                        seconds, counters = one_flow(binary, names, nbytes, bps, delay, loss, seed, VARIANTS[vname],
                                                     TRACES.get(label))
                        row = {"variant": vname, "case": label, "seed": seed, "seconds": round(seconds, 4),
                               "losses": counters.get("losses", -1), "queue_drops": counters.get("queue_drops", -1)}
                        rows.append(row)
                        _append(out, row)
                        _append(counters_out, {**row, **{k: counters[k] for k in COUNTERS}}, [*CSV_FIELDS, *COUNTERS])
                        times.append(seconds)
                    _report(vname, label, times, real)
        finally:
            for name, value in saved.items():
                (CUBIC_PARAMS / name).write_text(value)
    return rows


def _append(out: Path | None, row: dict, fields: list[str] = CSV_FIELDS) -> None:
    """Append ``row`` to the CSV ``out`` (header first when the file is new)."""
    if out is None:
        return
    new = not out.exists()
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _report(vname: str, label: str, times: list[float], real: float) -> None:
    """One line: mean ± standard error of ``times`` beside the issue's real-Linux figure."""
    mean = statistics.fmean(times)
    sem = statistics.stdev(times) / len(times) ** 0.5 if len(times) > 1 else 0.0
    print(f"{vname:16s} {label:22s} n={len(times):3d} {mean:8.3f} ± {sem:.3f} s  issue {real:6.2f}"
          f"  {100 * (mean / real - 1):+6.1f} %", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run the peer mode or the whole measurement."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["peer"]:
        peer(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16, help="loss seeds per lossy case (default 16)")
    parser.add_argument("--variants", nargs="*", default=["default"], choices=list(VARIANTS), metavar="VARIANT",
                        help=f"Linux variants (default: default): {', '.join(VARIANTS)}")
    parser.add_argument("--first-seed", type=int, default=1, help="first loss seed (default 1), to add seeds later")
    parser.add_argument("--cases", nargs="*", help="only these case labels (benchmarks/tcp_fidelity.py's CASES)")
    parser.add_argument("--out", type=Path, help="append one CSV row per flow here")
    parser.add_argument("--counters", type=Path, help="append each flow's row with the sender's recovery counters here")
    args = parser.parse_args(argv)
    labels = [c[0] for c in CASES]
    unknown = [c for c in args.cases or [] if c not in labels]
    if unknown:
        parser.error(f"unknown case(s) {unknown}: expected some of {labels}")
    problem = preflight()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    cases = [c for c in CASES if not args.cases or c[0] in args.cases]
    try:
        measure(args.variants, cases, args.seeds, args.out, args.first_seed, args.counters)
    except KeyboardInterrupt:
        print("interrupted; namespaces removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
