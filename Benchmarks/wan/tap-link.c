// An emulated WAN link between this network namespace and another, for a kernel without tc netem (the one this
// project runs on has no sch_netem and no sch_fq). It makes a tap device on each side — NEAR_IF here, FAR_IF in
// NAMESPACE (a name from `ip netns add`) — and carries every Ethernet frame from one to the other DELAY
// milliseconds late, each direction clocked out at RATE megabits per second, as netem's `delay` and `rate` do.
// Tap rather than tun: smbd serves only on interfaces that can broadcast. Packets that
// find a full queue (QUEUE_PACKETS waiting in that direction, netem's default limit) are dropped, so TCP on both
// ends meets a real round trip, a real bottleneck and real losses: nothing here terminates or buffers a connection.
//
//     tap-link NAMESPACE NEAR_IF FAR_IF [DELAY_MS [RATE_MBIT]]
//
// It prints "ready" once both devices exist (the caller gives them addresses and brings them up) and carries
// frames until its standard input closes; the devices go with it. Built and started by SiteTestKit's
// EmulatedWAN, for `siteloc-bench smb --wan` and the sender's WAN test. Needs CAP_NET_ADMIN (root).
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

enum { SLOT = 9216, QUEUE_PACKETS = 1000 };

static int64_t delay_ns = 10 * 1000000LL;
static double ns_per_byte = 8.0 * 1000.0 / 1000.0;  // at 1000 Mbit/s

struct packet {
    int64_t due;
    size_t length;
    unsigned char bytes[SLOT];
};

// One direction: a reader takes frames off one device into a ring, a writer hands each to the other device when
// it is due.
struct direction {
    int from, to;
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    struct packet *ring;
    size_t head, count;
    int64_t link_free_at;  // when the emulated link has clocked out everything queued so far
    unsigned long long dropped;
};

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_until(int64_t when) {
    struct timespec t = {when / 1000000000LL, when % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0) {
    }
}

static void *receive(void *argument) {
    struct direction *d = argument;
    static unsigned char scratch[SLOT];
    for (;;) {
        pthread_mutex_lock(&d->lock);
        int full = d->count == QUEUE_PACKETS;
        struct packet *slot = full ? NULL : &d->ring[(d->head + d->count) % QUEUE_PACKETS];
        pthread_mutex_unlock(&d->lock);
        // Only this thread adds to the ring, so the free slot stays free while it reads.
        ssize_t got = read(d->from, slot ? slot->bytes : scratch, SLOT);
        if (got < 0) break;
        if (!slot) {
            d->dropped++;
            continue;
        }
        int64_t now = now_ns();
        pthread_mutex_lock(&d->lock);
        int64_t start = d->link_free_at > now ? d->link_free_at : now;
        d->link_free_at = start + (int64_t)((double)got * ns_per_byte);
        slot->due = d->link_free_at + delay_ns;
        slot->length = (size_t)got;
        d->count++;
        pthread_cond_signal(&d->arrived);
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}

static void *transmit(void *argument) {
    struct direction *d = argument;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        while (d->count == 0) pthread_cond_wait(&d->arrived, &d->lock);
        struct packet *packet = &d->ring[d->head];
        pthread_mutex_unlock(&d->lock);
        sleep_until(packet->due);
        // A device that refuses a packet (not up yet, queue full) loses it, as a link would.
        (void)!write(d->to, packet->bytes, packet->length);
        pthread_mutex_lock(&d->lock);
        d->head = (d->head + 1) % QUEUE_PACKETS;
        d->count--;
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}

static int open_tun(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("tap-link: /dev/net/tun");
        exit(1);
    }
    struct ifreq request;
    memset(&request, 0, sizeof request);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "tap-link: device name too long: %s\n", name);
        exit(2);
    }
    strcpy(request.ifr_name, name);
    if (ioctl(fd, TUNSETIFF, &request) < 0) {
        perror("tap-link: TUNSETIFF");
        exit(1);
    }
    return fd;
}

static void start(struct direction *d, int from, int to) {
    d->from = from;
    d->to = to;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->arrived, NULL);
    d->ring = calloc(QUEUE_PACKETS, sizeof *d->ring);
    if (!d->ring) exit(1);
    pthread_t reader, writer;
    if (pthread_create(&reader, NULL, receive, d) != 0 || pthread_create(&writer, NULL, transmit, d) != 0) exit(1);
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: tap-link NAMESPACE NEAR_IF FAR_IF [DELAY_MS [RATE_MBIT]]\n");
        return 2;
    }
    if (argc > 4) delay_ns = atoll(argv[4]) * 1000000LL;
    if (argc > 5) ns_per_byte = 8.0 * 1000.0 / atof(argv[5]);
    if (strchr(argv[1], '/') || argv[1][0] == '.' || argv[1][0] == 0) {
        fprintf(stderr, "tap-link: a namespace name, not a path: %s\n", argv[1]);
        return 2;
    }
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", argv[1]);
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int away = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (home < 0 || away < 0) {
        perror("tap-link: network namespace");
        return 1;
    }
    // Still one thread: the far device is made inside the other namespace, then this thread comes back.
    if (setns(away, CLONE_NEWNET) < 0) {
        perror("tap-link: setns");
        return 1;
    }
    int far = open_tun(argv[3]);
    if (setns(home, CLONE_NEWNET) < 0) {
        perror("tap-link: setns back");
        return 1;
    }
    int near = open_tun(argv[2]);
    static struct direction outward, inward;
    start(&outward, near, far);
    start(&inward, far, near);
    printf("ready\n");
    fflush(stdout);
    char byte;
    while (read(0, &byte, 1) > 0) {
    }
    fprintf(stderr, "tap-link: dropped %llu outward, %llu inward\n", outward.dropped, inward.dropped);
    return 0;
}
