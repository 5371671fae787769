"""click parameter types for networks, network lists, latencies and rates.

They parse with :mod:`ns3_scenarios.network` and turn its ``ScenarioError`` into click's
usage error, so a bad ``--network 1Mbps`` stops the command before any work starts.
"""
from __future__ import annotations

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
    """``UP/DOWN`` in Mbps, e.g. ``1/5``, as a :class:`Network` (50 ms, linux TCP)."""

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


def scenario_options(command: Any) -> Any:
    """The options shared by ``replay`` and ``sweep``: latency, TCP config, compute scale, server link, star."""
    from ns3_scenarios.tcp import TCP_CONFIGS

    options = [
        click.option("--latency", type=LATENCY, default="50ms", show_default=True,
                     help="One-way propagation delay of each access link (RTT >= 2x), with a unit."),
        click.option("--tcp", type=click.Choice(list(TCP_CONFIGS)), default="linux", show_default=True,
                     help="TCP stack: 'linux' (Linux host defaults, MSS 1448) or 'ns3-default' (MSS 536; "
                          "reproduces the paper's 0.89 Mbps on 1 Mbps)."),
        click.option("--compute-scale", type=float, default=None,
                     help="Multiply every recorded compute time by this factor (e.g. to stand in for a faster "
                          "GPU); recorded in the compute_source column."),
        click.option("--server-link", type=MBPS, default=None,
                     help="Put all clients behind one router whose link to the server has this rate in Mbps "
                          "(a shared bottleneck; runs the full star)."),
        click.option("--exact-star", is_flag=True,
                     help="Simulate each round as one full ns-3 star instead of composing cached isolated flows."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def links_option(ctx: click.Context, param: click.Parameter, value: str | None) -> list | None:
    """Per-client links: a comma list of UP/DOWN networks in Mbps, repeats allowed."""
    return [NETWORK.convert(item, param, ctx) for item in value.split(",")] if value else None
