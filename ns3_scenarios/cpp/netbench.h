// The C++ helpers of ns3_scenarios.simcore, compiled once per process by cppyy after the ns-3
// bindings are loaded (simcore.load).
//
// A byte counter on a PacketSink's "Rx" trace. The trace callback stays in C++ (no
// Python call per packet); when the count reaches the target it records the simulated
// time in nanoseconds and calls the optional std::function once (into Python).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>
namespace netbench {
using namespace ns3;

// What an Endpoint asks of a receive-window tuner: netbench::RcvAutotune (rcv_autotune.h), which,
// like the CUBIC port (linux_cubic.h), only a process whose TCP config uses it compiles
// (simcore.Simulation; ~0.8 s of cling each).
class ReceiveTuner {
 public:
  virtual ~ReceiveTuner() = default;
  virtual bool Attach(Ptr<Socket> socket) = 0;  // the established socket, before any data
  virtual void Copied(uint64_t bytes) = 0;      // the application read this many bytes
};

// Counts events; at zero it stops the simulation (when every FL flow is done, so that
// unbounded cross traffic and capacity traces do not run to the horizon) or calls back.
class Countdown {
 public:
  Countdown(int n, bool stop) : m_left(n), m_stop(stop) {}
  void Tick() {
    if (m_left > 0 && --m_left == 0) {
      if (m_stop) Simulator::Stop();
      if (onZero) onZero();
    }
  }
  int Left() const { return m_left; }
  std::function<void()> onZero;
 private:
  int m_left;
  bool m_stop;
};

class FlowDone {
 public:
  FlowDone(uint64_t target, int tag) : m_target(target), m_tag(tag) {}
  bool Attach(Ptr<Application> sink) {
    return sink->TraceConnectWithoutContext("Rx", MakeCallback(&FlowDone::OnRx, this));
  }
  void Count(uint64_t bytes) {
    m_rx += bytes;
    if (m_doneNs < 0 && m_rx >= m_target) {
      m_doneNs = Simulator::Now().GetNanoSeconds();
      if (countdown) countdown->Tick();
      if (onDone) onDone(m_tag);
    }
  }
  uint64_t Received() const { return m_rx; }
  int64_t DoneNs() const { return m_doneNs; }
  std::function<void(int)> onDone;
  Countdown* countdown = nullptr;
 private:
  void OnRx(Ptr<const Packet> packet, const Address&) { Count(packet->GetSize()); }
  uint64_t m_target;
  int m_tag;
  uint64_t m_rx = 0;
  int64_t m_doneNs = -1;
};

// Loss on the packets a device receives: none, independent (random) or Gilbert-Elliott,
// from its own splitmix64 stream (seeded per flow/direction, independent of ns-3's global
// RNG state); plus an outage switch that drops everything (capacity traces at rate 0).
class LinkErrorModel : public ErrorModel {
 public:
  static TypeId GetTypeId() {
    static TypeId tid = TypeId("netbench::LinkErrorModel").SetParent<ErrorModel>().SetGroupName("Network")
                            .AddConstructor<LinkErrorModel>();
    return tid;
  }
  void SetRandom(double p) { m_mode = 1; m_p = p; }
  void SetGilbertElliott(double pgb, double pbg, double lossGood, double lossBad) {
    m_mode = 2; m_pgb = pgb; m_pbg = pbg; m_lg = lossGood; m_lb = lossBad;
  }
  void SetSeed(uint64_t seed) { m_state = seed; }
  // Advance the Gilbert-Elliott chain once per slot, the time `bytes` take at the link's
  // current rate (one full-size packet; SetRate follows the link's capacity trace), instead of
  // once per packet; without a slot the chain steps per packet.
  void SetSlotBytes(uint32_t bytes) { m_slotBytes = bytes; }
  void SetRate(double bps) {
    if (m_slotBytes > 0 && bps > 0) m_slotNs = std::max<int64_t>(1, std::llround(m_slotBytes * 8e9 / bps));
  }
  void SetOutage(bool on) { m_outage = on; }
  uint64_t Seen() const { return m_seen; }
  uint64_t Dropped() const { return m_dropped; }
  uint64_t Runs() const { return m_runs; }  // runs of consecutive drops (a burst each)
 private:
  double Uniform() {
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (z >> 11) * (1.0 / 9007199254740992.0);
  }
  bool DoCorrupt(Ptr<Packet>) override {
    m_seen++;
    bool drop = false;
    if (m_mode == 1) {
      drop = Uniform() < m_p;
    } else if (m_mode == 2) {
      Step();
      drop = Uniform() < (m_bad ? m_lb : m_lg);
    }
    if (m_outage) drop = true;
    if (drop) m_dropped++;
    if (drop && !m_previous) m_runs++;
    m_previous = drop;
    return drop;
  }
  // k steps of the two-state chain at once: P(Bad after k | Bad) = piB + (1 - piB) lambda^k,
  // P(Bad after k | Good) = piB (1 - lambda^k), lambda = 1 - pGB - pBG.
  void Step() {
    int64_t k = 1;
    if (m_slotNs > 0) {
      int64_t now = Simulator::Now().GetNanoSeconds();
      if (m_lastNs < 0) {
        m_lastNs = now;  // the first packet: one step
      } else {
        k = (now - m_lastNs) / m_slotNs;  // whole slots since the last step
        m_lastNs += k * m_slotNs;
        if (k == 0) return;
      }
    }
    if (k == 1) {
      if (m_bad) { if (Uniform() < m_pbg) m_bad = false; }
      else if (Uniform() < m_pgb) m_bad = true;
      return;
    }
    double piB = m_pgb / (m_pgb + m_pbg), lk = std::pow(1.0 - m_pgb - m_pbg, double(k));
    m_bad = Uniform() < (m_bad ? piB + (1 - piB) * lk : piB * (1 - lk));
  }
  void DoReset() override { m_bad = false; }
  int64_t m_slotNs = 0, m_lastNs = -1;
  uint32_t m_slotBytes = 0;
  int m_mode = 0;
  double m_p = 0, m_pgb = 0, m_pbg = 1, m_lg = 0, m_lb = 1;
  bool m_bad = false, m_outage = false, m_previous = false;
  uint64_t m_state = 0, m_seen = 0, m_dropped = 0, m_runs = 0;
};

// {share dropped, mean run of consecutive drops} over `packets` dummy packets.
std::vector<double> LossStats(Ptr<LinkErrorModel> em, uint64_t packets) {
  Ptr<Packet> p = Create<Packet>(1000);
  uint64_t dropped = 0, runs = 0;
  bool previous = false;
  for (uint64_t i = 0; i < packets; i++) {
    bool d = em->IsCorrupt(p);
    dropped += d;
    runs += d && !previous;
    previous = d;
  }
  return {double(dropped) / double(packets), runs ? double(dropped) / double(runs) : 0.0};
}

Ptr<LinkErrorModel> NewErrorModel() { return CreateObject<LinkErrorModel>(); }

Ptr<LinkErrorModel> AttachErrorModel(Ptr<NetDevice> dev) {
  Ptr<LinkErrorModel> em = CreateObject<LinkErrorModel>();
  DynamicCast<PointToPointNetDevice>(dev)->SetReceiveErrorModel(em);
  return em;
}

// A device's data rate following a cyclic piecewise-constant trace, entered at trace time
// `phase`; a rate of 0 keeps the last rate and switches the receiving side's outage on.
class RateTrace {
 public:
  RateTrace(Ptr<NetDevice> dev, Ptr<LinkErrorModel> rxModel, std::vector<double> times, std::vector<double> bps,
            double period, double phase)
      : m_dev(DynamicCast<PointToPointNetDevice>(dev)), m_em(rxModel), m_t(times), m_r(bps), m_period(period) {
    double t = std::fmod(phase, period);
    m_i = 0;
    while (m_i + 1 < m_t.size() && m_t[m_i + 1] <= t) m_i++;
    for (size_t k = 0; k < m_r.size(); k++) {  // the device needs a rate > 0 even in an outage
      double r = m_r[(m_i + m_r.size() - k) % m_r.size()];
      if (r > 0) { m_dev->SetDataRate(DataRate(uint64_t(std::llround(r)))); break; }
    }
    Apply();
    Simulator::Schedule(Seconds(End(m_i) - t), &RateTrace::Step, this);
  }
  uint64_t Changes() const { return m_changes; }
 private:
  double End(size_t i) const { return i + 1 < m_t.size() ? m_t[i + 1] : m_period; }
  void Apply() {
    double r = m_r[m_i];
    if (r > 0) m_dev->SetDataRate(DataRate(uint64_t(std::llround(r))));
    if (r > 0) m_em->SetRate(r);  // a Gilbert-Elliott slot is one packet at the current rate
    m_em->SetOutage(!(r > 0));
    m_changes++;
  }
  void Step() {
    m_i = (m_i + 1) % m_t.size();
    Apply();
    Simulator::Schedule(Seconds(End(m_i) - m_t[m_i]), &RateTrace::Step, this);
  }
  Ptr<PointToPointNetDevice> m_dev;
  Ptr<LinkErrorModel> m_em;
  std::vector<double> m_t, m_r;
  double m_period;
  size_t m_i;
  uint64_t m_changes = 0;
};

// One end of a TCP connection that stays open: the active end connects, the passive end
// accepts one connection. Send(n) queues n more bytes. With tls, the connection is ready
// one round trip after TCP's handshake: the TLS client (the active end unless tlsClient says
// otherwise) sends a 517-byte ClientHello, the TLS server answers with a 4096-byte server
// flight, and only then do data bytes flow (the handshake bytes are not counted as data).
class Endpoint : public Application {
 public:
  static TypeId GetTypeId() {
    static TypeId tid = TypeId("netbench::Endpoint").SetParent<Application>().SetGroupName("Applications")
                            .AddConstructor<Endpoint>();
    return tid;
  }
  void Setup(bool active, Address peer, uint16_t port, bool tls, bool tlsClient) {
    m_active = active; m_peer = peer; m_port = port; m_tls = tls; m_tlsClient = tlsClient;
  }
  void Send(uint64_t bytes) { m_data += bytes; Pump(); }
  void SendAfter(int64_t delayNs, uint64_t bytes) {
    Simulator::Schedule(NanoSeconds(delayNs), &Endpoint::Send, this, bytes);
  }
  int64_t ReadyNs() const { return m_readyNs; }
  void SetDone(FlowDone* d) { done = d; }
  void SetReady(Countdown* c) { ready = c; }
  // Linux's receive-window autotuning on this end's socket, attached once it is established.
  void SetAutotune(ReceiveTuner* a) { autotune = a; }
  FlowDone* GetDone() const { return done; }
  FlowDone* done = nullptr;
  Countdown* ready = nullptr;
  ReceiveTuner* autotune = nullptr;
 private:
  static const uint32_t kClientHello = 517;
  static const uint32_t kServerFlight = 4096;
  void StartApplication() override {
    Ptr<Socket> s = Socket::CreateSocket(GetNode(), TcpSocketFactory::GetTypeId());
    if (m_active) {
      m_socket = s;
      m_socket->Bind();
      m_socket->SetConnectCallback(MakeCallback(&Endpoint::Connected, this), MakeCallback(&Endpoint::Failed, this));
      Wire();
      m_socket->Connect(m_peer);
    } else {
      m_listen = s;
      m_listen->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
      m_listen->Listen();
      m_listen->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                  MakeCallback(&Endpoint::Accepted, this));
    }
  }
  void StopApplication() override {}
  void Wire() {
    m_socket->SetRecvCallback(MakeCallback(&Endpoint::Received, this));
    m_socket->SetSendCallback(MakeCallback(&Endpoint::Writable, this));
  }
  void Connected(Ptr<Socket>) {
    m_connected = true;
    if (autotune) autotune->Attach(m_socket);
    if (m_tls) Hello();
    else Ready();
  }
  void Hello() {  // the TLS client's first flight, or the TLS server's wait for it
    if (m_tlsClient) { m_handshakeOut += kClientHello; m_handshakeIn = kServerFlight; Pump(); }
    else m_handshakeIn = kClientHello;
  }
  void Failed(Ptr<Socket>) { NS_FATAL_ERROR("netbench::Endpoint could not connect"); }
  void Accepted(Ptr<Socket> s, const Address&) {
    m_socket = s;
    m_connected = true;
    if (autotune) autotune->Attach(m_socket);
    Wire();
    if (m_tls) Hello();
    else Ready();
  }
  void Ready() {
    m_readyNs = Simulator::Now().GetNanoSeconds();
    if (ready) ready->Tick();
    Pump();
  }
  void Received(Ptr<Socket> s) {
    Ptr<Packet> p;
    while ((p = s->Recv())) {
      uint64_t n = p->GetSize();
      if (n == 0) break;
      if (autotune) autotune->Copied(n);
      if (m_handshakeIn > 0) {
        uint64_t k = std::min<uint64_t>(n, m_handshakeIn);
        m_handshakeIn -= k;
        n -= k;
        if (m_handshakeIn == 0) {
          if (!m_tlsClient) m_handshakeOut += kServerFlight;
          Ready();
        }
      }
      if (n > 0 && done) done->Count(n);
    }
  }
  void Writable(Ptr<Socket>, uint32_t) { Pump(); }
  void Pump() {
    if (!m_connected) return;
    while (true) {
      uint64_t pending = m_handshakeOut + (m_readyNs >= 0 ? m_data : 0);
      uint32_t room = m_socket->GetTxAvailable();
      if (pending == 0 || room == 0) return;
      uint32_t k = uint32_t(std::min<uint64_t>(pending, room));
      int sent = m_socket->Send(Create<Packet>(k));
      if (sent <= 0) return;
      uint64_t fromHandshake = std::min<uint64_t>(m_handshakeOut, uint64_t(sent));
      m_handshakeOut -= fromHandshake;
      m_data -= uint64_t(sent) - fromHandshake;
    }
  }
  Ptr<Socket> m_socket, m_listen;
  Address m_peer;
  uint16_t m_port = 0;
  bool m_active = false, m_tls = false, m_tlsClient = false, m_connected = false;
  uint64_t m_data = 0, m_handshakeOut = 0, m_handshakeIn = 0;
  int64_t m_readyNs = -1;
};

Ptr<Endpoint> InstallEndpoint(Ptr<Node> node, bool active, Address peer, uint16_t port, bool tls, bool tlsClient,
                              int64_t startNs) {
  Ptr<Endpoint> app = CreateObject<Endpoint>();
  app->Setup(active, peer, port, tls, tlsClient);
  node->AddApplication(app);
  app->SetStartTime(NanoSeconds(startNs));  // relative to now when installed during a run
  return app;
}

}  // namespace netbench
