"""Measurements that check the impairment models against theory (used by tests and docs, not by replays)."""
from __future__ import annotations

from ns3_scenarios import simcore
from ns3_scenarios.links import GilbertElliott, RandomLoss


def realised_loss(loss: RandomLoss | GilbertElliott, packets: int, seed: int = 1) -> tuple[float, float]:
    """``(loss share, mean run of consecutive drops)`` of ``loss`` over ``packets`` packets, in the C++ model."""
    with simcore.Simulation("linux") as sim:
        ns = sim.ns
        em = ns.cppyy.gbl.netbench.NewErrorModel()
        em.SetSeed(seed)
        if isinstance(loss, RandomLoss):
            em.SetRandom(loss.rate)
        else:
            em.SetGilbertElliott(loss.p_good_bad, loss.p_bad_good, loss.loss_good, loss.loss_bad)
        share, burst = ns.cppyy.gbl.netbench.LossStats(em, int(packets))
        return float(share), float(burst)


def connection_reuse(nbytes: int, idle_s: float, rate_bps: float, latency_s: float,
                     tcp: str = "linux") -> tuple[float, float]:
    """Two writes of ``nbytes`` on one connection, ``idle_s`` apart: the time each takes to arrive.

    The first counts from the connection's start (handshake included), the second from its write.
    """
    with simcore.Simulation(tcp) as sim:
        netbench = sim.ns.cppyy.gbl.netbench
        nodes = sim.nodes(2)
        sender, receiver = nodes.Get(0), nodes.Get(1)
        interfaces = sim.link(sender, receiver, rate_bps, rate_bps, latency_s)
        passive = sim.endpoint(receiver, port=9)
        active = sim.endpoint(sender, peer=interfaces.GetAddress(1), port=9)
        first, second = netbench.FlowDone(nbytes, 0), netbench.FlowDone(nbytes, 1)

        def first_arrived(_tag: int) -> None:
            passive.SetDone(second)
            active.SendAfter(simcore.nanoseconds(idle_s), nbytes)

        first.onDone = first_arrived
        passive.SetDone(first)
        sim._keep.extend((first, second, first_arrived))
        active.Send(nbytes)
        sim.run(600.0)
        t1 = simcore.check_done(first, nbytes, "first transfer", 600.0)
        t2 = simcore.check_done(second, nbytes, "second transfer", 600.0)
        return t1, t2 - t1 - simcore.nanoseconds(idle_s) / 1e9
