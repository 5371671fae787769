"""Built-in named scenarios: the paper's four presets, a few realistic access networks, a WiFi and an LTE cell,
and measured networks (``trace/...``, :mod:`harness.scenario.traces`).

The presets (``0.2/1``, ``1/5``, ``2/10``, ``5/25``: Mbps up/down, 50 ms, Linux TCP) are the
shorthand ``--network`` scenarios, with the same hash. The others are TOML text in
:data:`BUILTINS`, parsed like a user's file; ``docs/NETWORK.md`` justifies each one's
numbers (and gives the stationary loss rate and mean burst of every Gilbert–Elliott channel).
``divergence/<factor>=<level>`` are the one-factor-at-a-time scenarios of the divergence
figure (``netbench plot --kind divergence``), around the 1/5 preset.
"""
from __future__ import annotations

import functools

from harness.scenario.spec import Scenario
from ns3_scenarios.network import PRESETS

#: Realistic access networks (TOML, the format of scenario files).
BUILTINS: dict[str, str] = {
    "dsl-lossy": """
        description = "ADSL2+ line: 1/16 Mbps, 20 ms one way, 0.5 % random loss both ways (impulse noise on a long loop)"
        [link]
        up = "1Mbps"
        down = "16Mbps"
        latency = "20ms"
        loss = 0.005
    """,
    "wifi-bursty": """
        description = "Home Wi-Fi behind a 10/50 Mbps line: bursty loss (Gilbert-Elliott: 0.99 % stationary, bursts of 4)"
        [link]
        up = "10Mbps"
        down = "50Mbps"
        latency = "10ms"
        loss = { kind = "gilbert-elliott", p_good_bad = 0.0025, p_bad_good = 0.25, loss_good = 0.0, loss_bad = 1.0 }
    """,
    "mobile-uplink": """
        description = "LTE uplink following a generated trace (mean 5 Mbps, log-normal steps of 1 s), 20 Mbps down, 40 ms"
        seed = 11
        [link]
        up = "5Mbps"
        down = "20Mbps"
        latency = "40ms"
        [link.uplink.trace.generate]
        mean = "5Mbps"
        cv = 0.6
        step = "1s"
        duration = "300s"
        seed = 11
    """,
    "congested-uplink": """
        description = "1/5 Mbps line whose uplink carries one bulk TCP upload (a cloud backup) from t = 0"
        [link]
        up = "1Mbps"
        down = "5Mbps"
        [[link.cross]]
        direction = "up"
        kind = "bulk"
        start = "0s"
    """,
    "stragglers": """
        description = "Heterogeneous federation: links 0.2/1 (20 %), 1/5 (50 %), 5/25 (30 %); 20 % of devices compute 4x slower"
        seed = 5
        [link]
        up = "1Mbps"
        down = "5Mbps"
        [links]
        draw = "random"
        [[links.choice]]
        weight = 0.2
        up = "0.2Mbps"
        down = "1Mbps"
        [[links.choice]]
        weight = 0.5
        up = "1Mbps"
        down = "5Mbps"
        [[links.choice]]
        weight = 0.3
        up = "5Mbps"
        down = "25Mbps"
        [[compute.mixture]]
        weight = 0.8
        factor = 1.0
        [[compute.mixture]]
        weight = 0.2
        factor = 4.0
    """,
    "wifi-home": """
        description = "Wi-Fi cell: 802.11n 2.4 GHz 20 MHz, MinstrelHt, stations 2-30 m from the AP (seeded), AP wired at 1 Gbps, 20 ms to the server; link = the 65 Mbps MCS 7 nominal rate"
        seed = 1
        [link]
        up = "65Mbps"
        down = "65Mbps"
        latency = "20ms"
        [engine]
        name = "wifi"
        [engine.wifi]
        standard = "802.11n"
        band_ghz = 2.4
        channel_width_mhz = 20
        rate_manager = "minstrel-ht"
        min_distance_m = 2.0
        max_distance_m = 30.0
    """,
    "lte-cell": """
        description = "LTE cell: 25 RB (5 MHz) each way, proportional fair, RLC UM 1 MB, UEs 50-500 m (seeded), log-distance loss, 30 ms PGW to server; link = the 18 Mbps one-UE peak"
        seed = 1
        [link]
        up = "18Mbps"
        down = "18Mbps"
        latency = "30ms"
        [engine]
        name = "lte"
        [engine.lte]
        ul_resource_blocks = 25
        dl_resource_blocks = 25
        scheduler = "pf"
        rlc_mode = "um"
        min_distance_m = 50.0
        max_distance_m = 500.0
    """,
}

#: One factor at a time around the 1/5 preset (TOML ``[link]`` lines), for the divergence figure. Queue sizes
#: matter only under load, so ``queue=<N>`` is a DropTail buffer of N packets with one competing bulk upload.
DIVERGENCE: dict[str, str] = {
    **{f"loss={p:g}": f"loss = {p}" for p in (0.001, 0.01, 0.05)},
    **{f"burst={b:g}": f'loss = {{ kind = "gilbert-elliott", rate = 0.01, mean_burst = {b} }}' for b in (2, 4, 10)},
    **{f"trace-cv={cv:g}": (f'uplink.trace.generate = {{ mean = "1Mbps", cv = {cv}, step = "1s", duration = "300s", '
                            f'seed = 7 }}') for cv in (0.25, 0.5, 1.0)},
    **{f"cross={n}": "cross = [" + ", ".join(['{ direction = "up", kind = "bulk", start = "0s" }'] * n) + "]"
       for n in (1, 2)},
    **{f"queue={q}": (f'queue = {{ limit = {q}, unit = "packets", discipline = "droptail" }}\n'
                      'cross = [{ direction = "up", kind = "bulk", start = "0s" }]') for q in (20, 100, 1000)},
}


def names() -> list[str]:
    """Every built-in name: presets, realistic ones, divergence ones."""
    from harness.scenario import traces as scenario_traces

    return [*PRESETS, *BUILTINS, *(f"divergence/{k}" for k in DIVERGENCE), *scenario_traces.names()]


@functools.lru_cache(maxsize=None)
def get(name: str) -> Scenario:
    """The built-in scenario ``name`` (``ScenarioError`` if unknown)."""
    from harness.scenario import toml as scenario_toml
    from ns3_scenarios.errors import ScenarioError

    from harness.scenario import traces as scenario_traces

    if name in PRESETS:
        return Scenario.from_network(PRESETS[name])
    if name in scenario_traces.names():
        return scenario_traces.get(name)
    if name in BUILTINS:
        text = "\n".join(line.strip() for line in BUILTINS[name].splitlines())
        return scenario_toml.load_text(text, name=name, origin=f"built-in scenario {name!r}")
    if name.startswith("divergence/") and name.removeprefix("divergence/") in DIVERGENCE:
        factor, _, level = name.removeprefix("divergence/").partition("=")
        text = (f'description = "1/5 Mbps, 50 ms with {factor} = {level} (divergence figure)"\nseed = 1\n'
                f'[link]\nup = "1Mbps"\ndown = "5Mbps"\n{DIVERGENCE[name.removeprefix("divergence/")]}\n')
        return scenario_toml.load_text(text, name=name, origin=f"built-in scenario {name!r}")
    raise ScenarioError(f"unknown built-in scenario {name!r}: expected one of {', '.join(names())}")
