"""The glue to ns-3: loading the bindings once, and one simulation's build/run/teardown.

This is the only module that imports ``ns``. Each :class:`Simulation` applies its TCP
config (process-global defaults, set in full every time), builds point-to-point links
whose two devices carry the two directions' rates, attaches exact byte counters to
``PacketSink`` applications, runs, and always calls ``Simulator::Destroy``.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ns3_scenarios import tcp as tcp_configs
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import NONE, PFIFO_LIMIT_PACKETS, CrossTraffic, GilbertElliott, Impairments, Queue, RandomLoss

_NS: Any = None
#: Environment variable naming the folder the bindings are imported from.
HOME_ENV = "NETBENCH_NS3_HOME"

# A byte counter on a PacketSink's "Rx" trace. The trace callback stays in C++ (no
# Python call per packet); when the count reaches the target it records the simulated
# time in nanoseconds and calls the optional std::function once (into Python).
_CPP = r"""
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>
namespace netbench {
using namespace ns3;

// Counts events; at zero it stops the simulation (when every FL flow is done, so that
// unbounded cross traffic and capacity traces do not run to the horizon) or calls back.
class Countdown {
 public:
  Countdown(int n, bool stop) : m_left(n), m_stop(stop) {}
  void Tick() {
    if (m_left > 0 && --m_left == 0) {
      if (m_stop) Simulator::Stop();
      if (onZero) onZero();
    }
  }
  int Left() const { return m_left; }
  std::function<void()> onZero;
 private:
  int m_left;
  bool m_stop;
};

class FlowDone {
 public:
  FlowDone(uint64_t target, int tag) : m_target(target), m_tag(tag) {}
  bool Attach(Ptr<Application> sink) {
    return sink->TraceConnectWithoutContext("Rx", MakeCallback(&FlowDone::OnRx, this));
  }
  void Count(uint64_t bytes) {
    m_rx += bytes;
    if (m_doneNs < 0 && m_rx >= m_target) {
      m_doneNs = Simulator::Now().GetNanoSeconds();
      if (countdown) countdown->Tick();
      if (onDone) onDone(m_tag);
    }
  }
  uint64_t Received() const { return m_rx; }
  int64_t DoneNs() const { return m_doneNs; }
  std::function<void(int)> onDone;
  Countdown* countdown = nullptr;
 private:
  void OnRx(Ptr<const Packet> packet, const Address&) { Count(packet->GetSize()); }
  uint64_t m_target;
  int m_tag;
  uint64_t m_rx = 0;
  int64_t m_doneNs = -1;
};

// Loss on the packets a device receives: none, independent (random) or Gilbert-Elliott,
// from its own splitmix64 stream (seeded per flow/direction, independent of ns-3's global
// RNG state); plus an outage switch that drops everything (capacity traces at rate 0).
class LinkErrorModel : public ErrorModel {
 public:
  static TypeId GetTypeId() {
    static TypeId tid = TypeId("netbench::LinkErrorModel").SetParent<ErrorModel>().SetGroupName("Network")
                            .AddConstructor<LinkErrorModel>();
    return tid;
  }
  void SetRandom(double p) { m_mode = 1; m_p = p; }
  void SetGilbertElliott(double pgb, double pbg, double lossGood, double lossBad) {
    m_mode = 2; m_pgb = pgb; m_pbg = pbg; m_lg = lossGood; m_lb = lossBad;
  }
  void SetSeed(uint64_t seed) { m_state = seed; }
  // Advance the Gilbert-Elliott chain once per slot, the time `bytes` take at the link's
  // current rate (one full-size packet; SetRate follows the link's capacity trace), instead of
  // once per packet; without a slot the chain steps per packet.
  void SetSlotBytes(uint32_t bytes) { m_slotBytes = bytes; }
  void SetRate(double bps) {
    if (m_slotBytes > 0 && bps > 0) m_slotNs = std::max<int64_t>(1, std::llround(m_slotBytes * 8e9 / bps));
  }
  void SetOutage(bool on) { m_outage = on; }
  uint64_t Seen() const { return m_seen; }
  uint64_t Dropped() const { return m_dropped; }
  uint64_t Runs() const { return m_runs; }  // runs of consecutive drops (a burst each)
 private:
  double Uniform() {
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (z >> 11) * (1.0 / 9007199254740992.0);
  }
  bool DoCorrupt(Ptr<Packet>) override {
    m_seen++;
    bool drop = false;
    if (m_mode == 1) {
      drop = Uniform() < m_p;
    } else if (m_mode == 2) {
      Step();
      drop = Uniform() < (m_bad ? m_lb : m_lg);
    }
    if (m_outage) drop = true;
    if (drop) m_dropped++;
    if (drop && !m_previous) m_runs++;
    m_previous = drop;
    return drop;
  }
  // k steps of the two-state chain at once: P(Bad after k | Bad) = piB + (1 - piB) lambda^k,
  // P(Bad after k | Good) = piB (1 - lambda^k), lambda = 1 - pGB - pBG.
  void Step() {
    int64_t k = 1;
    if (m_slotNs > 0) {
      int64_t now = Simulator::Now().GetNanoSeconds();
      if (m_lastNs < 0) {
        m_lastNs = now;  // the first packet: one step
      } else {
        k = (now - m_lastNs) / m_slotNs;  // whole slots since the last step
        m_lastNs += k * m_slotNs;
        if (k == 0) return;
      }
    }
    if (k == 1) {
      if (m_bad) { if (Uniform() < m_pbg) m_bad = false; }
      else if (Uniform() < m_pgb) m_bad = true;
      return;
    }
    double piB = m_pgb / (m_pgb + m_pbg), lk = std::pow(1.0 - m_pgb - m_pbg, double(k));
    m_bad = Uniform() < (m_bad ? piB + (1 - piB) * lk : piB * (1 - lk));
  }
  void DoReset() override { m_bad = false; }
  int64_t m_slotNs = 0, m_lastNs = -1;
  uint32_t m_slotBytes = 0;
  int m_mode = 0;
  double m_p = 0, m_pgb = 0, m_pbg = 1, m_lg = 0, m_lb = 1;
  bool m_bad = false, m_outage = false, m_previous = false;
  uint64_t m_state = 0, m_seen = 0, m_dropped = 0, m_runs = 0;
};

// {share dropped, mean run of consecutive drops} over `packets` dummy packets.
std::vector<double> LossStats(Ptr<LinkErrorModel> em, uint64_t packets) {
  Ptr<Packet> p = Create<Packet>(1000);
  uint64_t dropped = 0, runs = 0;
  bool previous = false;
  for (uint64_t i = 0; i < packets; i++) {
    bool d = em->IsCorrupt(p);
    dropped += d;
    runs += d && !previous;
    previous = d;
  }
  return {double(dropped) / double(packets), runs ? double(dropped) / double(runs) : 0.0};
}

Ptr<LinkErrorModel> NewErrorModel() { return CreateObject<LinkErrorModel>(); }

Ptr<LinkErrorModel> AttachErrorModel(Ptr<NetDevice> dev) {
  Ptr<LinkErrorModel> em = CreateObject<LinkErrorModel>();
  DynamicCast<PointToPointNetDevice>(dev)->SetReceiveErrorModel(em);
  return em;
}

// A device's data rate following a cyclic piecewise-constant trace, entered at trace time
// `phase`; a rate of 0 keeps the last rate and switches the receiving side's outage on.
class RateTrace {
 public:
  RateTrace(Ptr<NetDevice> dev, Ptr<LinkErrorModel> rxModel, std::vector<double> times, std::vector<double> bps,
            double period, double phase)
      : m_dev(DynamicCast<PointToPointNetDevice>(dev)), m_em(rxModel), m_t(times), m_r(bps), m_period(period) {
    double t = std::fmod(phase, period);
    m_i = 0;
    while (m_i + 1 < m_t.size() && m_t[m_i + 1] <= t) m_i++;
    for (size_t k = 0; k < m_r.size(); k++) {  // the device needs a rate > 0 even in an outage
      double r = m_r[(m_i + m_r.size() - k) % m_r.size()];
      if (r > 0) { m_dev->SetDataRate(DataRate(uint64_t(std::llround(r)))); break; }
    }
    Apply();
    Simulator::Schedule(Seconds(End(m_i) - t), &RateTrace::Step, this);
  }
  uint64_t Changes() const { return m_changes; }
 private:
  double End(size_t i) const { return i + 1 < m_t.size() ? m_t[i + 1] : m_period; }
  void Apply() {
    double r = m_r[m_i];
    if (r > 0) m_dev->SetDataRate(DataRate(uint64_t(std::llround(r))));
    if (r > 0) m_em->SetRate(r);  // a Gilbert-Elliott slot is one packet at the current rate
    m_em->SetOutage(!(r > 0));
    m_changes++;
  }
  void Step() {
    m_i = (m_i + 1) % m_t.size();
    Apply();
    Simulator::Schedule(Seconds(End(m_i) - m_t[m_i]), &RateTrace::Step, this);
  }
  Ptr<PointToPointNetDevice> m_dev;
  Ptr<LinkErrorModel> m_em;
  std::vector<double> m_t, m_r;
  double m_period;
  size_t m_i;
  uint64_t m_changes = 0;
};

// One end of a TCP connection that stays open: the active end connects, the passive end
// accepts one connection. Send(n) queues n more bytes. With tls, the connection is ready
// one round trip after TCP's handshake: the TLS client (the active end unless tlsClient says
// otherwise) sends a 517-byte ClientHello, the TLS server answers with a 4096-byte server
// flight, and only then do data bytes flow (the handshake bytes are not counted as data).
class Endpoint : public Application {
 public:
  static TypeId GetTypeId() {
    static TypeId tid = TypeId("netbench::Endpoint").SetParent<Application>().SetGroupName("Applications")
                            .AddConstructor<Endpoint>();
    return tid;
  }
  void Setup(bool active, Address peer, uint16_t port, bool tls, bool tlsClient) {
    m_active = active; m_peer = peer; m_port = port; m_tls = tls; m_tlsClient = tlsClient;
  }
  void Send(uint64_t bytes) { m_data += bytes; Pump(); }
  void SendAfter(int64_t delayNs, uint64_t bytes) {
    Simulator::Schedule(NanoSeconds(delayNs), &Endpoint::Send, this, bytes);
  }
  int64_t ReadyNs() const { return m_readyNs; }
  void SetDone(FlowDone* d) { done = d; }
  void SetReady(Countdown* c) { ready = c; }
  FlowDone* GetDone() const { return done; }
  FlowDone* done = nullptr;
  Countdown* ready = nullptr;
 private:
  static const uint32_t kClientHello = 517;
  static const uint32_t kServerFlight = 4096;
  void StartApplication() override {
    Ptr<Socket> s = Socket::CreateSocket(GetNode(), TcpSocketFactory::GetTypeId());
    if (m_active) {
      m_socket = s;
      m_socket->Bind();
      m_socket->SetConnectCallback(MakeCallback(&Endpoint::Connected, this), MakeCallback(&Endpoint::Failed, this));
      Wire();
      m_socket->Connect(m_peer);
    } else {
      m_listen = s;
      m_listen->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
      m_listen->Listen();
      m_listen->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                  MakeCallback(&Endpoint::Accepted, this));
    }
  }
  void StopApplication() override {}
  void Wire() {
    m_socket->SetRecvCallback(MakeCallback(&Endpoint::Received, this));
    m_socket->SetSendCallback(MakeCallback(&Endpoint::Writable, this));
  }
  void Connected(Ptr<Socket>) {
    m_connected = true;
    if (m_tls) Hello();
    else Ready();
  }
  void Hello() {  // the TLS client's first flight, or the TLS server's wait for it
    if (m_tlsClient) { m_handshakeOut += kClientHello; m_handshakeIn = kServerFlight; Pump(); }
    else m_handshakeIn = kClientHello;
  }
  void Failed(Ptr<Socket>) { NS_FATAL_ERROR("netbench::Endpoint could not connect"); }
  void Accepted(Ptr<Socket> s, const Address&) {
    m_socket = s;
    m_connected = true;
    Wire();
    if (m_tls) Hello();
    else Ready();
  }
  void Ready() {
    m_readyNs = Simulator::Now().GetNanoSeconds();
    if (ready) ready->Tick();
    Pump();
  }
  void Received(Ptr<Socket> s) {
    Ptr<Packet> p;
    while ((p = s->Recv())) {
      uint64_t n = p->GetSize();
      if (n == 0) break;
      if (m_handshakeIn > 0) {
        uint64_t k = std::min<uint64_t>(n, m_handshakeIn);
        m_handshakeIn -= k;
        n -= k;
        if (m_handshakeIn == 0) {
          if (!m_tlsClient) m_handshakeOut += kServerFlight;
          Ready();
        }
      }
      if (n > 0 && done) done->Count(n);
    }
  }
  void Writable(Ptr<Socket>, uint32_t) { Pump(); }
  void Pump() {
    if (!m_connected) return;
    while (true) {
      uint64_t pending = m_handshakeOut + (m_readyNs >= 0 ? m_data : 0);
      uint32_t room = m_socket->GetTxAvailable();
      if (pending == 0 || room == 0) return;
      uint32_t k = uint32_t(std::min<uint64_t>(pending, room));
      int sent = m_socket->Send(Create<Packet>(k));
      if (sent <= 0) return;
      uint64_t fromHandshake = std::min<uint64_t>(m_handshakeOut, uint64_t(sent));
      m_handshakeOut -= fromHandshake;
      m_data -= uint64_t(sent) - fromHandshake;
    }
  }
  Ptr<Socket> m_socket, m_listen;
  Address m_peer;
  uint16_t m_port = 0;
  bool m_active = false, m_tls = false, m_tlsClient = false, m_connected = false;
  uint64_t m_data = 0, m_handshakeOut = 0, m_handshakeIn = 0;
  int64_t m_readyNs = -1;
};

Ptr<Endpoint> InstallEndpoint(Ptr<Node> node, bool active, Address peer, uint16_t port, bool tls, bool tlsClient,
                              int64_t startNs) {
  Ptr<Endpoint> app = CreateObject<Endpoint>();
  app->Setup(active, peer, port, tls, tlsClient);
  node->AddApplication(app);
  app->SetStartTime(NanoSeconds(startNs));  // relative to now when installed during a run
  return app;
}

}  // namespace netbench
"""


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def load() -> Any:
    """The ``ns`` bindings module, imported once per process (6-11 s) with the C++ helpers compiled.

    The bindings' loader globs ``*.so`` below the current directory, so the import runs
    from a small folder: ``$NETBENCH_NS3_HOME`` (set by :mod:`ns3_scenarios.worker` to a
    folder whose ``.rootrc`` silences ROOT's crash backtrace), else this package's folder.
    """
    global _NS
    if _NS is None:
        home = Path(os.environ.get(HOME_ENV) or Path(__file__).parent)
        with _cwd(home):
            from ns import ns
        ns.cppyy.cppdef(_CPP)
        _NS = ns
    return _NS


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
        self.tcp = tcp_configs.apply(self.ns, tcp)
        self.ns.Ipv4AddressGenerator.Reset()
        self._addresses = self.ns.Ipv4AddressHelper()
        self._addresses.SetBase(self.ns.Ipv4Address("10.0.0.0"), self.ns.Ipv4Mask("255.255.255.252"))
        self._keep: list[Any] = []  # proxies and Python callables ns-3 holds raw pointers to
        self.countdown = self.ns.cppyy.gbl.netbench.Countdown(stop_after, True) if stop_after > 0 else None
        #: Per link: the error models of its two devices (``None`` where nothing was attached).
        self.error_models: list[tuple[Any, Any]] = []

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
