"""WiFi cell engine: the round's participants as stations of one access point, on one shared channel.

Topology: server --(p2p, ``ap_link_bps`` both ways, the network's one-way latency)-- AP ))) stations.
The stations sit at their distances from the AP (given per client, else drawn once per
client with ``placement_seed``, uniformly over the ring ``min_distance_m..max_distance_m``).
Every download and upload of the round crosses the same channel, so CSMA/CA contention,
collisions, retries, A-MPDU aggregation and the rate each station's rate control picks for
its distance all shape the round.

Defaults: 802.11n at 2.4 GHz on a 20 MHz channel, MinstrelHt rate control, log-distance path
loss (exponent 3, the 1 m reference loss of the band), 20 dBm transmit power, stations 2-30 m
from the AP, a 1 Gbit/s AP-server link. 802.11ac (5 GHz) and 802.11ax (2.4/5/6 GHz) are
available; MinstrelHt does not drive HE rates, so 802.11ax defaults to Thompson sampling.

Reproducibility: the round ``seed`` sets ns-3's run number, and the WiFi devices, the
mobility models and the Internet stacks (ARP jitter) get fixed stream numbers.
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

STANDARDS = ("802.11n", "802.11ac", "802.11ax")
_NS3_STANDARD = {"802.11n": "WIFI_STANDARD_80211n", "802.11ac": "WIFI_STANDARD_80211ac",
                 "802.11ax": "WIFI_STANDARD_80211ax"}
#: Bands (GHz) and channel widths (MHz) each standard allows.
BANDS = {"802.11n": (2.4, 5.0), "802.11ac": (5.0,), "802.11ax": (2.4, 5.0, 6.0)}
WIDTHS = {2.4: (20, 40), 5.0: (20, 40, 80, 160), 6.0: (20, 40, 80, 160)}
_NS3_BAND = {2.4: "BAND_2_4GHZ", 5.0: "BAND_5GHZ", 6.0: "BAND_6GHZ"}
#: Free-space loss at 1 m (dB) at each band's centre, the log-distance model's reference.
_REFERENCE_LOSS_DB = {2.4: 40.05, 5.0: 46.68, 6.0: 48.0}
RATE_MANAGERS = {
    "minstrel-ht": "ns3::MinstrelHtWifiManager",
    "thompson": "ns3::ThompsonSamplingWifiManager",
    "ideal": "ns3::IdealWifiManager",
    "aarf": "ns3::AarfWifiManager",
    "constant": "ns3::ConstantRateWifiManager",
}
#: Constant-rate modes per standard: the MCS prefix and the highest index.
_MODES = {"802.11n": ("HtMcs", 7), "802.11ac": ("VhtMcs", 9), "802.11ax": ("HeMcs", 11)}
_CONTROL_MODE = {2.4: "ErpOfdmRate6Mbps", 5.0: "OfdmRate6Mbps", 6.0: "OfdmRate6Mbps"}
#: Simulated seconds before the round starts: stations associate on the AP's beacons (every 102.4 ms).
WARMUP_S = 1.0
MAX_STATIONS = 200


def _default_band(standard: str) -> float:
    return 2.4 if standard == "802.11n" else 5.0


def _default_width(standard: str, band: float) -> int:
    return 20 if standard == "802.11n" or band == 2.4 else 80


def _default_rate_manager(standard: str) -> str:
    return "thompson" if standard == "802.11ax" else "minstrel-ht"


def _check_combination(s: dict, where: str) -> None:
    """Band for the standard, width for the band, rate control and MCS for the standard."""
    standard, band = s["standard"], s["band_ghz"]
    if band not in BANDS[standard]:
        raise ScenarioError(f"{where}.band_ghz: {standard} does not run at {band:g} GHz: expected one of "
                            f"{', '.join(f'{b:g}' for b in BANDS[standard])}")
    if s["channel_width_mhz"] not in WIDTHS[band] or (standard == "802.11n" and s["channel_width_mhz"] > 40):
        allowed = [w for w in WIDTHS[band] if standard != "802.11n" or w <= 40]
        raise ScenarioError(f"{where}.channel_width_mhz: {s['channel_width_mhz']} MHz is not a {standard} channel "
                            f"at {band:g} GHz: expected one of {', '.join(map(str, allowed))}")
    if s["rate_manager"] == "minstrel-ht" and standard == "802.11ax":
        raise ScenarioError(f"{where}.rate_manager: minstrel-ht does not drive 802.11ax (HE) rates: "
                            "use thompson, ideal or constant")
    if s["constant_mcs"] > _MODES[standard][1]:
        raise ScenarioError(f"{where}.constant_mcs: {standard} has MCS 0-{_MODES[standard][1]}, "
                            f"not {s['constant_mcs']}")


_PARSERS = {
    "standard": lambda v, w: cell.choice(v, w, STANDARDS),
    "band_ghz": lambda v, w: cell.choice(v, w, (2.4, 5.0, 6.0)),
    "channel_width_mhz": lambda v, w: cell.choice(v, w, (20, 40, 80, 160)),
    "rate_manager": lambda v, w: cell.choice(v, w, tuple(RATE_MANAGERS)),
    "constant_mcs": lambda v, w: cell.number(v, w, low=0, high=11, integer=True),
    "tx_power_dbm": lambda v, w: cell.number(v, w, low=-10, high=40),
    "path_loss_exponent": lambda v, w: cell.number(v, w, low=1.5, high=6),
    "min_distance_m": lambda v, w: cell.number(v, w, low=0.0, low_open=True, high=10_000),
    "max_distance_m": lambda v, w: cell.number(v, w, low=0.0, low_open=True, high=10_000),
    "distances_m": cell.distances,
    "placement_seed": lambda v, w: cell.number(v, w, low=0, integer=True),
    "ap_link_bps": cell.rate,
    "idle_gap_s": cell.idle_gap,
}


@dataclass(frozen=True)
class WifiSettings(cell.CellSettings):
    """One WiFi cell: standard, band (GHz), channel width (MHz), rate control, placement, AP link."""

    standard: str = "802.11n"
    band_ghz: float = 2.4
    channel_width_mhz: int = 20
    rate_manager: str = "minstrel-ht"
    constant_mcs: int = 7  # only with rate_manager = "constant"
    tx_power_dbm: float = 20.0
    path_loss_exponent: float = 3.0
    min_distance_m: float = 2.0
    max_distance_m: float = 30.0
    distances_m: tuple[tuple[int, float], ...] = ()
    placement_seed: int = 0
    ap_link_bps: float = 1e9
    idle_gap_s: float | None = 1.0  # see cell.run_round; None simulates idle time in full

    _where: ClassVar[str] = "wifi"
    _parsers: ClassVar[Mapping] = _PARSERS
    _check_combination = staticmethod(_check_combination)

    @classmethod
    def from_mapping(cls, data: Mapping, where: str | None = None) -> WifiSettings:
        """Settings from a scenario table; missing keys take the standard's defaults.

        Without ``band_ghz`` / ``channel_width_mhz`` / ``rate_manager`` the standard picks
        them (802.11n: 2.4 GHz, 20 MHz, MinstrelHt; 802.11ac: 5 GHz, 80 MHz, MinstrelHt;
        802.11ax: 5 GHz, 80 MHz, Thompson sampling).
        """
        where = where or cls._where
        if isinstance(data, Mapping) and "standard" in data:
            standard = cell.choice(data["standard"], f"{where}.standard", STANDARDS)
            band = cell.choice(data["band_ghz"], f"{where}.band_ghz", (2.4, 5.0, 6.0)) if "band_ghz" in data \
                else _default_band(standard)
            data = {"band_ghz": band, "channel_width_mhz": _default_width(standard, band),
                    "rate_manager": _default_rate_manager(standard), **data}
        return super().from_mapping(data, where)


def simulate_round(network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0,
                   settings: WifiSettings | None = None) -> list[ClientTiming]:
    """One round with every participant a station of one AP (times from the round start)."""
    settings = settings or WifiSettings.default()
    cell.check_cell_round(network, transfers, 'wifi')
    if len(transfers) > MAX_STATIONS:
        raise ScenarioError(f"a WiFi cell takes at most {MAX_STATIONS} stations, got {len(transfers)}")
    n = len(transfers)
    with simcore.Simulation(network.tcp) as sim:
        ns = sim.ns
        with cell.rng_run(ns, seed):
            server = sim.nodes(1)
            ap = sim.nodes(1)
            stations = sim.nodes(n)
            backhaul = sim.link(ap.Get(0), server.Get(0), settings.ap_link_bps, settings.ap_link_bps,
                                network.latency_s)

            channel = ns.YansWifiChannelHelper()
            channel.SetPropagationDelay("ns3::ConstantSpeedPropagationDelayModel")
            channel.AddPropagationLoss(
                "ns3::LogDistancePropagationLossModel",
                "Exponent", ns.DoubleValue(settings.path_loss_exponent),
                "ReferenceLoss", ns.DoubleValue(_REFERENCE_LOSS_DB[settings.band_ghz]))
            phy = ns.YansWifiPhyHelper()
            phy.SetChannel(channel.Create())
            phy.Set("ChannelSettings", ns.StringValue(
                f"{{0, {settings.channel_width_mhz}, {_NS3_BAND[settings.band_ghz]}, 0}}"))
            phy.Set("TxPowerStart", ns.DoubleValue(settings.tx_power_dbm))
            phy.Set("TxPowerEnd", ns.DoubleValue(settings.tx_power_dbm))
            wifi = ns.WifiHelper()
            wifi.SetStandard(getattr(ns, _NS3_STANDARD[settings.standard]))
            manager = RATE_MANAGERS[settings.rate_manager]
            if settings.rate_manager == "constant":
                prefix = _MODES[settings.standard][0]
                wifi.SetRemoteStationManager(manager, "DataMode", ns.StringValue(f"{prefix}{settings.constant_mcs}"),
                                             "ControlMode", ns.StringValue(_CONTROL_MODE[settings.band_ghz]))
            else:
                wifi.SetRemoteStationManager(manager)
            mac = ns.WifiMacHelper()
            ssid = ns.Ssid("netbench")
            mac.SetType("ns3::StaWifiMac", "Ssid", ns.SsidValue(ssid), "ActiveProbing", ns.BooleanValue(False))
            station_devices = wifi.Install(phy, mac, stations)
            mac.SetType("ns3::ApWifiMac", "Ssid", ns.SsidValue(ssid))
            ap_devices = wifi.Install(phy, mac, ap)

            cell.place(sim, ap, stations, transfers, settings)

            wifi.AssignStreams(station_devices, 100)
            wifi.AssignStreams(ap_devices, 100 + 1000)
            ns.InternetStackHelper().AssignStreams(ns.NodeContainer(server, ap, stations), 5000)

            addresses = ns.Ipv4AddressHelper()
            addresses.SetBase(ns.Ipv4Address("192.168.0.0"), ns.Ipv4Mask("255.255.0.0"))
            station_interfaces = addresses.Assign(station_devices)
            addresses.Assign(ap_devices)
            sim.populate_routes()
            sim._keep.extend((channel, phy, wifi, mac, station_devices, ap_devices,
                              station_interfaces, addresses))

            return cell.run_round(sim, server.Get(0), backhaul.GetAddress(1),
                                  [stations.Get(i) for i in range(n)],
                                  [station_interfaces.GetAddress(i) for i in range(n)], transfers, WARMUP_S,
                                  settings.idle_gap_s)


ENGINE = register(cell.CellEngine("wifi", WifiSettings, simulate_round))
