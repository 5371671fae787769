// A two-port Ethernet relay for benchmarks/linux_reference.py: it bridges every frame between
// two interfaces through AF_PACKET raw sockets and, per direction, models one point-to-point
// link the way ns-3's PointToPointNetDevice does:
//
//   * serialization at RATE bit/s of (IP packet + 2 B PPP header), i.e. the Ethernet frame
//     minus its 14 B header plus 2, back to back on a busy link;
//   * a drop-tail FIFO of QLIMIT packets waiting for the wire (the one on the wire not counted);
//   * a one-way propagation delay added after serialization;
//   * seeded Bernoulli loss of IPv4 packets at the far end of the wire (they use the link,
//     like ns-3's receive error model), so the loss pattern depends only on SEED; or, with
//     LOSS_AB "ge:PGB:PBG:LOSS_GOOD:LOSS_BAD", ns-3's slot-stepped Gilbert-Elliott chain.
//
// usage: linux_relay IF_A IF_B RATE_AB DELAY_US QLIMIT LOSS_AB SEED RATE_BA [TRACE_AB]
// Direction A->B gets the loss and the trace; B->A gets RATE_BA, the same delay and queue, no loss.
// Prints "ready" once both sockets are bound; on SIGTERM/SIGINT prints counters to stderr.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING 4096
#define FRAME_MAX 2048
#define PPP_OVERHEAD 2
#define ETH_HEADER 14

typedef struct {
  unsigned char data[FRAME_MAX];
  int len;
  int64_t start_ns;    // serialization starts
  int64_t deliver_ns;  // serialization done + delay
  int lost;
} Slot;

typedef struct {
  int in_fd, out_fd, out_ifindex;
  double rate_bps, loss;
  // Gilbert-Elliott instead of Bernoulli (LOSS_AB "ge:PGB:PBG:LOSS_GOOD:LOSS_BAD"): the chain steps
  // once per 1500-byte slot at rate_bps, timed at each packet's arrival at the far end, as ns-3's
  // netbench::LinkErrorModel with SetSlotBytes(1500) does (the first packet: one step).
  int ge, bad;
  double pgb, pbg, loss_good, loss_bad;
  int64_t slot_ns, last_ns;
  int64_t delay_ns, wire_free_ns;
  // A capacity trace (TRACE_AB "PERIOD_S:T0=BPS0,T1=BPS1,..."): from its first frame on, a
  // packet is serialised at the rate of the step its transmission starts in, as ns-3's
  // PointToPointNetDevice under netbench's trace (rate_bps until then).
  int trace_n;
  double trace_t[64], trace_bps[64], trace_period_s;
  int64_t trace_t0_ns;
  int qlimit;
  Slot *ring;
  int head, count;  // slots head .. head+count-1, in arrival order
  uint64_t forwarded, queue_drops, losses;
} Pipe;

static volatile sig_atomic_t g_stop = 0;
static uint64_t g_rng;

static void on_signal(int sig) { (void)sig; g_stop = 1; }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// splitmix64: a seeded, platform-independent uniform draw in [0, 1).
static double uniform(void) {
  uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static void die(const char *what) {
  fprintf(stderr, "linux_relay: %s: %s\n", what, strerror(errno));
  exit(1);
}

// A raw socket bound to interface `name`, promiscuous, blind to its own transmissions.
static int open_port(const char *name, int *ifindex) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) die("socket(AF_PACKET)");
  *ifindex = (int)if_nametoindex(name);
  if (*ifindex == 0) die(name);
  struct sockaddr_ll addr = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = *ifindex};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  struct packet_mreq mreq = {.mr_ifindex = *ifindex, .mr_type = PACKET_MR_PROMISC};
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) die("PACKET_MR_PROMISC");
  int one = 1, buf = 8 << 20;
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) die("PACKET_IGNORE_OUTGOING");
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  return fd;
}

// Packets of `p` still waiting for the wire at `now` (the FIFO's occupancy).
static int waiting(const Pipe *p, int64_t now) {
  int n = 0;
  for (int i = p->count - 1; i >= 0 && p->ring[(p->head + i) % RING].start_ns > now; i--) n++;
  return n;
}

// One Gilbert-Elliott decision for a packet arriving at `at_ns`: advance the chain by the whole
// slots since the last step (k at once: P(Bad | Bad) = piB + (1 - piB) lambda^k, P(Bad | Good) =
// piB (1 - lambda^k), lambda = 1 - pGB - pBG), then drop with the state's loss.
static int ge_drop(Pipe *p, int64_t at_ns) {
  int64_t k = 1;
  if (p->last_ns < 0) {
    p->last_ns = at_ns;
  } else {
    k = (at_ns - p->last_ns) / p->slot_ns;
    p->last_ns += k * p->slot_ns;
  }
  if (k == 1) {
    if (p->bad) { if (uniform() < p->pbg) p->bad = 0; }
    else if (uniform() < p->pgb) p->bad = 1;
  } else if (k > 1) {
    double pib = p->pgb / (p->pgb + p->pbg), lk = pow(1.0 - p->pgb - p->pbg, (double)k);
    p->bad = uniform() < (p->bad ? pib + (1 - pib) * lk : pib * (1 - lk));
  }
  return uniform() < (p->bad ? p->loss_bad : p->loss_good);
}

// The rate a transmission starting at `start_ns` gets (the trace's clock starts at the first frame, `now`).
static double rate_at(Pipe *p, int64_t start_ns, int64_t now) {
  if (p->trace_n == 0) return p->rate_bps;
  if (p->trace_t0_ns < 0) p->trace_t0_ns = now;
  double t = fmod((double)(start_ns - p->trace_t0_ns) / 1e9, p->trace_period_s);
  int i = 0;
  while (i + 1 < p->trace_n && p->trace_t[i + 1] <= t) i++;
  return p->trace_bps[i];
}

// Parse TRACE_AB into `p`; 0 if malformed.
static int parse_trace(Pipe *p, const char *arg) {
  char *end;
  p->trace_period_s = strtod(arg, &end);
  if (*end != ':' || p->trace_period_s <= 0) return 0;
  const char *q = end + 1;
  while (*q && p->trace_n < 64) {
    double t = strtod(q, &end);
    if (*end != '=') return 0;
    double bps = strtod(end + 1, &end);
    if (bps <= 0 || (p->trace_n == 0 && t != 0)) return 0;
    p->trace_t[p->trace_n] = t;
    p->trace_bps[p->trace_n++] = bps;
    if (*end == ',') end++;
    else if (*end) return 0;
    q = end;
  }
  return p->trace_n > 0 && !*q;
}

// Accept one arriving frame into `p`: drop-tail, then schedule its serialization and delivery.
static void enqueue(Pipe *p, const unsigned char *frame, int len, int64_t now) {
  if (waiting(p, now) >= p->qlimit || p->count == RING) {
    p->queue_drops++;
    return;
  }
  Slot *s = &p->ring[(p->head + p->count) % RING];
  memcpy(s->data, frame, (size_t)len);
  s->len = len;
  int wire_bytes = len - ETH_HEADER + PPP_OVERHEAD;
  s->start_ns = p->wire_free_ns > now ? p->wire_free_ns : now;
  int64_t tx_ns = (int64_t)(wire_bytes * 8.0 * 1e9 / rate_at(p, s->start_ns, now) + 0.5);
  p->wire_free_ns = s->start_ns + tx_ns;
  s->deliver_ns = p->wire_free_ns + p->delay_ns;
  int ipv4 = len >= ETH_HEADER && frame[12] == 0x08 && frame[13] == 0x00;
  s->lost = ipv4 && (p->ge ? ge_drop(p, s->deliver_ns) : p->loss > 0 && uniform() < p->loss);
  p->count++;
}

// Send (or lose) every frame of `p` whose delivery time has come.
static void deliver_due(Pipe *p, int64_t now) {
  while (p->count > 0 && p->ring[p->head].deliver_ns <= now) {
    Slot *s = &p->ring[p->head];
    if (s->lost) {
      p->losses++;
    } else {
      struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = p->out_ifindex, .sll_halen = ETH_ALEN};
      memcpy(to.sll_addr, s->data, ETH_ALEN);
      if (sendto(p->out_fd, s->data, (size_t)s->len, 0, (struct sockaddr *)&to, sizeof to) < 0 && errno != ENOBUFS)
        die("sendto");
      p->forwarded++;
    }
    p->head = (p->head + 1) % RING;
    p->count--;
  }
}

// Read every frame waiting on `p`'s input socket.
static void drain_input(Pipe *p) {
  unsigned char frame[FRAME_MAX];
  for (;;) {
    ssize_t n = recv(p->in_fd, frame, sizeof frame, MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      die("recv");
    }
    if (n > FRAME_MAX) {
      fprintf(stderr, "linux_relay: %zd-byte frame: are TSO/GSO/GRO off?\n", n);
      exit(1);
    }
    enqueue(p, frame, (int)n, now_ns());
  }
}

static void init_pipe(Pipe *p, int in_fd, int out_fd, int out_ifindex, double rate, int64_t delay_ns, int qlimit,
                      double loss) {
  memset(p, 0, sizeof *p);
  p->in_fd = in_fd;
  p->out_fd = out_fd;
  p->out_ifindex = out_ifindex;
  p->rate_bps = rate;
  p->delay_ns = delay_ns;
  p->qlimit = qlimit;
  p->loss = loss;
  p->last_ns = -1;
  p->trace_t0_ns = -1;
  p->slot_ns = llround(1500 * 8e9 / rate);
  p->ring = calloc(RING, sizeof(Slot));
  if (!p->ring) die("calloc");
}

// Earliest delivery time of the two pipes, or -1 when both are empty.
static int64_t next_due(const Pipe *a, const Pipe *b) {
  int64_t t = -1;
  if (a->count) t = a->ring[a->head].deliver_ns;
  if (b->count && (t < 0 || b->ring[b->head].deliver_ns < t)) t = b->ring[b->head].deliver_ns;
  return t;
}

int main(int argc, char **argv) {
  if (argc != 9 && argc != 10) {
    fprintf(stderr, "usage: %s IF_A IF_B RATE_AB DELAY_US QLIMIT LOSS_AB SEED RATE_BA [TRACE_AB]\n", argv[0]);
    return 2;
  }
  int if_a, if_b;
  int fd_a = open_port(argv[1], &if_a), fd_b = open_port(argv[2], &if_b);
  int64_t delay_ns = (int64_t)(atof(argv[4]) * 1000.0);
  int qlimit = atoi(argv[5]);
  g_rng = strtoull(argv[7], NULL, 10);
  Pipe ab, ba;
  int ge = strncmp(argv[6], "ge:", 3) == 0;
  init_pipe(&ab, fd_a, fd_b, if_b, atof(argv[3]), delay_ns, qlimit, ge ? 0.0 : atof(argv[6]));
  if (ge && sscanf(argv[6] + 3, "%lf:%lf:%lf:%lf", &ab.pgb, &ab.pbg, &ab.loss_good, &ab.loss_bad) != 4) {
    fprintf(stderr, "linux_relay: LOSS_AB %s: expected ge:PGB:PBG:LOSS_GOOD:LOSS_BAD\n", argv[6]);
    return 2;
  }
  ab.ge = ge;
  if (argc == 10 && !parse_trace(&ab, argv[9])) {
    fprintf(stderr, "linux_relay: TRACE_AB %s: expected PERIOD_S:0=BPS,T1=BPS,...\n", argv[9]);
    return 2;
  }
  init_pipe(&ba, fd_b, fd_a, if_a, atof(argv[8]), delay_ns, qlimit, 0.0);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("ready\n");
  fflush(stdout);
  struct pollfd fds[2] = {{.fd = fd_a, .events = POLLIN}, {.fd = fd_b, .events = POLLIN}};
  while (!g_stop) {
    int64_t due = next_due(&ab, &ba), now = now_ns();
    struct timespec wait = {.tv_sec = 0, .tv_nsec = 100000000};
    if (due >= 0) {
      int64_t left = due > now ? due - now : 0;
      wait.tv_sec = left / 1000000000LL;
      wait.tv_nsec = left % 1000000000LL;
    }
    if (ppoll(fds, 2, &wait, NULL) < 0 && errno != EINTR) die("ppoll");
    if (fds[0].revents & POLLIN) drain_input(&ab);
    if (fds[1].revents & POLLIN) drain_input(&ba);
    now = now_ns();
    deliver_due(&ab, now);
    deliver_due(&ba, now);
  }
  fprintf(stderr, "forwarded %llu queue_drops %llu losses %llu reverse_forwarded %llu reverse_queue_drops %llu\n",
          (unsigned long long)ab.forwarded, (unsigned long long)ab.queue_drops, (unsigned long long)ab.losses,
          (unsigned long long)ba.forwarded, (unsigned long long)ba.queue_drops);
  return 0;
}
