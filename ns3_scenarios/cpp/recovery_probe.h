// netbench::RecoveryCounter: how a simulation's TCP senders recovered from loss, for comparing
// ns-3 with Linux's sender counters (benchmarks/tcp_fidelity.py --counters, beside
// benchmarks/linux_reference.py --counters). Opt-in: ns3_scenarios.probes.recovery_counts
// compiles it; no replay uses it.
#pragma once

#include "ns3/config.h"
#include "ns3/nstime.h"
#include "ns3/simulator.h"
#include "ns3/tcp-header.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/tcp-socket-state.h"

#include <cstdint>

namespace netbench
{

/** Counts, over the TCP sockets that exist when Hook() runs: entries into fast recovery
 * (CongState -> CA_RECOVERY; Linux's TCPSackRecovery), entries into CA_LOSS, RTO expiries (each
 * doubles the RTO: ns-3's back-off; Linux's TCPTimeouts) and retransmitted segments (Linux's
 * RetransSegs); and the first slow-start threshold a sender set (HyStart's exit, or the first
 * loss's reduction), in bytes (0: never set). */
class RecoveryCounter
{
  public:
    uint32_t recoveries = 0;
    uint32_t lossEpisodes = 0;
    uint32_t timeouts = 0;
    uint32_t retransmissions = 0;
    uint32_t firstSsthresh = 0;

    /** Connect to every TCP socket of every node now. */
    void Hook()
    {
        ns3::Config::MatchContainer sockets =
            ns3::Config::LookupMatches("/NodeList/*/$ns3::TcpL4Protocol/SocketList/*");
        for (auto it = sockets.Begin(); it != sockets.End(); ++it)
        {
            (*it)->TraceConnectWithoutContext("CongState", ns3::MakeCallback(&RecoveryCounter::OnState, this));
            (*it)->TraceConnectWithoutContext("RTO", ns3::MakeCallback(&RecoveryCounter::OnRto, this));
            (*it)->TraceConnectWithoutContext("Retransmission",
                                              ns3::MakeCallback(&RecoveryCounter::OnRetransmission, this));
            (*it)->TraceConnectWithoutContext("SlowStartThreshold",
                                              ns3::MakeCallback(&RecoveryCounter::OnSsthresh, this));
        }
    }

    /** Hook() at simulated time ``seconds`` (after the senders' sockets are created). */
    void HookAt(double seconds)
    {
        ns3::Simulator::Schedule(ns3::Seconds(seconds), &RecoveryCounter::Hook, this);
    }

  private:
    void OnState(ns3::TcpSocketState::TcpCongState_t before, ns3::TcpSocketState::TcpCongState_t after)
    {
        if (after == before)
        {
            return;
        }
        recoveries += after == ns3::TcpSocketState::CA_RECOVERY;
        lossEpisodes += after == ns3::TcpSocketState::CA_LOSS;
    }

    void OnRto(ns3::Time before, ns3::Time after)
    {
        // ReTxTimeout's back-off: m_rto = Min(m_rto * 2, 60 s); an RTT sample sets it from srtt instead.
        timeouts += before.IsStrictlyPositive() && after.GetTimeStep() == 2 * before.GetTimeStep();
    }

    void OnSsthresh(uint32_t, uint32_t after)
    {
        if (firstSsthresh == 0 && after < 0x7fffffffu) // not the initial "infinite" threshold
        {
            firstSsthresh = after;
        }
    }

    void OnRetransmission(ns3::Ptr<const ns3::Packet>, const ns3::TcpHeader&, const ns3::Address&,
                          const ns3::Address&, ns3::Ptr<const ns3::TcpSocketBase>)
    {
        ++retransmissions;
    }
};

} // namespace netbench
