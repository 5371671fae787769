// Linux 6.x CUBIC (net/ipv4/tcp_cubic.c) as an ns-3 congestion control, "ns3::TcpLinuxCubic".
//
// Included by netbench.h; simcore.load registers the TypeId, so a TcpConfig can name it as its
// socket_type ("linux-cubic"). The arithmetic is Linux's: u32 packet counts, jiffies at
// CONFIG_HZ (attribute Hz, 250 as in the reference machine's 6.18 kernel), bic_K in 2^-10 s,
// the table-plus-Newton cube root, beta 717/1024, bic_scale 41, beta_scale 15. Where ns-3's
// TcpCubic differs and this class follows Linux:
//  * ACK counting: `acked` is the segments this ACK delivered (cumulatively or by SACK,
//    Linux's tp->delivered delta = ns-3's m_lastAckedSackedBytes), not ns-3's segsAcked, which
//    on the ACK that ends fast recovery is the whole cumulative jump over SACKed data
//    (attribute AckedIsDelivered=false feeds it ns-3's count instead: an ablation switch).
//  * tcp_slow_start stops at ssthresh and hands the rest of `acked` to congestion avoidance;
//    tcp_cong_avoid_ai adds cnt-worth credits, several segments per ACK if due (ns-3: at most one).
//  * snd_cwnd_cnt restarts at 0 when the window is reduced (tcp_init_cwnd_reduction,
//    tcp_enter_loss); bictcp_update recomputes cnt at most every HZ/32 jiffies while cwnd is
//    unchanged and at most once per jiffy; on an RTO (CA_Loss) all CUBIC state is reset,
//    last_max_cwnd included.
//  * HyStart: ack train when ACKs <= 2 ms apart span more than (delay_min + ack_delay) / 2
//    since the round started; delay increase when the round's minimum RTT (over all its
//    samples, tested from the 9th on) exceeds delay_min + clamp(delay_min / 8, 4 ms, 16 ms);
//    only while cwnd < ssthresh and cwnd >= 16; RTT samples within 1 s (HZ) of an epoch start
//    are ignored. ack_delay is Linux's hystart_ack_delay(): min(1 ms, 4 GSO sizes at the pacing
//    rate), which is 1 ms at every rate below ~2 Gbit/s (attribute HyStartAckDelay). The RTT
//    sample is the ACK's own (tcb->m_lastRtt; ns-3 hands PktsAcked the smoothed RTT), at the
//    millisecond resolution of ns-3's timestamp option (Linux: microseconds).
// Not modelled: CA_EVENT_TX_START's epoch shift after an idle period (ns-3 does not give the
// congestion control the last send time; the flows measured here never go idle) and
// undo_cwnd (ns-3 has no undo).
#pragma once
#include <algorithm>
#include <cstdint>

namespace ns3 {

// The per-connection state of Linux's struct bictcp and its bictcp_update, free of ns-3 so that
// Python (tests) can drive it directly.
struct LinuxBictcp {
  static constexpr uint32_t kBetaScale = 1024;  // BICTCP_BETA_SCALE
  static constexpr uint32_t kBicHz = 10;        // BICTCP_HZ: 2^10 = 1024
  // module parameters (Linux's defaults) and CONFIG_HZ
  uint32_t beta = 717, bicScale = 41, hz = 250;
  bool tcpFriendliness = true, fastConvergence = true;

  // struct bictcp, in its order; delayMin in us, times in jiffies (HyStart's in us)
  uint32_t cnt = 0, lastMaxCwnd = 0, lastCwnd = 0, lastTime = 0, bicOriginPoint = 0, bicK = 0;
  uint32_t delayMin = 0, epochStart = 0, ackCnt = 0, tcpCwnd = 0;
  uint8_t sampleCnt = 0, found = 0;
  uint32_t roundStart = 0, endSeq = 0, lastAck = 0, currRtt = 0;

  uint32_t BetaScale() const { return 8 * (kBetaScale + beta) / 3 / (kBetaScale - beta); }
  uint32_t CubeRttScale() const { return bicScale * 10; }
  uint64_t CubeFactor() const { return (uint64_t(1) << (10 + 3 * kBicHz)) / (bicScale * 10); }

  // memset(ca, 0, offsetof(struct bictcp, unused)); found = 0
  void Reset() {
    cnt = lastMaxCwnd = lastCwnd = lastTime = bicOriginPoint = bicK = delayMin = epochStart = ackCnt = tcpCwnd = 0;
    found = 0;
  }

  static uint32_t Fls64(uint64_t x) {
    uint32_t b = 0;
    while (x) { b++; x >>= 1; }
    return b;
  }

  // Linux's cubic_root: table lookup then one Newton-Raphson step (average error ~0.2 %).
  static uint32_t CubicRoot(uint64_t a) {
    static const uint8_t v[] = {
        0,   54,  54,  54,  118, 118, 118, 118, 123, 129, 134, 138, 143, 147, 151, 156,
        157, 161, 164, 168, 170, 173, 176, 179, 181, 185, 187, 190, 192, 194, 197, 199,
        200, 202, 204, 206, 209, 211, 213, 215, 217, 219, 221, 222, 224, 225, 227, 229,
        231, 232, 234, 236, 237, 239, 240, 242, 244, 245, 246, 248, 250, 251, 252, 254,
    };
    uint32_t b = Fls64(a);
    if (b < 7) return (uint32_t(v[uint32_t(a)]) + 35) >> 6;
    b = ((b * 84) >> 8) - 1;
    uint32_t shift = uint32_t(a >> (b * 3));
    uint32_t x = uint32_t(uint32_t(v[shift] + 10) << b) >> 6;
    x = 2 * x + uint32_t(a / (uint64_t(x) * uint64_t(x - 1)));
    x = (x * 341) >> 10;
    return x;
  }

  uint32_t UsecsToJiffies(uint32_t us) const {
    uint32_t per = 1000000u / hz;
    return uint32_t((uint64_t(us) + per - 1) / per);
  }

  // bictcp_update(ca, cwnd, acked) at time `jiffies` (tcp_jiffies32): sets cnt.
  void Update(uint32_t cwnd, uint32_t acked, uint32_t jiffies) {
    uint32_t delta, bicTarget, maxCnt;
    uint64_t offs, t;
    ackCnt += acked;
    if (lastCwnd == cwnd && int32_t(jiffies - lastTime) <= int32_t(hz / 32)) return;
    if (!(epochStart && jiffies == lastTime)) {
      lastCwnd = cwnd;
      lastTime = jiffies;
      if (epochStart == 0) {
        epochStart = jiffies;
        ackCnt = acked;
        tcpCwnd = cwnd;
        if (lastMaxCwnd <= cwnd) {
          bicK = 0;
          bicOriginPoint = cwnd;
        } else {
          bicK = CubicRoot(CubeFactor() * (lastMaxCwnd - cwnd));
          bicOriginPoint = lastMaxCwnd;
        }
      }
      t = uint64_t(int64_t(int32_t(jiffies - epochStart)));
      t += UsecsToJiffies(delayMin);
      t <<= kBicHz;
      t /= hz;
      offs = t < bicK ? bicK - t : t - bicK;
      delta = uint32_t((CubeRttScale() * offs * offs * offs) >> (10 + 3 * kBicHz));
      bicTarget = t < bicK ? bicOriginPoint - delta : bicOriginPoint + delta;
      cnt = bicTarget > cwnd ? cwnd / (bicTarget - cwnd) : 100 * cwnd;
      if (lastMaxCwnd == 0 && cnt > 20) cnt = 20;
    }
    if (tcpFriendliness) {
      delta = (cwnd * BetaScale()) >> 3;
      while (ackCnt > delta) {
        ackCnt -= delta;
        tcpCwnd++;
      }
      if (tcpCwnd > cwnd) {
        delta = tcpCwnd - cwnd;
        maxCnt = cwnd / delta;
        if (cnt > maxCnt) cnt = maxCnt;
      }
    }
    cnt = std::max(cnt, 2u);
  }

  // cubictcp_recalc_ssthresh: ssthresh in packets.
  uint32_t RecalcSsthresh(uint32_t cwnd) {
    epochStart = 0;
    if (cwnd < lastMaxCwnd && fastConvergence)
      lastMaxCwnd = (cwnd * (kBetaScale + beta)) / (2 * kBetaScale);
    else
      lastMaxCwnd = cwnd;
    return std::max((cwnd * beta) / kBetaScale, 2u);
  }
};

// tcp_slow_start: grows *cwnd by acked up to ssthresh; returns the acked left for CA.
inline uint32_t LinuxTcpSlowStart(uint32_t* cwnd, uint32_t ssthresh, uint32_t acked) {
  uint32_t c = std::min(*cwnd + acked, ssthresh);
  acked -= c - *cwnd;
  *cwnd = c;
  return acked;
}

// tcp_cong_avoid_ai: one segment per w acked, credits in *cnt.
inline void LinuxTcpCongAvoidAi(uint32_t* cwnd, uint32_t* cwndCnt, uint32_t w, uint32_t acked) {
  if (*cwndCnt >= w) {
    *cwndCnt = 0;
    (*cwnd)++;
  }
  *cwndCnt += acked;
  if (*cwndCnt >= w) {
    uint32_t delta = *cwndCnt / w;
    *cwndCnt -= delta * w;
    *cwnd += delta;
  }
}

class TcpLinuxCubic : public TcpCongestionOps {
 public:
  static TypeId GetTypeId() {
    static TypeId tid =
        TypeId("ns3::TcpLinuxCubic")
            .SetParent<TcpCongestionOps>()
            .SetGroupName("Internet")
            .AddConstructor<TcpLinuxCubic>()
            .AddAttribute("Hz", "CONFIG_HZ: jiffies per second (the reference kernel's: 250)", UintegerValue(250),
                          MakeUintegerAccessor(&TcpLinuxCubic::m_hz), MakeUintegerChecker<uint32_t>(100, 1000))
            .AddAttribute("TcpFriendliness", "tcp_friendliness (Reno-emulating floor)", BooleanValue(true),
                          MakeBooleanAccessor(&TcpLinuxCubic::m_friendliness), MakeBooleanChecker())
            .AddAttribute("FastConvergence", "fast_convergence", BooleanValue(true),
                          MakeBooleanAccessor(&TcpLinuxCubic::m_fastConvergence), MakeBooleanChecker())
            .AddAttribute("HyStart", "hystart (ack train and delay detection)", BooleanValue(true),
                          MakeBooleanAccessor(&TcpLinuxCubic::m_hystart), MakeBooleanChecker())
            .AddAttribute("HyStartAckDelay", "hystart_ack_delay(): the ack-train threshold's cushion",
                          TimeValue(MilliSeconds(1)), MakeTimeAccessor(&TcpLinuxCubic::m_ackDelay),
                          MakeTimeChecker())
            .AddAttribute("AckedIsDelivered",
                          "Count an ACK's segments as Linux does (delivered, SACKed included); false: ns-3's "
                          "segmentsAcked (an ablation switch, not Linux)",
                          BooleanValue(true), MakeBooleanAccessor(&TcpLinuxCubic::m_ackedIsDelivered),
                          MakeBooleanChecker());
    return tid;
  }
  TcpLinuxCubic() = default;
  TcpLinuxCubic(const TcpLinuxCubic& o)
      : TcpCongestionOps(o), m_hz(o.m_hz), m_friendliness(o.m_friendliness), m_fastConvergence(o.m_fastConvergence),
        m_hystart(o.m_hystart), m_ackDelay(o.m_ackDelay), m_ackedIsDelivered(o.m_ackedIsDelivered), m_ca(o.m_ca),
        m_cwndCnt(o.m_cwndCnt) {}

  std::string GetName() const override { return "TcpLinuxCubic"; }
  Ptr<TcpCongestionOps> Fork() override { return CopyObject<TcpLinuxCubic>(this); }

  // cubictcp_init
  void Init(Ptr<TcpSocketState> tcb) override {
    Params();
    m_ca.Reset();
    if (m_hystart) HystartReset(tcb);
  }

  // cubictcp_recalc_ssthresh; the window reduction also restarts snd_cwnd_cnt.
  uint32_t GetSsThresh(Ptr<const TcpSocketState> tcb, uint32_t) override {
    Params();
    m_cwndCnt = 0;
    return m_ca.RecalcSsthresh(tcb->GetCwndInSegments()) * tcb->m_segmentSize;
  }

  // cubictcp_cong_avoid
  void IncreaseWindow(Ptr<TcpSocketState> tcb, uint32_t segmentsAcked) override {
    if (!tcb->m_isCwndLimited) return;
    uint32_t seg = tcb->m_segmentSize;
    uint32_t delivered = tcb->m_lastAckedSackedBytes;
    uint32_t acked = m_ackedIsDelivered && delivered > 0 ? (delivered + seg - 1) / seg : segmentsAcked;
    if (acked == 0) return;
    uint32_t cwnd = tcb->GetCwndInSegments();
    uint32_t before = cwnd;
    uint32_t ssthresh = tcb->GetSsThreshInSegments();
    if (cwnd < ssthresh) {
      acked = LinuxTcpSlowStart(&cwnd, ssthresh, acked);
    }
    if (acked > 0) {
      m_ca.Update(cwnd, acked, Jiffies());
      LinuxTcpCongAvoidAi(&cwnd, &m_cwndCnt, m_ca.cnt, acked);
    }
    if (cwnd != before) tcb->m_cWnd = tcb->m_cWnd + (cwnd - before) * seg;
  }

  // cubictcp_acked, with the RTT sample of this ACK
  void PktsAcked(Ptr<TcpSocketState> tcb, uint32_t, const Time&) override {
    Time rtt = tcb->m_lastRtt.Get();
    if (rtt.IsZero() || rtt.IsNegative()) return;
    uint32_t now = Jiffies();
    if (m_ca.epochStart && int32_t(now - m_ca.epochStart) < int32_t(m_hz)) return;
    uint32_t delay = uint32_t(rtt.GetMicroSeconds());
    if (delay == 0) delay = 1;
    if (m_ca.delayMin == 0 || m_ca.delayMin > delay) m_ca.delayMin = delay;
    if (!m_ca.found && tcb->m_cWnd < tcb->m_ssThresh && m_hystart) HystartUpdate(tcb, delay);
  }

  // cubictcp_state
  void CongestionStateSet(Ptr<TcpSocketState> tcb, const TcpSocketState::TcpCongState_t newState) override {
    if (newState == TcpSocketState::CA_LOSS) {
      m_ca.Reset();
      m_cwndCnt = 0;  // tcp_enter_loss
      HystartReset(tcb);
    }
  }

  const LinuxBictcp& State() const { return m_ca; }
  uint32_t CwndCnt() const { return m_cwndCnt; }

 private:
  static constexpr uint32_t kHystartMinSamples = 8;
  static constexpr uint32_t kHystartLowWindow = 16;
  static constexpr uint32_t kHystartAckDeltaUs = 2000;
  static constexpr uint32_t kHystartDelayMinUs = 4000;
  static constexpr uint32_t kHystartDelayMaxUs = 16000;

  void Params() {
    m_ca.hz = m_hz;
    m_ca.tcpFriendliness = m_friendliness;
    m_ca.fastConvergence = m_fastConvergence;
  }
  // tcp_jiffies32, from Linux's INITIAL_JIFFIES (-300 s), so 0 stays "no epoch"
  uint32_t Jiffies() const {
    uint64_t j = uint64_t(Simulator::Now().GetNanoSeconds()) * m_hz / 1000000000ULL;
    return uint32_t(uint32_t(-300 * int32_t(m_hz)) + uint32_t(j));
  }
  static uint32_t ClockUs() { return uint32_t(Simulator::Now().GetMicroSeconds()); }  // tcp_mstamp

  void HystartReset(Ptr<const TcpSocketState> tcb) {
    m_ca.roundStart = m_ca.lastAck = ClockUs();
    m_ca.endSeq = tcb->m_highTxMark.Get().GetValue();
    m_ca.currRtt = ~0u;
    m_ca.sampleCnt = 0;
  }

  void HystartUpdate(Ptr<TcpSocketState> tcb, uint32_t delay) {
    if (int32_t(tcb->m_lastAckedSeq.GetValue() - m_ca.endSeq) > 0) HystartReset(tcb);  // after(snd_una, end_seq)
    // Below the low window only the round start is kept: Linux 6.13's "tcp_cubic: fix incorrect
    // HyStart round start detection" (25c1a9ca53db) moved this test after the reset, so a round
    // starts at its first ACK, not at the first ACK with cwnd >= 16.
    if (tcb->GetCwndInSegments() < kHystartLowWindow) return;
    uint32_t now = ClockUs();
    if (int32_t(now - m_ca.lastAck) <= int32_t(kHystartAckDeltaUs)) {
      m_ca.lastAck = now;
      uint32_t threshold = (m_ca.delayMin + uint32_t(m_ackDelay.GetMicroSeconds())) >> 1;  // SK_PACING_NONE
      if (int32_t(now - m_ca.roundStart) > int32_t(threshold)) {
        m_ca.found = 1;
        tcb->m_ssThresh = tcb->m_cWnd.Get();
      }
    }
    if (m_ca.currRtt > delay) m_ca.currRtt = delay;
    if (m_ca.sampleCnt < kHystartMinSamples) {
      m_ca.sampleCnt++;
    } else if (m_ca.currRtt > m_ca.delayMin + std::clamp(m_ca.delayMin >> 3, kHystartDelayMinUs, kHystartDelayMaxUs)) {
      m_ca.found = 1;
      tcb->m_ssThresh = tcb->m_cWnd.Get();
    }
  }

  uint32_t m_hz = 250;
  bool m_friendliness = true;
  bool m_fastConvergence = true;
  bool m_hystart = true;
  Time m_ackDelay = MilliSeconds(1);
  bool m_ackedIsDelivered = true;
  LinuxBictcp m_ca;
  uint32_t m_cwndCnt = 0;  // tp->snd_cwnd_cnt
};

}  // namespace ns3
