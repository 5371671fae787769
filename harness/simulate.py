"""One round of prepared transfers through a scenario's engine: the call replay, arrival times and prefill share.

The transfers are as the engine gets them (:meth:`Scenario.prepare`: each client's own link,
compute scaled); the round's seed is ``scenario.round_seed(run, round)``, so a round simulated
for a schedule's arrival times, by a replay or by a sweep's prefill is the same simulation.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.scenario.spec import engines
from ns3_scenarios.transfers import ClientTiming, ClientTransfer


def simulate_round(scenario: Any, run: str, round_idx: int, transfers: Sequence[ClientTransfer]) -> list[ClientTiming]:
    """Round ``round_idx`` of run ``run`` through ``scenario``'s engine and settings (in this process)."""
    return simulate_seeded(scenario, transfers, scenario.round_seed(run, round_idx))


def simulate_seeded(scenario: Any, transfers: Sequence[ClientTransfer], seed: int) -> list[ClientTiming]:
    """Prepared ``transfers`` through ``scenario``'s engine and settings with an explicit ``seed``
    (a FedBuff dispatch's own, ``scenario.dispatch_seed``)."""
    engine = engines()[scenario.engine]
    return engine.simulate_round(scenario.network, list(transfers), seed=seed, settings=scenario.engine_settings)
