"""Measurements that check the impairment models against theory (used by tests and docs, not by replays)."""
from __future__ import annotations

from ns3_scenarios import simcore
from ns3_scenarios.engines.isolated import FlowSpec, add_flow
from ns3_scenarios.links import CapacityTrace, GilbertElliott, Impairments, RandomLoss
from ns3_scenarios.network import DEFAULT_TCP


def realised_loss(loss: RandomLoss | GilbertElliott, packets: int, seed: int = 1) -> tuple[float, float]:
    """``(loss share, mean run of consecutive drops)`` of ``loss`` over ``packets`` packets, in the C++ model."""
    with simcore.Simulation(DEFAULT_TCP) as sim:  # the chain alone: no flow, so the TCP config is moot
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
                     tcp: str = DEFAULT_TCP) -> tuple[float, float]:
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


def flow_loss(nbytes: int, rate_bps: float, reverse_bps: float, latency_s: float, loss: RandomLoss | GilbertElliott,
              *, seed: int = 1, trace: CapacityTrace | None = None, tcp: str = DEFAULT_TCP) -> dict[str, float]:
    """The loss one real TCP flow of ``nbytes`` meets: ``loss`` on its data direction (under ``trace``
    if given) and on its ACK direction, as replays apply them (the Gilbert-Elliott chain stepped per
    1500-byte slot at the nominal rate).

    Returns per direction (``data_``/``ack_``) the packets seen, the share dropped and the mean run
    of consecutive drops.
    """
    with simcore.Simulation(tcp, stop_after=1) as sim:  # stop when the flow is complete (traces cycle)
        nodes = sim.nodes(2)
        sender, receiver = nodes.Get(0), nodes.Get(1)
        data = Impairments(loss=loss, trace=trace)
        interfaces = sim.link(sender, receiver, rate_bps, reverse_bps, latency_s, a_sends=data,
                              b_sends=Impairments(loss=loss),
                              a_seed=seed, b_seed=seed + 7919)
        done, start = sim.message(sender, receiver, interfaces.GetAddress(1), 9, int(nbytes), tag=0, tls=False)
        start(0)
        horizon = 3600.0
        sim.run(horizon)
        simcore.check_done(done, int(nbytes), "probe flow", horizon)
        ack_em, data_em = sim.error_models[-1]
        out = {}
        for name, em in (("data", data_em), ("ack", ack_em)):
            seen, dropped, runs = int(em.Seen()), int(em.Dropped()), int(em.Runs())
            out.update({f"{name}_packets": seen, f"{name}_loss": dropped / seen if seen else 0.0,
                        f"{name}_burst": dropped / runs if runs else 0.0})
        return out


def recovery_counts(spec: FlowSpec, *, hook_at_s: float = 1e-6) -> dict[str, float]:
    """One isolated flow (:class:`FlowSpec`, as replays build it) and how its sender recovered from loss.

    Returns the completion time (``seconds``) and the sender's counts, named as Linux's
    (``benchmarks/linux_reference.py --counters``): ``recoveries`` (fast-recovery episodes,
    TCPSackRecovery), ``timeouts`` (RTO expiries, TCPTimeouts), ``loss_episodes`` (entries into
    CA_LOSS) and ``retransmissions`` (retransmitted segments, RetransSegs); and
    ``slow_start_exit``, the first slow-start threshold set, in segments (HyStart's exit on a
    lossless flow; 0 if slow start never ended).
    """
    with simcore.Simulation(spec.tcp) as sim:
        counter = simcore.include(simcore.RECOVERY_PROBE_HEADER).cppyy.gbl.netbench.RecoveryCounter()
        done = add_flow(sim, spec)
        counter.HookAt(hook_at_s)
        sim._keep.append(counter)
        sim.run(spec.horizon_s)
        seconds = simcore.check_done(done, spec.nbytes, "probe flow", spec.horizon_s)
        return {"seconds": seconds, "recoveries": int(counter.recoveries), "timeouts": int(counter.timeouts),
                "loss_episodes": int(counter.lossEpisodes), "retransmissions": int(counter.retransmissions),
                "slow_start_exit": int(counter.firstSsthresh) // sim.tcp.segment_size}
