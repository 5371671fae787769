"""LTE cell engine: the round's participants as UEs of one eNB, the server as the remote host behind the PGW.

Topology: server --(p2p, ``pgw_link_bps``, the network's one-way latency)-- PGW/SGW (EPC) --
eNB ))) UEs. The UEs sit at their distances from the eNB (given per client, else drawn once
per client with ``placement_seed``, uniformly over the ring ``min_distance_m..max_distance_m``).
Every download shares the downlink's resource blocks and every upload the uplink's, as the
MAC scheduler hands them out each 1 ms TTI; each UE's modulation and coding follow the CQI
its SINR at that distance gives; HARQ retransmits lost transport blocks; RLC buffers what the
scheduler has not yet served.

Defaults: 25 resource blocks (5 MHz) each way, proportional-fair scheduler
(``PfFfMacScheduler``), RLC unacknowledged mode with a 1 MB transmit buffer (ns-3's 10 KB
default drops TCP bursts and caps one flow near 1.6 Mbit/s), log-distance path loss
(exponent 3, 38.5 dB at 1 m, about 2 GHz), eNB 43 dBm, UE 23 dBm, UEs 50-500 m from the
eNB, ideal RRC, a 10 Gbit/s PGW-server link. With ns-3's default Friis model the SINR is so
high at every distance that 50 m and 500 m gave identical results; log-distance makes the
cell edge slower.

Every ``Config::SetDefault`` this module changes is restored when the round ends.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ns3_scenarios import simcore
from ns3_scenarios.engines import cell
from ns3_scenarios.engines.registry import register
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTiming, ClientTransfer

#: Bandwidths LTE defines, in resource blocks (1.4, 3, 5, 10, 15, 20 MHz).
RESOURCE_BLOCKS = (6, 15, 25, 50, 75, 100)
SCHEDULERS = {
    "pf": "ns3::PfFfMacScheduler",
    "rr": "ns3::RrFfMacScheduler",
    "cqa": "ns3::CqaFfMacScheduler",
    "pss": "ns3::PssFfMacScheduler",
    "tdmt": "ns3::TdMtFfMacScheduler",
    "fdmt": "ns3::FdMtFfMacScheduler",
}
RLC_MODES = {"um": "RlcUmAlways", "am": "RlcAmAlways"}
PATH_LOSS = ("log-distance", "friis")
#: Simulated seconds before the round starts: every UE attaches (ideal RRC) and has its bearer.
WARMUP_S = 0.5
MAX_UES = 300
_SRS_PERIODS = (40, 80, 160, 320)


def _resource_blocks(value: object, where: str) -> int:
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value <= 0:
        raise ScenarioError(f"{where}: invalid value {value!r}: a cell needs resource blocks; expected one of "
                            f"{', '.join(map(str, RESOURCE_BLOCKS))}")
    return int(cell.choice(value, where, RESOURCE_BLOCKS))


_PARSERS = {
    "ul_resource_blocks": _resource_blocks,
    "dl_resource_blocks": _resource_blocks,
    "scheduler": lambda v, w: cell.choice(v, w, tuple(SCHEDULERS)),
    "rlc_mode": lambda v, w: cell.choice(v, w, tuple(RLC_MODES)),
    "rlc_buffer_bytes": lambda v, w: cell.number(v, w, low=10_240, high=1_000_000_000, integer=True),
    "path_loss": lambda v, w: cell.choice(v, w, PATH_LOSS),
    "path_loss_exponent": lambda v, w: cell.number(v, w, low=1.5, high=6),
    "reference_loss_db": lambda v, w: cell.number(v, w, low=0, high=100),
    "enb_tx_power_dbm": lambda v, w: cell.number(v, w, low=0, high=60),
    "ue_tx_power_dbm": lambda v, w: cell.number(v, w, low=-40, high=30),
    "min_distance_m": lambda v, w: cell.number(v, w, low=0.0, low_open=True, high=100_000),
    "max_distance_m": lambda v, w: cell.number(v, w, low=0.0, low_open=True, high=100_000),
    "distances_m": cell.distances,
    "placement_seed": lambda v, w: cell.number(v, w, low=0, integer=True),
    "pgw_link_bps": cell.rate,
    "idle_gap_s": cell.idle_gap,
}


@dataclass(frozen=True)
class LteSettings(cell.CellSettings):
    """One LTE cell: bandwidth, scheduler, RLC, radio propagation and powers, placement, PGW link."""

    ul_resource_blocks: int = 25
    dl_resource_blocks: int = 25
    scheduler: str = "pf"
    rlc_mode: str = "um"
    rlc_buffer_bytes: int = 1_000_000
    path_loss: str = "log-distance"
    path_loss_exponent: float = 3.0
    reference_loss_db: float = 38.5
    enb_tx_power_dbm: float = 43.0
    ue_tx_power_dbm: float = 23.0
    min_distance_m: float = 50.0
    max_distance_m: float = 500.0
    distances_m: tuple[tuple[int, float], ...] = ()
    placement_seed: int = 0
    pgw_link_bps: float = 10e9
    idle_gap_s: float | None = 1.0  # see cell.run_round; None simulates idle time in full

    _where: ClassVar[str] = "lte"
    _parsers: ClassVar[Mapping] = _PARSERS


def _defaults(ns, settings: LteSettings, n_ues: int) -> dict:
    """The process-global attribute defaults one cell needs (restored after the round)."""
    srs = next((p for p in _SRS_PERIODS if p > n_ues), _SRS_PERIODS[-1])
    return {
        "ns3::LteRlcUm::MaxTxBufferSize": ns.UintegerValue(settings.rlc_buffer_bytes),
        "ns3::LteRlcAm::MaxTxBufferSize": ns.UintegerValue(settings.rlc_buffer_bytes),
        "ns3::LteEnbRrc::EpsBearerToRlcMapping": ns.StringValue(RLC_MODES[settings.rlc_mode]),
        "ns3::LteEnbRrc::SrsPeriodicity": ns.UintegerValue(srs),
        "ns3::LteEnbPhy::TxPower": ns.DoubleValue(settings.enb_tx_power_dbm),
        "ns3::LteUePhy::TxPower": ns.DoubleValue(settings.ue_tx_power_dbm),
        "ns3::LteUePowerControl::Pcmax": ns.DoubleValue(settings.ue_tx_power_dbm),
    }


def simulate_round(network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0,
                   settings: LteSettings | None = None) -> list[ClientTiming]:
    """One round with every participant a UE of one eNB (times from the round start)."""
    settings = settings or LteSettings.default()
    cell.check_cell_round(network, transfers, 'lte')
    if len(transfers) > MAX_UES:
        raise ScenarioError(f"an LTE cell takes at most {MAX_UES} UEs, got {len(transfers)}")
    n = len(transfers)
    ns = simcore.load()
    with cell.defaults(ns, _defaults(ns, settings, n)), simcore.Simulation(network.tcp) as sim, \
            cell.rng_run(ns, seed):
        lte = ns.CreateObject[ns.LteHelper]()
        epc = ns.CreateObject[ns.PointToPointEpcHelper]()
        lte.SetEpcHelper(epc)
        lte.SetSchedulerType(SCHEDULERS[settings.scheduler])
        if settings.path_loss == "log-distance":
            lte.SetAttribute("PathlossModel", ns.StringValue("ns3::LogDistancePropagationLossModel"))
            lte.SetPathlossModelAttribute("Exponent", ns.DoubleValue(settings.path_loss_exponent))
            lte.SetPathlossModelAttribute("ReferenceLoss", ns.DoubleValue(settings.reference_loss_db))
        else:
            lte.SetAttribute("PathlossModel", ns.StringValue("ns3::FriisPropagationLossModel"))
        lte.SetEnbDeviceAttribute("UlBandwidth", ns.UintegerValue(settings.ul_resource_blocks))
        lte.SetEnbDeviceAttribute("DlBandwidth", ns.UintegerValue(settings.dl_resource_blocks))

        server = sim.nodes(1)
        # the EPC numbers its S1/S5/X2 links from 10.0.0.0 itself: the server link takes 1.0.0.0
        sim._addresses.SetBase(ns.Ipv4Address("1.0.0.0"), ns.Ipv4Mask("255.255.255.252"))
        backhaul = sim.link(epc.GetPgwNode(), server.Get(0), settings.pgw_link_bps, settings.pgw_link_bps,
                            network.latency_s)
        routing = ns.Ipv4StaticRoutingHelper()
        routing.GetStaticRouting(server.Get(0).GetObject[ns.Ipv4]()).AddNetworkRouteTo(
            ns.Ipv4Address("7.0.0.0"), ns.Ipv4Mask("255.0.0.0"), 1)

        enb = ns.NodeContainer()
        enb.Create(1)
        ues = ns.NodeContainer()
        ues.Create(n)
        cell.place(sim, enb, ues, transfers, settings)

        enb_devices = lte.InstallEnbDevice(enb)
        ue_devices = lte.InstallUeDevice(ues)
        lte.AssignStreams(enb_devices, 100)
        lte.AssignStreams(ue_devices, 1000)
        stack = ns.InternetStackHelper()
        stack.Install(ues)
        stack.AssignStreams(ns.NodeContainer(server, ues), 5000)
        ue_interfaces = epc.AssignUeIpv4Address(ns.NetDeviceContainer(ue_devices))
        for i in range(n):
            routing.GetStaticRouting(ues.Get(i).GetObject[ns.Ipv4]()).SetDefaultRoute(
                epc.GetUeDefaultGatewayAddress(), 1)
        lte.Attach(ue_devices, enb_devices.Get(0))
        sim._keep.extend((lte, epc, enb, ues, enb_devices, ue_devices, ue_interfaces,
                          routing, stack))
        return cell.run_round(sim, server.Get(0), backhaul.GetAddress(1), [ues.Get(i) for i in range(n)],
                              [ue_interfaces.GetAddress(i) for i in range(n)], transfers, WARMUP_S,
                              settings.idle_gap_s)


ENGINE = register(cell.CellEngine("lte", LteSettings, simulate_round))
