#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H

#include <lber.h>
#include <ldap.h>
#include <sasl/sasl.h>

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

#endif
