// A TCP relay that stands in for a WAN link where tc netem is not available (the kernel here has no sch_netem):
// every byte is held back DELAY milliseconds in each direction, and each direction carries no more than RATE
// bits per second over all connections, as connections share a real link.
//
//     delay-relay LISTEN_PORT TARGET_HOST TARGET_PORT [DELAY_MS [RATE_MBIT]]
//
// It listens on 127.0.0.1 (port 0 picks a free one), prints the port, and relays until its standard input
// closes. Written in C so that the emulator is never the bottleneck: a Python relay topped out near 105 MB/s on
// two cores, below the 1 Gbit/s it emulates. Built and started by SiteTestKit's DelayRelay, for
// `siteloc-bench smb --wan` and the sender's WAN test.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 64 * 1024, QUEUE_LIMIT = 32 * 1024 * 1024 };

static int64_t delay_ns = 10 * 1000000LL;
static double bytes_per_ns = 1000e6 / 8 / 1e9;

// One direction of the emulated link, shared by every connection: when it is free again.
struct link {
    pthread_mutex_t lock;
    int64_t free_at;
};
static struct link up = {PTHREAD_MUTEX_INITIALIZER, 0}, down = {PTHREAD_MUTEX_INITIALIZER, 0};

struct chunk {
    struct chunk *next;
    int64_t due;
    size_t length;
    char bytes[CHUNK];
};

// One direction of one connection: a reader queues what arrives, a writer sends it on when it is due.
struct pump {
    int from, to;
    struct link *link;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct chunk *head, *tail;
    size_t queued;
    int ended, broken;
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
    struct pump *pump = argument;
    for (;;) {
        struct chunk *chunk = malloc(sizeof *chunk);
        if (!chunk) break;
        ssize_t got = read(pump->from, chunk->bytes, CHUNK);
        if (got <= 0) {
            free(chunk);
            break;
        }
        chunk->next = NULL;
        chunk->length = (size_t)got;
        chunk->due = now_ns() + delay_ns;
        pthread_mutex_lock(&pump->lock);
        // A bounded queue: the sender feels back-pressure as it would from a full link buffer.
        while (pump->queued >= QUEUE_LIMIT && !pump->broken) pthread_cond_wait(&pump->changed, &pump->lock);
        if (pump->broken) {
            pthread_mutex_unlock(&pump->lock);
            free(chunk);
            break;
        }
        if (pump->tail) pump->tail->next = chunk; else pump->head = chunk;
        pump->tail = chunk;
        pump->queued += chunk->length;
        pthread_cond_broadcast(&pump->changed);
        pthread_mutex_unlock(&pump->lock);
    }
    pthread_mutex_lock(&pump->lock);
    pump->ended = 1;
    pthread_cond_broadcast(&pump->changed);
    pthread_mutex_unlock(&pump->lock);
    return NULL;
}

static void *transmit(void *argument) {
    struct pump *pump = argument;
    for (;;) {
        pthread_mutex_lock(&pump->lock);
        while (!pump->head && !pump->ended) pthread_cond_wait(&pump->changed, &pump->lock);
        struct chunk *chunk = pump->head;
        if (!chunk) {
            pthread_mutex_unlock(&pump->lock);
            break;
        }
        pump->head = chunk->next;
        if (!pump->head) pump->tail = NULL;
        pump->queued -= chunk->length;
        pthread_cond_broadcast(&pump->changed);
        pthread_mutex_unlock(&pump->lock);

        // The chunk leaves when it is due and the link has clocked out everything before it, of any connection.
        pthread_mutex_lock(&pump->link->lock);
        int64_t start = chunk->due > pump->link->free_at ? chunk->due : pump->link->free_at;
        pump->link->free_at = start + (int64_t)(chunk->length / bytes_per_ns);
        pthread_mutex_unlock(&pump->link->lock);
        sleep_until(start);
        size_t sent = 0;
        while (sent < chunk->length) {
            ssize_t wrote = write(pump->to, chunk->bytes + sent, chunk->length - sent);
            if (wrote <= 0) break;
            sent += (size_t)wrote;
        }
        size_t length = chunk->length;
        free(chunk);
        if (sent < length) {
            // The far end is gone: stop the reader of this direction too.
            pthread_mutex_lock(&pump->lock);
            pump->broken = 1;
            pthread_cond_broadcast(&pump->changed);
            pthread_mutex_unlock(&pump->lock);
            shutdown(pump->from, SHUT_RD);
            break;
        }
    }
    shutdown(pump->to, SHUT_WR);
    return NULL;
}

struct connection {
    struct pump pumps[2];
};

static void *relay(void *argument) {
    struct connection *connection = argument;
    pthread_t threads[4];
    for (int i = 0; i < 2; i++) {
        pthread_create(&threads[2 * i], NULL, receive, &connection->pumps[i]);
        pthread_create(&threads[2 * i + 1], NULL, transmit, &connection->pumps[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        while (connection->pumps[i].head) {
            struct chunk *next = connection->pumps[i].head->next;
            free(connection->pumps[i].head);
            connection->pumps[i].head = next;
        }
    }
    close(connection->pumps[0].from);
    close(connection->pumps[0].to);
    free(connection);
    return NULL;
}

static void *watch_input(void *argument) {
    (void)argument;
    char buffer[256];
    while (read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
    }
    _exit(0);
}

static int connect_to(const char *host, const char *port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *found;
    if (getaddrinfo(host, port, &hints, &found) != 0) return -1;
    int fd = socket(found->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: delay-relay LISTEN_PORT TARGET_HOST TARGET_PORT [DELAY_MS [RATE_MBIT]]\n");
        return 2;
    }
    if (argc > 4) delay_ns = (int64_t)(atof(argv[4]) * 1e6);
    if (argc > 5) bytes_per_ns = atof(argv[5]) * 1e6 / 8 / 1e9;
    if (delay_ns < 0 || bytes_per_ns <= 0) {
        fprintf(stderr, "delay-relay: expected a delay of 0 ms or more and a rate above 0 Mbit/s\n");
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 64) != 0
        || getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        perror("delay-relay: listen");
        return 1;
    }
    printf("%d\n", ntohs(address.sin_port));
    fflush(stdout);
    pthread_t watcher;
    pthread_create(&watcher, NULL, watch_input, NULL);
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        int server = connect_to(argv[2], argv[3]);
        if (server < 0) {
            close(client);
            continue;
        }
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        struct connection *connection = calloc(1, sizeof *connection);
        if (!connection) {
            close(client);
            close(server);
            continue;
        }
        struct pump *pumps = connection->pumps;
        pumps[0] = (struct pump){.from = client, .to = server, .link = &up};
        pumps[1] = (struct pump){.from = server, .to = client, .link = &down};
        for (int i = 0; i < 2; i++) {
            pthread_mutex_init(&pumps[i].lock, NULL);
            pthread_cond_init(&pumps[i].changed, NULL);
        }
        pthread_t thread;
        pthread_create(&thread, NULL, relay, connection);
        pthread_detach(thread);
    }
}
