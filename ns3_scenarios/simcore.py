"""The glue to ns-3: loading the bindings once, and one simulation's build/run/teardown.

This is the only module that imports ``ns``. Each :class:`Simulation` applies its TCP
config (process-global defaults, set in full every time), builds point-to-point links
whose two devices carry the two directions' rates, attaches exact byte counters to
``PacketSink`` applications, runs, and always calls ``Simulator::Destroy``.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ns3_scenarios import tcp as tcp_configs
from ns3_scenarios.errors import ScenarioError

_NS: Any = None
#: Environment variable naming the folder the bindings are imported from.
HOME_ENV = "NETBENCH_NS3_HOME"

# A byte counter on a PacketSink's "Rx" trace. The trace callback stays in C++ (no
# Python call per packet); when the count reaches the target it records the simulated
# time in nanoseconds and calls the optional std::function once (into Python).
_CPP = r"""
#include <cstdint>
#include <functional>
namespace netbench {
using namespace ns3;
class FlowDone {
 public:
  FlowDone(uint64_t target, int tag) : m_target(target), m_tag(tag) {}
  bool Attach(Ptr<Application> sink) {
    return sink->TraceConnectWithoutContext("Rx", MakeCallback(&FlowDone::OnRx, this));
  }
  uint64_t Received() const { return m_rx; }
  int64_t DoneNs() const { return m_doneNs; }
  std::function<void(int)> onDone;
 private:
  void OnRx(Ptr<const Packet> packet, const Address&) {
    m_rx += packet->GetSize();
    if (m_doneNs < 0 && m_rx >= m_target) {
      m_doneNs = Simulator::Now().GetNanoSeconds();
      if (onDone) onDone(m_tag);
    }
  }
  uint64_t m_target;
  int m_tag;
  uint64_t m_rx = 0;
  int64_t m_doneNs = -1;
};
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


class Simulation:
    """One ns-3 simulation; use as a context manager so ``Simulator::Destroy`` always runs."""

    def __init__(self, tcp: str) -> None:
        self.ns = load()
        self.tcp = tcp_configs.apply(self.ns, tcp)
        self.ns.Ipv4AddressGenerator.Reset()
        self._addresses = self.ns.Ipv4AddressHelper()
        self._addresses.SetBase(self.ns.Ipv4Address("10.0.0.0"), self.ns.Ipv4Mask("255.255.255.252"))
        self._keep: list[Any] = []  # proxies and Python callables ns-3 holds raw pointers to

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        ns = self.ns
        ns.Simulator.Destroy()
        self._keep.clear()
        getattr(ns, "__nodes_pending_deletion").clear()  # the bindings never empty it (a leak)

    def nodes(self, count: int) -> Any:
        """``count`` new nodes with the Internet stack installed."""
        container = self.ns.NodeContainer()
        container.Create(count)
        self.ns.InternetStackHelper().Install(container)
        self._keep.append(container)
        return container

    def link(self, a: Any, b: Any, a_bps: float, b_bps: float, latency_s: float) -> Any:
        """A point-to-point link: ``a`` transmits at ``a_bps``, ``b`` at ``b_bps``; one-way delay ``latency_s``.

        Returns the interface container: ``GetAddress(0)`` is ``a``'s address, ``GetAddress(1)`` is ``b``'s.
        """
        ns = self.ns
        helper = ns.PointToPointHelper()
        helper.SetChannelAttribute("Delay", ns.TimeValue(ns.NanoSeconds(nanoseconds(latency_s))))
        devices = helper.Install(a, b)
        devices.Get(0).SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(round(a_bps)))))
        devices.Get(1).SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(round(b_bps)))))
        interfaces = self._addresses.Assign(devices)
        self._addresses.NewNetwork()
        self._keep.append(interfaces)
        return interfaces

    def sink(self, node: Any, port: int, nbytes: int, tag: int, on_done: Callable[[int], None] | None = None) -> Any:
        """A TCP ``PacketSink`` on ``node:port`` counting bytes until ``nbytes``; returns the ``FlowDone``."""
        ns = self.ns
        local = ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo()
        apps = ns.PacketSinkHelper("ns3::TcpSocketFactory", local).Install(node)
        apps.Start(ns.Seconds(0))
        done = ns.cppyy.gbl.netbench.FlowDone(nbytes, tag)
        if on_done is not None:
            done.onDone = on_done
            self._keep.append(on_done)
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

    def populate_routes(self) -> None:
        """Global routing tables, needed once a router sits between clients and server."""
        self.ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()

    def run(self, horizon_s: float) -> None:
        """Run until no event is left or ``horizon_s`` simulated seconds have passed."""
        ns = self.ns
        ns.Simulator.Stop(ns.Seconds(horizon_s))
        ns.Simulator.Run()


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
