#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H

#include <fcntl.h>
#include <lber.h>
#include <ldap.h>
#include <pthread.h>
#include <sasl/sasl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

// Helpers for the parts of libldap that Swift cannot call directly. Each one says why it exists.

// LDAP_OPT_ON / LDAP_OPT_OFF are pointer-cast macros that Swift does not import.
static inline void *cldap_opt_on(void) { return LDAP_OPT_ON; }
static inline void *cldap_opt_off(void) { return LDAP_OPT_OFF; }

// SASL EXTERNAL needs an interaction callback even though EXTERNAL never asks anything; a C function pointer
// is simplest to provide from C. The authorization identity is always the one the server derives from the
// transport (peer credentials over ldapi, the client certificate over TLS).
static int cldap_sasl_no_interaction(LDAP *ld, unsigned flags, void *defaults, void *in) {
    (void)ld; (void)flags; (void)defaults;
    sasl_interact_t *interact = (sasl_interact_t *)in;
    while (interact != NULL && interact->id != SASL_CB_LIST_END) {
        interact->result = "";
        interact->len = 0;
        interact++;
    }
    return LDAP_SUCCESS;
}

static inline int cldap_sasl_external_bind(LDAP *ld) {
    return ldap_sasl_interactive_bind_s(ld, NULL, "EXTERNAL", NULL, NULL, LDAP_SASL_QUIET,
                                        cldap_sasl_no_interaction, NULL);
}

// The LDAPMod value union is imported by Swift, but setting the berval array through it is clearer in C.
static inline void cldap_mod_set_bvalues(LDAPMod *mod, struct berval **values) { mod->mod_bvalues = values; }

// A watch on one session's socket, so that another thread can end any blocking read or write on it: libldap's TLS
// handshake (gnutls) reads with no time limit of its own, and a session's thread cannot be interrupted otherwise.
// libldap reports the socket through a connection callback, called right after the TCP connect and before TLS;
// the watch keeps its own duplicate of the descriptor, so shutting it down can never hit a descriptor number that
// libldap has closed and the process reused. Every field is guarded by the mutex.
typedef struct cldap_watch {
    pthread_mutex_t lock;
    int fd;
    int fired;
    struct ldap_conncb callback;
} cldap_watch;

// The largest LDAP message accepted from a server: a crafted length cannot make liblber allocate gigabytes.
#define CLDAP_MAX_INCOMING (32 * 1024 * 1024)

static int cldap_watch_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr, struct ldap_conncb *ctx) {
    (void)ld; (void)srv; (void)addr;
    cldap_watch *watch = (cldap_watch *)ctx->lc_arg;
    int fd = -1;
    ber_len_t max = CLDAP_MAX_INCOMING;
    ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max);
    ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd);
    pthread_mutex_lock(&watch->lock);
    if (watch->fd >= 0) close(watch->fd);
    watch->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (watch->fired && watch->fd >= 0) shutdown(watch->fd, SHUT_RDWR);
    pthread_mutex_unlock(&watch->lock);
    return 0;
}

static void cldap_watch_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx) { (void)ld; (void)sb; (void)ctx; }

static inline cldap_watch *cldap_watch_create(void) {
    cldap_watch *watch = (cldap_watch *)calloc(1, sizeof(cldap_watch));
    if (watch == NULL) return NULL;
    pthread_mutex_init(&watch->lock, NULL);
    watch->fd = -1;
    watch->callback.lc_add = cldap_watch_add;
    watch->callback.lc_del = cldap_watch_del;
    watch->callback.lc_arg = watch;
    return watch;
}

// Registers the watch with a session; it must outlive the session (libldap keeps the pointer).
static inline int cldap_watch_install(LDAP *ld, cldap_watch *watch) {
    return ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &watch->callback);
}

// Ends every blocking call on the socket, now and, once fired, on any socket the session opens later.
static inline void cldap_watch_fire(cldap_watch *watch) {
    pthread_mutex_lock(&watch->lock);
    watch->fired = 1;
    if (watch->fd >= 0) shutdown(watch->fd, SHUT_RDWR);
    pthread_mutex_unlock(&watch->lock);
}

static inline int cldap_watch_has_fired(cldap_watch *watch) {
    pthread_mutex_lock(&watch->lock);
    int fired = watch->fired;
    pthread_mutex_unlock(&watch->lock);
    return fired;
}

static inline void cldap_watch_destroy(cldap_watch *watch) {
    if (watch->fd >= 0) close(watch->fd);
    pthread_mutex_destroy(&watch->lock);
    free(watch);
}

// A timeval made in C: Swift sees `struct timeval` from whichever module loaded <sys/time.h> first (Glibc or
// CDispatch, depending on the order a build happens to load them), and with MemberImportVisibility its initializer
// and fields are then unavailable in a file that did not import that module.
static inline struct timeval cldap_timeval(long seconds, long microseconds) {
    struct timeval value;
    value.tv_sec = seconds;
    value.tv_usec = microseconds;
    return value;
}

#endif
