"""Arrival times for training schedules, from a scenario's engine in ns-3.

:class:`ScenarioArrivals` gives a synchronous round's timings through the scenario's engine
(for the deadline schedule) and one client's dispatch (for FedBuff); each round's
randomness comes from ``scenario.round_seed(run, round)``, as in replay, so replaying a
run reproduces the arrivals its training saw (a dispatch's from
``scenario.dispatch_seed(run, dispatch, client)``). :class:`NetworkArrivals` is the FedBuff
arrival model of a ``RunConfig``'s ``links`` / ``links_seed``.
"""
from __future__ import annotations

from collections.abc import Sequence

from fl_core.run.config import RunConfig
from harness.scenario import ClientLinks, Scenario
from harness.simulate import simulate_round, simulate_seeded
from ns3_scenarios.network import Network, heterogeneous_links, parse_network
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, check_round
from ns3_scenarios.worker import NsWorker, shared_worker


def assign_links(links: list[Network], n_clients: int, seed: int | None) -> list[Network]:
    """Client c's network: ``links`` cycled by client id, or drawn uniformly from them with ``seed``."""
    if seed is not None:
        return heterogeneous_links(n_clients, links, seed)
    return [links[c % len(links)] for c in range(n_clients)]


def _as_transfer(t) -> ClientTransfer:
    """A ``ClientTransfer`` from one (``fl_core.schedules.base.Transfer`` has the same fields)."""
    if isinstance(t, ClientTransfer):
        return t
    return ClientTransfer(int(t.client), int(t.downlink_bytes), float(t.compute_s), int(t.uplink_bytes))


class ScenarioArrivals:
    """Arrival times from a :class:`Scenario`: whole rounds (deadline schedule) and single dispatches (FedBuff).

    ``run`` names the run (its directory name, as replay's ``record.name``) so the seeds match replay's.
    """

    def __init__(self, scenario: Scenario, run: str = "", worker: NsWorker | None = None) -> None:
        self.scenario = scenario
        self.run = run
        self._worker = worker

    @property
    def worker(self) -> NsWorker:
        return self._worker or shared_worker()

    def compute_factor(self, client: int) -> float:
        """The scenario's factor on ``client``'s measured compute time."""
        return self.scenario.compute_factor(client)

    def round_times(self, round_idx: int, transfers: Sequence[ClientTransfer]) -> list[ClientTiming]:
        """Every client's download end, upload start and upload end (s from round start), in ``transfers``' order.

        ``transfers`` carry the measured compute times; the scenario's links and compute
        factors are applied here, exactly as replay applies them.
        """
        prepared = self.scenario.prepare([_as_transfer(t) for t in transfers])
        check_round(self.scenario.network, prepared)
        return self.worker.call(simulate_round, self.scenario, self.run, round_idx, prepared)

    def dispatch_times(self, dispatch: int, transfer) -> ClientTiming:
        """One FedBuff dispatch of one client, alone on its link (seconds from the dispatch).

        The download, the scenario's compute time (the measured one times the client's
        compute factor) and the upload are one simulation, so the upload meets the capacity
        trace and the cross traffic where it really starts; the seed is the dispatch's own,
        ``scenario.dispatch_seed(run, dispatch, client)``, whatever order dispatches are asked in.
        """
        (prepared,) = self.scenario.prepare([_as_transfer(transfer)])
        check_round(self.scenario.network, [prepared])
        seed = self.scenario.dispatch_seed(self.run, dispatch, prepared.client)
        return self.worker.call(simulate_seeded, self.scenario, [prepared], seed)[0]


class NetworkArrivals(ScenarioArrivals):
    """An ``ArrivalModel`` and ``RoundArrivals`` (``fl_core.schedules.base``) from ``cfg.links`` (cycled by client id, or drawn with ``links_seed``)."""

    def __init__(self, cfg: RunConfig) -> None:
        links = [parse_network(text) for text in cfg.links]
        self.links = assign_links(links, cfg.n_clients, cfg.links_seed)
        client_links = ClientLinks(overrides=dict(enumerate(self.links)))
        super().__init__(Scenario.from_network(links[0], name="links " + ",".join(n.name for n in links),
                                               client_links=client_links))
