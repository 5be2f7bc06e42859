#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <lber.h>
#include <ldap.h>
#include <netdb.h>
#include <openldap.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
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

// SASL GSSAPI as one named principal from one keytab, for this connection only (docs/kerberos.md): the credential is
// acquired from the keytab into a memory cache named for the principal (so that tickets are reused while valid by
// every connection of the process with that identity), and handed to libldap inside the interaction callback,
// the only moment its SASL context exists. The service principal is ldap/<the URI's host> (NOCANON: no reverse
// lookup). On failure the GSS-API's own words go into `error`.
typedef struct cldap_gssapi_defaults {
    gss_cred_id_t credential;
} cldap_gssapi_defaults;

static int cldap_sasl_gssapi_interaction(LDAP *ld, unsigned flags, void *defaults, void *in) {
    (void)flags;
    cldap_gssapi_defaults *gssapi = (cldap_gssapi_defaults *)defaults;
    if (ldap_set_option(ld, LDAP_OPT_X_SASL_GSS_CREDS, gssapi->credential) != LDAP_OPT_SUCCESS) return LDAP_LOCAL_ERROR;
    return cldap_sasl_no_interaction(ld, flags, NULL, in);
}

static void cldap_gss_describe(OM_uint32 major, OM_uint32 minor, char *error, size_t capacity) {
    size_t used = 0;
    OM_uint32 codes[2] = {major, minor};
    int types[2] = {GSS_C_GSS_CODE, GSS_C_MECH_CODE};
    for (int which = 0; which < 2; which++) {
        OM_uint32 context = 0, status;
        do {
            gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
            OM_uint32 ignored;
            status = gss_display_status(&ignored, codes[which], types[which], GSS_C_NO_OID, &context, &text);
            if (!GSS_ERROR(status) && text.length > 0 && used + 3 < capacity) {
                used += (size_t)snprintf(error + used, capacity - used, "%s%.*s", used ? "; " : "", (int)text.length,
                                         (const char *)text.value);
            }
            gss_release_buffer(&ignored, &text);
        } while (!GSS_ERROR(status) && context != 0 && used + 3 < capacity);
        if (which == 0 && minor == 0) break;
    }
}

static inline int cldap_sasl_gssapi_bind(LDAP *ld, const char *principal, const char *keytab, const char *ccache,
                                         char *error, size_t capacity) {
    OM_uint32 major, minor;
    gss_name_t name = GSS_C_NO_NAME;
    gss_buffer_desc buffer = {strlen(principal), (void *)principal};
    if (capacity > 0) error[0] = 0;
    major = gss_import_name(&minor, &buffer, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    if (GSS_ERROR(major)) {
        cldap_gss_describe(major, minor, error, capacity);
        return LDAP_PARAM_ERROR;
    }
    gss_key_value_element_desc elements[] = {{"client_keytab", keytab}, {"ccache", ccache}};
    gss_key_value_set_desc store = {2, elements};
    cldap_gssapi_defaults defaults = {GSS_C_NO_CREDENTIAL};
    major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_INITIATE, &store,
                                  &defaults.credential, NULL, NULL);
    gss_release_name(&minor, &name);
    if (GSS_ERROR(major)) {
        cldap_gss_describe(major, minor, error, capacity);
        return LDAP_LOCAL_ERROR;
    }
    ldap_set_option(ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON);
    int rc = ldap_sasl_interactive_bind_s(ld, NULL, "GSSAPI", NULL, NULL, LDAP_SASL_QUIET,
                                          cldap_sasl_gssapi_interaction, &defaults);
    gss_release_cred(&minor, &defaults.credential);
    return rc;
}

// A TCP connection to `address` (numeric) and `port`, bounded by `milliseconds`, for a server whose name is not in
// DNS (ldap_init_fd takes it with the URI that names the server, which is the name GSSAPI's service principal uses).
// Returns the descriptor, or -errno.
static inline int cldap_connect_tcp(const char *address, int port, int milliseconds) {
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(address, service, &hints, &found);
    if (rc != 0 || found == NULL) return -EINVAL;
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int error = errno;
        freeaddrinfo(found);
        return -error;
    }
    rc = connect(fd, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (rc != 0 && errno != EINPROGRESS) {
        int error = errno;
        close(fd);
        return -error;
    }
    if (rc != 0) {
        struct pollfd waiting = {fd, POLLOUT, 0};
        rc = poll(&waiting, 1, milliseconds);
        int error = 0;
        socklen_t length = sizeof error;
        if (rc <= 0) error = rc == 0 ? ETIMEDOUT : errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
        if (error != 0) {
            close(fd);
            return -error;
        }
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

static inline int cldap_init_fd(int fd, const char *url, LDAP **ld) { return ldap_init_fd(fd, LDAP_PROTO_TCP, url, ld); }

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

// A session made from a descriptor (cldap_init_fd) is connected already, so libldap's connection callback never
// runs: the watch takes the descriptor, and the session the incoming-size limit, as that callback would have.
static inline void cldap_watch_adopt(LDAP *ld, cldap_watch *watch, int fd) {
    Sockbuf *sb = NULL;
    ber_len_t max = CLDAP_MAX_INCOMING;
    if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS && sb != NULL) {
        ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max);
    }
    pthread_mutex_lock(&watch->lock);
    if (watch->fd >= 0) close(watch->fd);
    watch->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (watch->fired && watch->fd >= 0) shutdown(watch->fd, SHUT_RDWR);
    pthread_mutex_unlock(&watch->lock);
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
