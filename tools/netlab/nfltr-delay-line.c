/* nfltr-delay-line — a WAN between two TUN devices: every packet is held for a set time,
 * a set fraction is dropped, an optional rate limit queues the rest.
 *
 * This machine's kernel has no sch_netem, so the lab (tools/netlab/netlab.py) joins two
 * network namespaces with this forwarder instead: it opens TUN device A and TUN device B,
 * the caller moves each into its namespace, and every packet read from one is written to the
 * other once its time has come.  One thread, one poll loop: the delay is the same for every
 * packet of a direction, so release times are in arrival order and each direction is a FIFO
 * whose head is the next deadline (no timer per packet).
 *
 *   nfltr-delay-line --tun-a NAME --tun-b NAME [--delay-ms D] [--loss P] [--seed S]
 *                    [--rate-mbit R] [--queue-kib Q] [--mtu M] [--no-offload]
 *
 * D is the one-way hold in each direction (the round trip grows by 2 × D); P is the
 * probability that a packet is dropped, drawn independently per packet and direction from a
 * seeded generator, so a run is repeatable.  With neither loss nor a rate limit the TUN
 * devices carry the kernel's segmentation-offload packets (up to 64 KiB, with their
 * virtio_net_hdr passed through unchanged), so the forwarder moves a fast TCP stream with a
 * few system calls per 64 KiB rather than per 1,500 bytes; with loss or a rate each packet is
 * one MTU-sized segment, so a drop loses one segment as on a real link.
 *
 * Prints "ready" on stdout once both devices exist; on SIGTERM or SIGINT prints one JSON
 * line of counters on stdout and exits 0.
 */

/* ppoll(2) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The largest packet a TUN device hands over with offloads on (a 64 KiB GSO packet) plus
 * its virtio_net_hdr. */
#define MAX_PACKET (65536 + sizeof (struct virtio_net_hdr))
/* Packets read from one device before the loop looks at the other and at the clock. */
#define READ_BATCH 64

typedef struct Packet Packet;
struct Packet {
  Packet *next;
  uint64_t due_ns;
  size_t len;
  unsigned char data[];
};

typedef struct {
  const char *name; /* "a_to_b" or "b_to_a", for the counters */
  int in_fd;
  int out_fd;
  Packet *head;
  Packet *tail;
  size_t queued_bytes;
  uint64_t next_send_ns; /* rate limit: when the link is free again */
  uint64_t rng; /* each direction draws its own sequence: repeatable per direction */
  uint64_t packets_in;
  uint64_t packets_out;
  uint64_t bytes_out;
  uint64_t dropped_loss;
  uint64_t dropped_queue;
} Direction;

typedef struct {
  uint64_t delay_ns;
  double loss;
  uint64_t seed;
  double rate_bytes_per_ns; /* 0: no rate limit */
  size_t queue_limit;
  int mtu;
  bool offload;
} Options;

static volatile sig_atomic_t stop_requested;

static void
on_signal (int sig)
{
  (void) sig;
  stop_requested = 1;
}

/* splitmix64: small, seedable, good enough to draw drops. */
static uint64_t
rng_next (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double
rng_uniform (uint64_t *state)
{
  return (rng_next (state) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
die (const char *what)
{
  fprintf (stderr, "nfltr-delay-line: %s: %s\n", what, strerror (errno));
  exit (1);
}

static int
tun_open (const char *name, const Options *opt)
{
  struct ifreq ifr;
  int fd;

  fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    die ("/dev/net/tun");
  memset (&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (opt->offload ? IFF_VNET_HDR : 0);
  if (strlen (name) >= IFNAMSIZ)
    {
      fprintf (stderr, "nfltr-delay-line: device name too long: %s\n", name);
      exit (2);
    }
  strcpy (ifr.ifr_name, name);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    die (name);
  if (opt->offload)
    {
      int hdr = sizeof (struct virtio_net_hdr);
      unsigned int offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

      if (ioctl (fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl (fd, TUNSETOFFLOAD, offloads) < 0)
        die ("offloads");
    }
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) < 0)
    die ("O_NONBLOCK");

  /* The MTU is set here rather than by the caller so both ends always match. */
  {
    int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
      die ("socket");
    memset (&ifr, 0, sizeof ifr);
    strcpy (ifr.ifr_name, name);
    ifr.ifr_mtu = opt->mtu;
    if (ioctl (s, SIOCSIFMTU, &ifr) < 0)
      die ("SIOCSIFMTU");
    close (s);
  }
  return fd;
}

/* Queues p (read into a MAX_PACKET buffer, len bytes used) or drops it.  Reading straight
 * into the queued buffer saves a copy of every 64 KiB offload packet. */
static void
enqueue (Direction *d, const Options *opt, Packet *p, size_t len, uint64_t now)
{
  d->packets_in++;
  if (opt->loss > 0 && rng_uniform (&d->rng) < opt->loss)
    {
      d->dropped_loss++;
      free (p);
      return;
    }
  if (d->queued_bytes + len > opt->queue_limit)
    {
      d->dropped_queue++;
      free (p);
      return;
    }
  /* A small packet gives back the rest of its buffer (glibc shrinks in place). */
  if (len < MAX_PACKET / 2)
    {
      Packet *q = realloc (p, sizeof *p + len);

      if (q != NULL)
        p = q;
    }
  p->next = NULL;
  p->due_ns = now + opt->delay_ns;
  p->len = len;
  if (d->tail != NULL)
    d->tail->next = p;
  else
    d->head = p;
  d->tail = p;
  d->queued_bytes += len;
}

/* Reads what is waiting on d->in_fd (up to a batch). */
static void
drain_input (Direction *d, const Options *opt)
{
  for (int i = 0; i < READ_BATCH; i++)
    {
      Packet *p = malloc (sizeof *p + MAX_PACKET);
      ssize_t n;

      if (p == NULL)
        die ("malloc");
      n = read (d->in_fd, p->data, MAX_PACKET);
      if (n <= 0)
        {
          int saved = errno;

          free (p);
          if (n == 0 || saved == EAGAIN || saved == EINTR)
            return;
          errno = saved;
          die ("read");
        }
      enqueue (d, opt, p, (size_t) n, now_ns ());
    }
}

/* When the head of d may leave: its hold time, and with a rate limit the link's. */
static uint64_t
head_ready_ns (const Direction *d, const Options *opt)
{
  uint64_t t = d->head->due_ns;

  if (opt->rate_bytes_per_ns > 0 && d->next_send_ns > t)
    t = d->next_send_ns;
  return t;
}

/* Writes every packet whose time has come. */
static void
release (Direction *d, const Options *opt, uint64_t now)
{
  while (d->head != NULL && head_ready_ns (d, opt) <= now)
    {
      Packet *p = d->head;
      ssize_t n = write (d->out_fd, p->data, p->len);

      /* A full TUN queue on the far side drops the packet, as a full device queue does. */
      if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EIO && errno != EINVAL)
        die ("write");
      if (n >= 0)
        {
          d->packets_out++;
          d->bytes_out += p->len;
        }
      else
        d->dropped_queue++;
      if (opt->rate_bytes_per_ns > 0)
        {
          uint64_t start = d->next_send_ns > p->due_ns ? d->next_send_ns : p->due_ns;

          d->next_send_ns = start + (uint64_t) (p->len / opt->rate_bytes_per_ns);
        }
      d->head = p->next;
      if (d->head == NULL)
        d->tail = NULL;
      d->queued_bytes -= p->len;
      free (p);
    }
}

static void
free_queue (Direction *d)
{
  while (d->head != NULL)
    {
      Packet *p = d->head;

      d->head = p->next;
      free (p);
    }
  d->tail = NULL;
}

static void
print_counters (const Direction *dirs, const Options *opt)
{
  printf ("{\"delay_ms\": %.3f, \"loss\": %g, \"seed\": %" PRIu64 ", \"offload\": %s", opt->delay_ns / 1e6,
          opt->loss, opt->seed, opt->offload ? "true" : "false");
  for (int i = 0; i < 2; i++)
    printf (", \"%s\": {\"packets_in\": %" PRIu64 ", \"packets_out\": %" PRIu64 ", \"bytes_out\": %" PRIu64
            ", \"dropped_loss\": %" PRIu64 ", \"dropped_queue\": %" PRIu64 "}",
            dirs[i].name, dirs[i].packets_in, dirs[i].packets_out, dirs[i].bytes_out, dirs[i].dropped_loss,
            dirs[i].dropped_queue);
  printf ("}\n");
  fflush (stdout);
}

static void
usage (FILE *f)
{
  fputs ("usage: nfltr-delay-line --tun-a NAME --tun-b NAME [--delay-ms D] [--loss P]\n"
         "                        [--seed S] [--rate-mbit R] [--queue-kib Q] [--mtu M]\n"
         "                        [--no-offload]\n"
         "  D: one-way hold in each direction, ms (the RTT grows by 2 x D); default 0\n"
         "  P: fraction of packets dropped, each direction (0..1); default 0\n"
         "  R: rate limit per direction, Mbit/s; default none\n"
         "  Q: queue limit per direction, KiB (tail drop beyond it); default 65536\n"
         "  M: MTU of both devices; default 1500\n",
         f);
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "tun-a", required_argument, NULL, 'a' },
    { "tun-b", required_argument, NULL, 'b' },
    { "delay-ms", required_argument, NULL, 'd' },
    { "loss", required_argument, NULL, 'l' },
    { "seed", required_argument, NULL, 's' },
    { "rate-mbit", required_argument, NULL, 'r' },
    { "queue-kib", required_argument, NULL, 'q' },
    { "mtu", required_argument, NULL, 'm' },
    { "no-offload", no_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  Options opt = { .seed = 1, .queue_limit = 65536 * 1024, .mtu = 1500, .offload = true };
  const char *tun_a = NULL, *tun_b = NULL;
  bool no_offload = false;
  Direction dirs[2];
  struct sigaction sa;
  sigset_t blocked, unblocked;
  int c;

  while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1)
    {
      switch (c)
        {
          case 'a': tun_a = optarg; break;
          case 'b': tun_b = optarg; break;
          case 'd': opt.delay_ns = (uint64_t) llround (strtod (optarg, NULL) * 1e6); break;
          case 'l': opt.loss = strtod (optarg, NULL); break;
          case 's': opt.seed = strtoull (optarg, NULL, 10); break;
          case 'r': opt.rate_bytes_per_ns = strtod (optarg, NULL) * 1e6 / 8 / 1e9; break;
          case 'q': opt.queue_limit = (size_t) strtoull (optarg, NULL, 10) * 1024; break;
          case 'm': opt.mtu = atoi (optarg); break;
          case 'n': no_offload = true; break;
          case 'h': usage (stdout); return 0;
          default: usage (stderr); return 2;
        }
    }
  if (tun_a == NULL || tun_b == NULL || opt.loss < 0 || opt.loss > 1 || opt.mtu < 576 || opt.mtu > 65535 ||
      opt.rate_bytes_per_ns < 0)
    {
      usage (stderr);
      return 2;
    }
  /* A drop or a rate must act on wire-sized packets, not on 64 KiB offload packets. */
  opt.offload = !no_offload && opt.loss == 0 && opt.rate_bytes_per_ns == 0;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  /* The signals are let in only inside ppoll, so a stop never waits for the next packet. */
  sigemptyset (&blocked);
  sigaddset (&blocked, SIGTERM);
  sigaddset (&blocked, SIGINT);
  sigprocmask (SIG_BLOCK, &blocked, &unblocked);
  /* Wake-ups on time: the default 50 µs of timer slack would be noise on a 0 ms line. */
  prctl (PR_SET_TIMERSLACK, 1UL);

  memset (dirs, 0, sizeof dirs);
  dirs[0].name = "a_to_b";
  dirs[1].name = "b_to_a";
  dirs[0].rng = opt.seed;
  dirs[1].rng = opt.seed ^ 0x5bd1e9955bd1e995ULL;
  dirs[0].in_fd = dirs[1].out_fd = tun_open (tun_a, &opt);
  dirs[1].in_fd = dirs[0].out_fd = tun_open (tun_b, &opt);

  printf ("ready\n");
  fflush (stdout);

  while (!stop_requested)
    {
      struct pollfd pfd[2] = {
        { .fd = dirs[0].in_fd, .events = POLLIN },
        { .fd = dirs[1].in_fd, .events = POLLIN },
      };
      struct timespec timeout, *tp = NULL;
      uint64_t now = now_ns (), next = UINT64_MAX;

      for (int i = 0; i < 2; i++)
        {
          release (&dirs[i], &opt, now);
          if (dirs[i].head != NULL && head_ready_ns (&dirs[i], &opt) < next)
            next = head_ready_ns (&dirs[i], &opt);
        }
      if (next != UINT64_MAX)
        {
          uint64_t wait = next > now ? next - now : 0;

          timeout.tv_sec = (time_t) (wait / 1000000000ULL);
          timeout.tv_nsec = (long) (wait % 1000000000ULL);
          tp = &timeout;
        }
      if (ppoll (pfd, 2, tp, &unblocked) < 0)
        {
          if (errno == EINTR)
            continue;
          die ("ppoll");
        }
      for (int i = 0; i < 2; i++)
        if (pfd[i].revents & POLLIN)
          drain_input (&dirs[i], &opt);
        else if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
          {
            fprintf (stderr, "nfltr-delay-line: device %s went away\n",
                     i == 0 ? tun_a : tun_b);
            stop_requested = 1;
          }
    }

  print_counters (dirs, &opt);
  free_queue (&dirs[0]);
  free_queue (&dirs[1]);
  close (dirs[0].in_fd);
  close (dirs[1].in_fd);
  return 0;
}
