"""The glue to ns-3: loading the bindings once, and one simulation's build/run/teardown.

This is the only module that imports ``ns``. Each :class:`Simulation` applies its TCP
config (process-global defaults, set in full every time), builds point-to-point links
whose two devices carry the two directions' rates, attaches exact byte counters to
``PacketSink`` applications, runs, and always calls ``Simulator::Destroy``.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ns3_scenarios import cppyy_api, pch
from ns3_scenarios import tcp as tcp_configs
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import NONE, PFIFO_LIMIT_PACKETS, CrossTraffic, GilbertElliott, Impairments, Queue, RandomLoss
from ns3_scenarios.transfers import ClientTiming, ClientTransfer

_NS: Any = None
#: Environment variable naming the folder the bindings are imported from.
HOME_ENV = "NETBENCH_NS3_HOME"

#: The C++ helpers (byte counters, error models, capacity traces, endpoints, Cubic variant), in a header.
CPP_HEADER = Path(__file__).parent / "cpp" / "netbench.h"


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def load() -> Any:
    """The ``ns`` bindings module, imported once per process (~3 s with :mod:`ns3_scenarios.pch`'s
    precompiled header, ~20 s without) with the C++ helpers compiled.

    The bindings' loader globs ``*.so`` below the current directory, so the import runs
    from a small folder: ``$NETBENCH_NS3_HOME`` (set by :mod:`ns3_scenarios.worker` to a
    folder whose ``.rootrc`` silences ROOT's crash backtrace), else this package's folder.
    """
    global _NS
    if _NS is None:
        home = Path(os.environ.get(HOME_ENV) or Path(__file__).parent)
        cppyy_api.ensure()
        with _cwd(home):
            if pch.activate() or not pch.enabled():
                from ns import ns
            else:  # no precompiled header yet: record what it needs and build one for later processes
                with pch.recording() as header_lines:
                    from ns import ns
                pch.build_in_background(header_lines)
        ns.cppyy.include(str(CPP_HEADER))
        _NS = ns
    return _NS


#: C++ that only some TCP configs use (the CUBIC port, receive-window autotuning): a process
#: compiles each the first time a config needs it, ~0.8 s each, which every other process saves.
LINUX_CUBIC_HEADER = CPP_HEADER.parent / "linux_cubic.h"
RCV_AUTOTUNE_HEADER = CPP_HEADER.parent / "rcv_autotune.h"
#: The loss-recovery counters of ``probes.recovery_counts`` (measurement only, no replay uses it).
RECOVERY_PROBE_HEADER = CPP_HEADER.parent / "recovery_probe.h"
_INCLUDED: set[Path] = set()


def include(header: Path) -> Any:
    """The ``ns`` module with ``header`` (one of the opt-in headers) compiled in, once per process."""
    ns = load()
    if header not in _INCLUDED:
        ns.cppyy.include(str(header))
        if header == LINUX_CUBIC_HEADER:
            ns.cppyy.gbl.ns3.TcpLinuxCubic.GetTypeId()  # registers it for TcpConfig.socket_type
        _INCLUDED.add(header)
    return ns


def _include_for(config: tcp_configs.TcpConfig) -> None:
    """Compile the opt-in C++ that ``config`` uses."""
    if config.socket_type == tcp_configs.LINUX_CUBIC:
        include(LINUX_CUBIC_HEADER)
    if config.rcv_autotune or config.quickacks:
        include(RCV_AUTOTUNE_HEADER)


def nanoseconds(seconds: float) -> int:
    """Seconds as whole nanoseconds, ns-3's time resolution."""
    return int(round(seconds * 1e9))


#: Where this process's simulation wall time went (for benchmarks): simulations run, wall seconds
#: spent building them, inside ``Simulator::Run``, and in ``Simulator::Destroy``.
STATS = {"simulations": 0, "setup_s": 0.0, "run_s": 0.0, "destroy_s": 0.0}


class Simulation:
    """One ns-3 simulation; use as a context manager so ``Simulator::Destroy`` always runs.

    ``stop_after`` > 0 ends the run as soon as that many
    byte counters (sinks created with ``counted=True``) are complete, which unbounded cross
    traffic and cyclic capacity traces need.
    """

    def __init__(self, tcp: str, *, stop_after: int = 0) -> None:
        self.ns = load()
        self._created = time.perf_counter()
        _include_for(tcp_configs.get_config(tcp))
        self.tcp = tcp_configs.apply(self.ns, tcp)
        self.ns.Ipv4AddressGenerator.Reset()
        self._addresses = self.ns.Ipv4AddressHelper()
        self._addresses.SetBase(self.ns.Ipv4Address("10.0.0.0"), self.ns.Ipv4Mask("255.255.255.252"))
        self._keep: list[Any] = []  # proxies and Python callables ns-3 holds raw pointers to
        self.countdown = self.ns.cppyy.gbl.netbench.Countdown(stop_after, True) if stop_after > 0 else None
        #: Per link: the error models of its two devices (``None`` where nothing was attached).
        self.error_models: list[tuple[Any, Any]] = []
        #: The ``netbench::RcvAutotune`` of every receiving socket (configs with ``rcv_autotune``).
        self.autotuners: list[Any] = []

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        ns = self.ns
        start = time.perf_counter()
        ns.Simulator.Destroy()
        STATS["destroy_s"] += time.perf_counter() - start
        STATS["simulations"] += 1
        self._keep.clear()
        getattr(ns, "__nodes_pending_deletion").clear()  # the bindings never empty it (a leak)

    def nodes(self, count: int) -> Any:
        """``count`` new nodes with the Internet stack installed."""
        container = self.ns.NodeContainer()
        container.Create(count)
        self.ns.InternetStackHelper().Install(container)
        self._keep.append(container)
        return container

    def link(
        self, a: Any, b: Any, a_bps: float, b_bps: float, latency_s: float, *,
        queue: Queue | None = None, a_sends: Impairments = NONE, b_sends: Impairments = NONE,
        a_seed: int = 0, b_seed: int = 0, trace_phase_s: tuple[float, float] = (0.0, 0.0),
    ) -> Any:
        """A point-to-point link: ``a`` transmits at ``a_bps``, ``b`` at ``b_bps``; one-way delay ``latency_s``.

        ``queue`` sizes both device queues and picks the queue disc (``None``: ns-3's default).
        ``a_sends`` impairs what ``a`` sends: its loss model sits on ``b``'s device (seeded
        ``a_seed``), its capacity trace drives ``a``'s rate, entered at trace time
        ``trace_phase_s[0]``; ``b_sends`` the same the other way round.
        Returns the interface container: ``GetAddress(0)`` is ``a``'s address, ``GetAddress(1)`` is ``b``'s.
        """
        ns = self.ns
        helper = ns.PointToPointHelper()
        helper.SetChannelAttribute("Delay", ns.TimeValue(ns.NanoSeconds(nanoseconds(latency_s))))
        devices = helper.Install(a, b)
        devices.Get(0).SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(round(a_bps)))))
        devices.Get(1).SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(round(b_bps)))))
        if queue is not None:
            self._queue(devices, queue, (a_bps, b_bps))
        interfaces = self._addresses.Assign(devices)
        self._addresses.NewNetwork()
        if queue is not None and queue.discipline == "droptail":
            ns.TrafficControlHelper().Uninstall(devices)
        models: list[Any] = [None, None]
        for sender, imp, seed, phase in ((0, a_sends, a_seed, trace_phase_s[0]), (1, b_sends, b_seed, trace_phase_s[1])):
            if imp.is_none:
                continue
            receiver = 1 - sender
            em = models[receiver] = ns.cppyy.gbl.netbench.AttachErrorModel(devices.Get(receiver))
            em.SetSeed(int(seed))
            if isinstance(imp.loss, RandomLoss):
                em.SetRandom(imp.loss.rate)
            elif isinstance(imp.loss, GilbertElliott):
                em.SetGilbertElliott(imp.loss.p_good_bad, imp.loss.p_bad_good, imp.loss.loss_good, imp.loss.loss_bad)
                em.SetSlotBytes(GE_SLOT_BYTES)
                em.SetRate(float(a_bps if sender == 0 else b_bps))  # a trace below resets it as it moves
            if imp.trace is not None:
                trace = imp.trace
                self._keep.append(ns.cppyy.gbl.netbench.RateTrace(
                    devices.Get(sender), em, list(trace.times_s), list(trace.bps), trace.period_s, float(phase)))
            self._keep.append(em)
        self.error_models.append((models[0], models[1]))
        self._keep.extend((devices, interfaces))
        return interfaces

    def _queue(self, devices: Any, queue: Queue, rates: tuple[float, float]) -> None:
        """Device queue sizes and the root queue disc (installed before addresses are assigned)."""
        ns = self.ns
        for k, bps in enumerate(rates):
            device = devices.Get(k).GetObject[ns.PointToPointNetDevice]()
            device.GetQueue().SetMaxSize(ns.QueueSize(queue.device_size(bps)))
        if queue.discipline == "droptail":
            return
        tch = ns.TrafficControlHelper()
        if queue.discipline == "pfifo":
            tch.SetRootQueueDisc("ns3::PfifoFastQueueDisc", "MaxSize", ns.StringValue(f"{PFIFO_LIMIT_PACKETS}p"))
        else:
            tch.SetRootQueueDisc("ns3::FqCoDelQueueDisc")
        if queue.bql:
            tch.SetQueueLimits("ns3::DynamicQueueLimits")
        tch.Install(devices)
        self._keep.append(tch)

    def _autotune(self) -> Any:
        """A ``netbench::RcvAutotune`` for one receiving socket when the config asks for autotuning or
        quick ACKs, else ``None``."""
        tcp = self.tcp
        if not (tcp.rcv_autotune or tcp.quickacks):
            return None
        if tcp.rcv_autotune and not tcp.timestamps:  # Linux then estimates the RTT per window (tcp_rcv_rtt_measure): not emulated
            raise ScenarioError(f"TCP config {tcp.name!r}: rcv_autotune needs timestamps (its receiver RTT)")
        tune = self.ns.cppyy.gbl.netbench.RcvAutotune(tcp.segment_size, tcp.rcv_buf_initial, tcp.rcv_buf,
                                                       tcp.rcv_skb_truesize, tcp.rcv_autotune_619, tcp.quickacks,
                                                       tcp.rcv_autotune)
        self._keep.append(tune)
        self.autotuners.append(tune)
        return tune

    def _autotune_sink(self, app: Any) -> None:
        tune = self._autotune()
        if tune is not None and not tune.AttachSink(app):
            raise ScenarioError("ns-3 refused to connect the receive autotuning to a PacketSink")

    def _count(self, done: Any, counted: bool) -> None:
        if counted and self.countdown is not None:
            done.countdown = self.countdown

    def sink(self, node: Any, port: int, nbytes: int, tag: int, on_done: Callable[[int], None] | None = None,
             *, counted: bool = True) -> Any:
        """A TCP ``PacketSink`` on ``node:port`` counting bytes until ``nbytes``; returns the ``FlowDone``."""
        ns = self.ns
        local = ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo()
        apps = ns.PacketSinkHelper("ns3::TcpSocketFactory", local).Install(node)
        apps.Start(ns.Seconds(0))
        done = ns.cppyy.gbl.netbench.FlowDone(nbytes, tag)
        if on_done is not None:
            done.onDone = on_done
            self._keep.append(on_done)
        self._count(done, counted)
        if not done.Attach(apps.Get(0)):
            raise ScenarioError("ns-3 refused to connect the PacketSink Rx trace")
        self._autotune_sink(apps.Get(0))
        self._keep.extend((apps, done))
        return done

    def send(self, node: Any, address: Any, port: int, nbytes: int, delay_ns: int) -> None:
        """A ``BulkSend`` of exactly ``nbytes`` from ``node`` to ``address:port``, starting ``delay_ns`` from now.

        ``nbytes`` must be > 0: ns-3 reads ``MaxBytes = 0`` as "unlimited".
        """
        if nbytes <= 0:
            raise ScenarioError(f"a flow needs at least 1 byte, got {nbytes}")
        ns = self.ns
        helper = ns.BulkSendHelper("ns3::TcpSocketFactory", ns.InetSocketAddress(address, port).ConvertTo())
        helper.SetAttribute("MaxBytes", ns.UintegerValue(int(nbytes)))
        apps = helper.Install(node)
        apps.Start(ns.NanoSeconds(int(delay_ns)))
        self._keep.append(apps)

    def endpoint(self, node: Any, *, peer: Any = None, port: int, tls: bool = False, delay_ns: int = 0,
                 nbytes: int = 0, tag: int = 0, on_done: Callable[[int], None] | None = None,
                 counted: bool = True, tls_client: bool | None = None) -> Any:
        """A ``netbench::Endpoint``: active (connects to ``peer:port``) or passive (listens on ``port``).

        With ``tls`` the active end is the TLS client unless ``tls_client`` says otherwise.

        With ``nbytes`` > 0 it counts that many received data bytes into a ``FlowDone``
        (``endpoint.done``). It starts ``delay_ns`` from now. Returns the endpoint; ``Send(n)``
        queues bytes to send.
        """
        ns = self.ns
        address = ns.InetSocketAddress(peer, port).ConvertTo() if peer is not None else ns.Address()
        active = peer is not None
        app = ns.cppyy.gbl.netbench.InstallEndpoint(node, active, address, port, tls,
                                                    active if tls_client is None else tls_client, int(delay_ns))
        tune = self._autotune()
        if tune is not None:
            app.SetAutotune(tune)
        if nbytes > 0:
            done = ns.cppyy.gbl.netbench.FlowDone(nbytes, tag)
            if on_done is not None:
                done.onDone = on_done
                self._keep.append(on_done)
            self._count(done, counted)
            app.SetDone(done)
            self._keep.append(done)
        self._keep.append(app)
        return app

    def message(self, sender: Any, receiver: Any, receiver_address: Any, port: int, nbytes: int, *, tag: int,
                tls: bool, on_done: Callable[[int], None] | None = None,
                receiver_is_tls_client: bool = False) -> tuple[Any, Callable[[int], None]]:
        """One message on its own new connection, opened by the sender: ``(FlowDone, start(delay_ns))``.

        Without TLS a ``PacketSink`` and a ``BulkSend`` (today's model); with TLS a pair of
        endpoints whose data starts after the TLS 1.3 round trip. The TLS client is the sender
        (an upload), or with ``receiver_is_tls_client`` the receiver (a download: the client's
        ClientHello goes up, the server's ~4 kB flight comes down before its data).
        """
        if not tls:
            done = self.sink(receiver, port, nbytes, tag, on_done)
            return done, lambda delay_ns: self.send(sender, receiver_address, port, nbytes, delay_ns)
        passive = self.endpoint(receiver, port=port, tls=True, nbytes=nbytes, tag=tag, on_done=on_done,
                                tls_client=receiver_is_tls_client)

        def start(delay_ns: int) -> None:
            active = self.endpoint(sender, peer=receiver_address, port=port, tls=True, delay_ns=delay_ns,
                                   tls_client=not receiver_is_tls_client)
            active.Send(int(nbytes))

        return passive.GetDone(), start

    def cross(self, src: Any, dst: Any, dst_address: Any, port: int, cross: CrossTraffic, stream: int) -> None:
        """Unbounded cross traffic from ``src`` to ``dst`` (a bulk TCP flow or an on/off UDP source)."""
        ns = self.ns
        local = ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo()
        remote = ns.InetSocketAddress(dst_address, port).ConvertTo()
        if cross.kind == "bulk":
            sink = ns.PacketSinkHelper("ns3::TcpSocketFactory", local).Install(dst)
            self._autotune_sink(sink.Get(0))
            helper = ns.BulkSendHelper("ns3::TcpSocketFactory", remote)
            helper.SetAttribute("MaxBytes", ns.UintegerValue(0))
            helper.SetAttribute("SendSize", ns.UintegerValue(self.tcp.segment_size))
            apps = helper.Install(src)
        else:
            sink = ns.PacketSinkHelper("ns3::UdpSocketFactory", local).Install(dst)
            helper = ns.OnOffHelper("ns3::UdpSocketFactory", remote)
            helper.SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(round(cross.rate_bps)))))
            helper.SetAttribute("PacketSize", ns.UintegerValue(UDP_PAYLOAD_BYTES))
            helper.SetAttribute("OnTime", ns.StringValue(_exponential(cross.on_s)))
            helper.SetAttribute("OffTime", ns.StringValue(_exponential(cross.off_s)))
            apps = helper.Install(src)
            apps.Get(0).GetObject[ns.OnOffApplication]().AssignStreams(int(stream))
        sink.Start(ns.Seconds(0))
        apps.Start(ns.NanoSeconds(nanoseconds(cross.start_s)))
        self._keep.extend((sink, apps))

    def populate_routes(self) -> None:
        """Global routing tables, needed once a router sits between clients and server."""
        self.ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()

    def run(self, horizon_s: float) -> None:
        """Run until no event is left, the countdown reaches 0, or ``horizon_s`` simulated seconds have passed."""
        ns = self.ns
        ns.Simulator.Stop(ns.Seconds(horizon_s))
        start = time.perf_counter()
        STATS["setup_s"] += start - self._created
        ns.Simulator.Run()
        STATS["run_s"] += time.perf_counter() - start


#: The Gilbert-Elliott chain steps once per this many bytes' time at the direction's nominal rate.
GE_SLOT_BYTES = 1500
#: UDP payload of an on/off source's packets: 1500-byte IP packets.
UDP_PAYLOAD_BYTES = 1472


def _exponential(mean_s: float) -> str:
    if mean_s <= 0:
        return "ns3::ConstantRandomVariable[Constant=0]"
    return f"ns3::ExponentialRandomVariable[Mean={mean_s!r}]"


def horizon_s(nbytes: int, rate_bps: float) -> float:
    """A generous bound on one flow's completion time: 20x its serialization time plus 10 minutes."""
    return 600.0 + 20.0 * nbytes * 8.0 / rate_bps


def check_done(done: Any, nbytes: int, what: str, horizon: float) -> float:
    """The completion time in seconds of a finished flow; ``ScenarioError`` if it did not finish exactly."""
    received = int(done.Received())
    if done.DoneNs() < 0:
        raise ScenarioError(
            f"{what} of {nbytes} bytes did not complete within {horizon:g} simulated s ({received} arrived)"
        )
    if received != nbytes:
        raise ScenarioError(f"{what}: {received} bytes arrived, expected exactly {nbytes}")
    return int(done.DoneNs()) / 1e9


def round_timings(transfers: Sequence[ClientTransfer], downloads: Mapping[int, Any], uploads: Mapping[int, Any],
                  horizon: float, *, down_at: Callable[[float], float], up_at: Callable[[float], float],
                  digits: int | None = None) -> list[ClientTiming]:
    """One :class:`ClientTiming` per transfer from a finished round's byte counters.

    ``downloads`` / ``uploads`` map a transfer's index to its counter (a transfer of 0 bytes
    has none). ``down_at`` / ``up_at`` turn a counter's completion time into round time.
    A client starts its upload its compute time after its download's whole nanosecond;
    ``digits`` rounds the three times (``None``: as computed).
    """
    timings = []
    for i, t in enumerate(transfers):
        what = f"client {t.client}"
        down = 0.0
        if i in downloads:
            down = down_at(check_done(downloads[i], int(t.downlink_bytes), f"{what} download", horizon))
        start = (nanoseconds(down) + nanoseconds(float(t.compute_s))) / 1e9
        up = start
        if i in uploads:
            up = up_at(check_done(uploads[i], int(t.uplink_bytes), f"{what} upload", horizon))
        times = (down, start, up) if digits is None else tuple(round(v, digits) for v in (down, start, up))
        timings.append(ClientTiming(int(t.client), *times))
    return timings
