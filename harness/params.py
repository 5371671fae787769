"""click parameter types for networks, network lists, latencies and rates.

They parse with :mod:`ns3_scenarios.network` and turn its ``ScenarioError`` into click's
usage error, so a bad ``--network 1Mbps`` stops the command before any work starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network, check_rate, parse_latency, parse_network, parse_network_list


class _ParsedType(click.ParamType):
    """A click type whose ``parse`` raises ``ScenarioError`` on bad input."""

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except ScenarioError as exc:
            self.fail(str(exc), param, ctx)


class NetworkType(_ParsedType):
    """``UP/DOWN`` in Mbps, e.g. ``1/5``, as a :class:`Network` (50 ms, the default TCP)."""

    name = "UP/DOWN"

    def parse(self, text: str) -> Network:
        return parse_network(text)


class NetworkListType(_ParsedType):
    """Comma-separated ``UP/DOWN`` pairs, e.g. ``0.2/1,1/5``, as a list of :class:`Network`."""

    name = "UP/DOWN,..."

    def parse(self, text: str) -> list[Network]:
        return parse_network_list(text)


class LatencyType(_ParsedType):
    """A one-way latency with its unit, e.g. ``50ms``, as seconds."""

    name = "LATENCY"

    def parse(self, text: str) -> float:
        return parse_latency(text)


class MbpsType(_ParsedType):
    """A link rate in Mbps, e.g. ``10``, as bits per second."""

    name = "MBPS"

    def parse(self, text: str) -> float:
        try:
            mbps = float(text)
        except ValueError:
            raise ScenarioError(f"invalid rate {text!r}: expected a number of Mbps, e.g. 10") from None
        return check_rate(mbps * 1e6, "rate")


NETWORK = NetworkType()
NETWORK_LIST = NetworkListType()
LATENCY = LatencyType()
MBPS = MbpsType()


class ScenarioType(_ParsedType):
    """A built-in scenario name (``netbench scenarios``) or a TOML scenario file, as a ``Scenario``."""

    name = "FILE_OR_NAME"

    def parse(self, text: str) -> Any:
        from harness.scenario import load_scenario

        return load_scenario(text)


class ScenarioPatternType(_ParsedType):
    """Like ``SCENARIO``, or a glob over the built-in names (``'divergence/*'``), as a list of scenarios."""

    name = "FILE_OR_NAME"

    def parse(self, text: str) -> list:
        import fnmatch

        from harness.scenario import builtins as scenario_builtins
        from harness.scenario import load_scenario

        if any(ch in text for ch in "*?[") and not Path(text).exists():
            names = fnmatch.filter(scenario_builtins.names(), text)
            if not names:
                raise ScenarioError(f"no built-in scenario matches {text!r} (see `netbench scenarios`)")
            return [scenario_builtins.get(n) for n in names]
        return [load_scenario(text)]


class ProbabilityType(_ParsedType):
    """A loss probability in [0, 1), e.g. ``0.01`` (a rate of 1 would deliver nothing)."""

    name = "RATE"

    def parse(self, text: str) -> float:
        from ns3_scenarios.links import probability

        try:
            value = float(text)
        except ValueError:
            raise ScenarioError(f"invalid loss rate {text!r}: expected a probability in [0, 1), e.g. 0.01") from None
        return probability(value, "loss rate", below_one=True)


SCENARIO = ScenarioType()
SCENARIOS = ScenarioPatternType()
PROBABILITY = ProbabilityType()

#: The shorthand flags (parameter names) that build a scenario; they cannot be mixed with ``--scenario``.
SHORTHANDS = ("latency", "tcp", "compute_scale", "server_link", "exact_star", "loss", "trace")


def scenario_options(command: Any) -> Any:
    """The shorthand options shared by ``replay`` and ``sweep``: each builds part of a scenario."""
    from ns3_scenarios.network import DEFAULT_TCP
    from ns3_scenarios.tcp import TCP_CONFIGS

    options = [
        click.option("--latency", type=LATENCY, default="50ms", show_default=True,
                     help="One-way propagation delay of each access link (RTT >= 2x), with a unit."),
        click.option("--tcp", type=click.Choice(list(TCP_CONFIGS)), default=DEFAULT_TCP, show_default=True,
                     help="TCP stack: 'linux-cubic' (Linux host defaults, MSS 1448, Linux's RTO srtt + max(200 ms, "
                          "4 rttvar), a port of Linux's tcp_cubic.c and Linux's quick ACKs), 'linux-rto' (the same "
                          "with ns-3's TcpCubic and delayed ACKs from the start; the default before), 'linux' "
                          "(linux-rto with ns-3's RTO, SYN timeout and HyStart ceiling; the default before that), "
                          "'ns3-default' (MSS 536; reproduces the paper's 0.89 Mbps on 1 Mbps) or "
                          "'linux-cubic-rcvtune' (linux-cubic plus Linux's receive-window autotuning); "
                          "docs/NETWORK.md compares them with real Linux."),
        click.option("--compute-scale", type=float, default=None,
                     help="Multiply every recorded compute time by this factor (e.g. to stand in for a faster "
                          "GPU); recorded in the compute_source column."),
        click.option("--server-link", type=MBPS, default=None,
                     help="Put all clients behind one router whose link to the server has this rate in Mbps "
                          "(a shared bottleneck; runs the full star)."),
        click.option("--exact-star", is_flag=True,
                     help="Simulate each round as one full ns-3 star instead of composing cached isolated flows."),
        click.option("--loss", type=PROBABILITY, default=None,
                     help="Random packet loss rate on both directions of every access link, e.g. 0.01 (seeded)."),
        click.option("--trace", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help="Capacity trace (CSV time_s,mbps or mahimahi) that both directions of every access "
                          "link follow; or a library trace trace/<name> (each direction its measured trace)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def explicit(ctx: click.Context, names: tuple[str, ...] | list[str]) -> list[str]:
    """The parameters among ``names`` that the user gave on the command line (as ``--flag`` names)."""
    from click.core import ParameterSource

    return [f"--{n.replace('_', '-')}" for n in names
            if ctx.get_parameter_source(n) not in (None, ParameterSource.DEFAULT)]


def shorthand_scenario(network: Network, *, latency: float, tcp: str, compute_scale: float | None,
                       server_link: float | None, exact_star: bool, loss: float | None, trace: str | None,
                       links: list[Network] | None = None, links_seed: int | None = None) -> Any:
    """The ``Scenario`` the shorthand flags describe (named as before: ``1/5``, ``1/5 20ms``, ``links ...``)."""
    from harness.scenario import ClientLinks, Scenario
    from harness.scenario.toml import with_shorthand_impairments

    network = network.with_(latency_s=latency, tcp=tcp, server_link_bps=server_link)
    name = network.label
    network = with_shorthand_impairments(network, loss=loss, trace=trace)
    if loss:
        name += f" loss {loss:g}"
    if trace:
        name += f" trace {Path(trace).name}"
    client_links = None
    if links:
        mix = tuple(with_shorthand_impairments(n.with_(latency_s=latency, tcp=tcp), loss=loss, trace=trace)
                    for n in links)
        client_links = ClientLinks(mix=mix, draw="random" if links_seed is not None else "cycle", seed=links_seed)
        name = "links " + ",".join(n.name for n in links)
    return Scenario.from_network(network, name=name, compute_scale=compute_scale, exact_star=exact_star,
                                 client_links=client_links)


def links_option(ctx: click.Context, param: click.Parameter, value: str | None) -> list | None:
    """Per-client links: a comma list of UP/DOWN networks in Mbps, repeats allowed."""
    return [NETWORK.convert(item, param, ctx) for item in value.split(",")] if value else None
