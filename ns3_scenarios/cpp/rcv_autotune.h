// Linux's receive-window autotuning for an ns-3 receiving TcpSocketBase (opt-in: TcpConfig
// rcv_autotune, config "linux-cubic-rcvtune"; docs/NETWORK.md, "Receive-window autotuning").
//
// ns-3 advertises a constant receive buffer (RcvBufSize, 6 MiB in the linux configs). Linux 6.18
// (net/ipv4/tcp_input.c, tcp_output.c; tcp_rmem = 4096 131072 6291456, tcp_moderate_rcvbuf 1,
// tcp_app_win 31) starts from sk_rcvbuf = tcp_rmem[1] and advertises at most
//   min(rcv_ssthresh, window_clamp),  window_clamp = tcp_win_from_space(sk_rcvbuf),
//   tcp_win_from_space(x) = x * scaling_ratio >> 8,
// where scaling_ratio is TCP_DEFAULT_SCALING_RATIO (128) until the first full segment, then
// skb->len * 256 / skb->truesize (tcp_measure_rcv_mss). What is emulated, per receiving socket:
//  * tcp_select_initial_window + tcp_init_buffer_space: rcv_wnd = rounddown(win_from_space(
//    tcp_rmem[1]), mss) (65160 B at MSS 1448), window_clamp = maxwin - advmss (one segment
//    reserved), rcv_ssthresh = min(rcv_wnd, window_clamp), rcvq_space.space = min3(rcv_ssthresh,
//    rcv_wnd, TCP_INIT_CWND * advmss); the window scale stays ns-3's, from the 6 MiB buffer (7, as
//    Linux's from tcp_rmem[2]).
//  * tcp_measure_rcv_mss: the scaling_ratio update (rcv_mss starts at TCP_MSS_DEFAULT 536).
//  * tcp_grow_window / __tcp_grow_window: rcv_ssthresh grows per data segment >= 128 B.
//  * tcp_rcv_rtt_measure_ts + tcp_rcv_rtt_update: the receiver's RTT from the echoed timestamp
//    (ms granularity, zero samples dropped, lower samples latched, else 7/8 EWMA).
//  * tcp_rcv_space_adjust + tcp_rcvbuf_grow as in 6.16-6.18 (after "tcp: fix sk_rcvbuf
//    overshoot"): once per receiver RTT, when the application read more than rcvq_space.space in
//    it, space = copied, rcvwin = 2 space (+ the out-of-order span), sk_rcvbuf =
//    min(tcp_space_from_win(rcvwin), tcp_rmem[2]); also on each out-of-order segment
//    (tcp_data_queue_ofo). slowStartGrow adds 6.19's term ("tcp: fix too slow tcp_rcvbuf_grow()
//    action", net-next after 6.18): rcvwin += 2 * 2 space * (space - old space) / old space.
// The window is applied as the rx buffer's MaxBufferSize (not SetRcvBufSize, which sends an
// extra ACK on every increase); ns-3 subtracts the out-of-order bytes it holds itself.
#pragma once
#include <algorithm>
#include <cstdint>
#include <list>
#include <vector>
#include "netbench.h"  // netbench::ReceiveTuner
namespace netbench {
using namespace ns3;

class RcvAutotune : public ReceiveTuner {
 public:
  static const uint32_t kDefaultScalingRatio = 128;  // TCP_DEFAULT_SCALING_RATIO
  static const uint32_t kInitCwnd = 10;              // TCP_INIT_CWND
  static const uint32_t kMssDefault = 536;           // TCP_MSS_DEFAULT

  // advmss: the MSS; rmem1 / rmem2: tcp_rmem[1] / [2]; truesize: skb->truesize of one received
  // full segment (the reference's 1514-byte frames in kmalloc-2048 heads: 2304 B).
  // quickacks: Linux's quick-ack mode at the first data segment (tcp_event_data_recv ->
  // tcp_incr_quickack(sk, TCP_MAX_QUICKACKS)): that many segments are ACKed one by one
  // (DelAckCount 1) before the socket's own delayed-ACK count applies; 0 leaves it alone.
  // autotune false: quick ACKs only, the socket's receive buffer stays ns-3's constant.
  RcvAutotune(uint32_t advmss, uint32_t rmem1, uint32_t rmem2, uint32_t truesize, bool slowStartGrow = false,
              uint32_t quickacks = 0, bool autotune = true)
      : m_advmss(advmss), m_rmem1(rmem1), m_rmem2(rmem2), m_truesize(truesize), m_slowStartGrow(slowStartGrow),
        m_quickLeft(quickacks), m_autotune(autotune) {}

  // On a PacketSink: its Rx trace is the application's read; the accepted socket is taken at
  // the first read (the first data segment), which is also taken as the establishment time.
  bool AttachSink(Ptr<Application> sink) {
    m_sink = DynamicCast<PacketSink>(sink);
    return m_sink && sink->TraceConnectWithoutContext("Rx", MakeCallback(&RcvAutotune::OnSinkRx, this));
  }
  // On an established socket (before any data); the application then calls Copied per read.
  bool Attach(Ptr<Socket> socket) override {
    m_sock = DynamicCast<TcpSocketBase>(socket);
    if (!m_sock) return false;
    m_sock->TraceConnectWithoutContext("Rx", MakeCallback(&RcvAutotune::OnSegment, this));
    if (m_quickLeft > 0) {
      UintegerValue count;
      m_sock->GetAttribute("DelAckCount", count);
      m_delAckCount = uint32_t(count.Get());
      m_sock->SetAttribute("DelAckCount", UintegerValue(1));
    }
    if (!m_autotune) return true;
    m_sock->TraceConnectWithoutContext("AdvWND", MakeCallback(&RcvAutotune::OnAdvWnd, this));
    m_ratio = kDefaultScalingRatio;
    m_rcvbuf = m_rmem1;
    uint32_t space = WinFromSpace(m_rcvbuf);
    uint32_t rcvWnd = space > m_advmss ? space - space % m_advmss : space;  // tcp_select_initial_window
    uint32_t maxwin = space;                                                  // tcp_full_space
    m_clamp = maxwin;  // tcp_app_win 31: maxwin - (maxwin >> 31) = maxwin
    if (m_clamp > 2 * m_advmss && m_clamp + m_advmss > maxwin) m_clamp = std::max(2 * m_advmss, maxwin - m_advmss);
    m_ssthresh = std::min(rcvWnd, m_clamp);
    m_space = std::min({m_ssthresh, rcvWnd, kInitCwnd * m_advmss});
    m_rcvMss = kMssDefault;
    m_spaceTimeUs = NowUs();
    m_spaceSeq = m_copied;
    m_initialWindow = m_ssthresh;
    Apply();
    return true;
  }
  void Copied(uint64_t bytes) override {  // tcp_recvmsg -> tcp_rcv_space_adjust
    m_copied += bytes;
    if (!m_sock || !m_autotune || m_rttUs8 == 0) return;
    int64_t now = NowUs();
    if (now - m_spaceTimeUs < int64_t(m_rttUs8 >> 3)) return;
    uint64_t copied = m_copied - m_spaceSeq;  // the receive queue is empty: the application reads it all
    if (copied > m_space) {
      m_adjusts++;
      RcvbufGrow(uint32_t(std::min<uint64_t>(copied, UINT32_MAX)), 0);
    }
    m_spaceSeq = m_copied;
    m_spaceTimeUs = now;
  }

  uint32_t Window() const { return std::min(m_ssthresh, m_clamp); }
  uint32_t InitialWindow() const { return m_initialWindow; }
  uint32_t RcvBuf() const { return m_rcvbuf; }
  uint32_t WindowClamp() const { return m_clamp; }
  uint32_t RcvSsthresh() const { return m_ssthresh; }
  uint32_t ScalingRatio() const { return m_ratio; }
  uint32_t Space() const { return m_space; }
  uint32_t RttUs() const { return m_rttUs8 >> 3; }
  uint32_t Adjusts() const { return m_adjusts; }          // tcp_rcv_space_adjust calls that grew space
  uint32_t BufferSize() const { return m_sock ? m_sock->GetRxBuffer()->MaxBufferSize() : 0; }
  int64_t FirstAdvWnd() const { return m_firstAdv; }      // first window the socket advertised after Attach
  uint32_t MaxAdvWnd() const { return m_maxAdv; }         // largest window it advertised
  bool Attached() const { return bool(m_sock); }
  // Every change of the window limit: simulated time (us) and the new limit (B).
  std::vector<int64_t> HistoryUs() const { return m_histUs; }
  std::vector<uint32_t> HistoryWindow() const { return m_histWindow; }

 private:
  static int64_t NowUs() { return Simulator::Now().GetMicroSeconds(); }
  uint32_t WinFromSpace(uint64_t space) const { return uint32_t((space * m_ratio) >> 8); }
  uint32_t SpaceFromWin(uint64_t win) const { return uint32_t(std::min<uint64_t>((win << 8) / m_ratio, UINT32_MAX)); }

  void OnSinkRx(Ptr<const Packet> p, const Address&) {
    if (!m_sock) {
      std::list<Ptr<Socket>> accepted = m_sink->GetAcceptedSockets();
      if (accepted.empty() || !Attach(accepted.back())) return;
      if (m_quickLeft > 0) --m_quickLeft;  // the first segment, already processed
      if (m_autotune) InOrder(std::min<uint32_t>(p->GetSize(), m_advmss));
    }
    Copied(p->GetSize());
  }
  void OnAdvWnd(uint32_t, uint32_t w) {
    if (m_firstAdv < 0) m_firstAdv = w;
    m_maxAdv = std::max(m_maxAdv, w);
  }
  // Each segment the socket receives, before ns-3 processes it.
  void OnSegment(Ptr<const Packet> p, const TcpHeader& h, Ptr<const TcpSocketBase>) {
    uint32_t len = p->GetSize();
    if (len == 0) return;
    if (!m_autotune) {
      if (h.GetSequenceNumber() + SequenceNumber32(len) > m_sock->GetRxBuffer()->NextRxSequence()) QuickAck();
      return;
    }
    if (h.HasOption(TcpOption::TS)) {  // tcp_rcv_rtt_measure_ts
      uint32_t tsecr = DynamicCast<const TcpOptionTS>(h.GetOption(TcpOption::TS))->GetEcho();
      if (tsecr != m_lastTsecr) {
        m_lastTsecr = tsecr;
        if (len >= m_rcvMss) {
          uint32_t delta = TcpOptionTS::NowToTsValue() - tsecr;
          if (delta > 0 && delta < INT32_MAX / 1000) RttUpdate(delta * 1000);
        }
      }
    }
    Ptr<TcpRxBuffer> rx = m_sock->GetRxBuffer();
    SequenceNumber32 seq = h.GetSequenceNumber(), next = rx->NextRxSequence();
    if (seq + SequenceNumber32(len) <= next) return;  // a duplicate
    QuickAck();
    if (seq <= next) {
      InOrder(len);
    } else {  // tcp_data_queue_ofo: tcp_grow_window, then tcp_rcvbuf_grow(sk, rcvq_space.space)
      if (len >= 128) GrowWindow(len);
      SequenceNumber32 end = seq + SequenceNumber32(len);
      for (const auto& block : rx->GetSackList()) end = std::max(end, block.second);
      RcvbufGrow(m_space, uint32_t(end - next));
    }
  }
  // Before ns-3 processes a new data segment: the quick ACKs left, then the socket's own count.
  void QuickAck() {
    if (m_delAckCount == 0) return;
    if (m_quickLeft > 0) {
      --m_quickLeft;
      return;
    }
    m_sock->SetAttribute("DelAckCount", UintegerValue(m_delAckCount));
    m_delAckCount = 0;
  }
  void InOrder(uint32_t len) {  // tcp_event_data_recv: tcp_measure_rcv_mss, tcp_grow_window
    if (len >= m_rcvMss) {
      if (len != m_rcvMss) {
        uint32_t ratio = uint32_t((uint64_t(len) << 8) / m_truesize);
        uint32_t old = m_ratio;
        m_ratio = std::min<uint32_t>(ratio ? ratio : 1, 255);  // a u8
        if (old != m_ratio) m_clamp = WinFromSpace(m_rcvbuf);
      }
      m_rcvMss = std::min(len, m_advmss);
    }
    if (len >= 128) GrowWindow(len);
    Apply();
  }
  void GrowWindow(uint32_t len) {
    Ptr<TcpRxBuffer> rx = m_sock->GetRxBuffer();
    uint64_t held = uint64_t((rx->Size() + m_advmss - 1) / m_advmss) * m_truesize;  // rmem_alloc of out-of-order skbs
    uint32_t tcpSpace = held < m_rcvbuf ? WinFromSpace(m_rcvbuf - held) : 0;
    int64_t room = int64_t(std::min(m_clamp, tcpSpace)) - int64_t(m_ssthresh);
    if (room <= 0) return;
    uint32_t incr = 0;
    if (WinFromSpace(m_truesize) <= len) {
      incr = 2 * m_advmss;
    } else {  // __tcp_grow_window
      uint32_t truesize = WinFromSpace(m_truesize) >> 1, window = WinFromSpace(m_rmem2) >> 1;
      while (m_ssthresh <= window) {
        if (truesize <= len) { incr = 2 * m_rcvMss; break; }
        truesize >>= 1;
        window >>= 1;
      }
    }
    if (incr) {
      incr = std::max(incr, 2 * len);
      m_ssthresh += uint32_t(std::min<int64_t>(room, incr));
    }
  }
  void RttUpdate(uint32_t sampleUs) {  // tcp_rcv_rtt_update, win_dep 0, receive queue empty
    uint32_t m = sampleUs << 3;
    if (m_rttUs8 == 0 || m < m_rttUs8) m_rttUs8 = m;
    else m_rttUs8 = m_rttUs8 - (m_rttUs8 >> 3) + sampleUs;
  }
  void RcvbufGrow(uint32_t newval, uint32_t oooSpan) {  // tcp_rcvbuf_grow
    uint32_t oldval = m_space;
    m_space = newval;
    uint64_t rcvwin = uint64_t(newval) << 1;  // slow start: allow the sender to double its rate
    if (m_slowStartGrow) rcvwin += (rcvwin * (newval - oldval) / oldval) << 1;  // 6.19
    rcvwin += oooSpan;
    uint32_t rcvbuf = std::min(SpaceFromWin(rcvwin), m_rmem2);
    if (rcvbuf > m_rcvbuf) {
      m_rcvbuf = rcvbuf;
      m_clamp = WinFromSpace(rcvbuf);
    }
    Apply();
  }
  void Apply() {
    uint32_t w = Window();
    Ptr<TcpRxBuffer> rx = m_sock->GetRxBuffer();
    if (w != rx->MaxBufferSize()) {
      rx->SetMaxBufferSize(w);
      m_histUs.push_back(NowUs());
      m_histWindow.push_back(w);
    }
  }

  uint32_t m_advmss, m_rmem1, m_rmem2, m_truesize;
  bool m_slowStartGrow;
  uint32_t m_quickLeft;         // quick ACKs still to send
  uint32_t m_delAckCount = 0;   // the socket's DelAckCount while quick ACKs are sent, else 0
  bool m_autotune;
  Ptr<PacketSink> m_sink;
  Ptr<TcpSocketBase> m_sock;
  uint32_t m_ratio = kDefaultScalingRatio, m_rcvbuf = 0, m_clamp = 0, m_ssthresh = 0, m_space = 0;
  uint32_t m_rcvMss = kMssDefault, m_rttUs8 = 0, m_lastTsecr = 0, m_initialWindow = 0, m_adjusts = 0;
  uint32_t m_maxAdv = 0;
  int64_t m_firstAdv = -1, m_spaceTimeUs = 0;
  uint64_t m_copied = 0, m_spaceSeq = 0;
  std::vector<int64_t> m_histUs;
  std::vector<uint32_t> m_histWindow;
};

}  // namespace netbench
