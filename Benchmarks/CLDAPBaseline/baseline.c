#include "CLDAPBaseline.h"

#include <ldap.h>
#include <stdlib.h>
#include <string.h>

static LDAP *open_session(const char *uri) {
    LDAP *ld = NULL;
    if (ldap_initialize(&ld, uri) != LDAP_SUCCESS) return NULL;
    int version = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    return ld;
}

static long read_entries(LDAP *ld, LDAPMessage *message, const char *attribute) {
    long entries = 0;
    for (LDAPMessage *entry = ldap_first_entry(ld, message); entry != NULL; entry = ldap_next_entry(ld, entry)) {
        char *dn = ldap_get_dn(ld, entry);
        ldap_memfree(dn);
        struct berval **values = ldap_get_values_len(ld, entry, attribute);
        if (values != NULL) ldap_value_free_len(values);
        entries++;
    }
    return entries;
}

long cldap_baseline_sequential(const char *uri, const char *base, const char *const *filters, long filterCount,
                               const char *attribute, long count) {
    LDAP *ld = open_session(uri);
    if (ld == NULL) return -1;
    char *attributes[] = {(char *)attribute, NULL};
    long entries = 0;
    for (long i = 0; i < count; i++) {
        LDAPMessage *result = NULL;
        int rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filters[i % filterCount], attributes, 0, NULL, NULL,
                                   NULL, 0, &result);
        if (rc != LDAP_SUCCESS) {
            ldap_msgfree(result);
            ldap_unbind_ext_s(ld, NULL, NULL);
            return -1;
        }
        entries += read_entries(ld, result, attribute);
        ldap_msgfree(result);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
    return entries;
}

long cldap_baseline_pipelined(const char *uri, const char *base, const char *const *filters, long filterCount,
                              const char *attribute, long count, int window) {
    LDAP *ld = open_session(uri);
    if (ld == NULL) return -1;
    char *attributes[] = {(char *)attribute, NULL};
    long sent = 0, done = 0, entries = 0;
    int inFlight = 0;
    while (done < count) {
        while (inFlight < window && sent < count) {
            int id = 0;
            if (ldap_search_ext(ld, base, LDAP_SCOPE_SUBTREE, filters[sent % filterCount], attributes, 0, NULL, NULL,
                                NULL, 0, &id) != LDAP_SUCCESS) {
                ldap_unbind_ext_s(ld, NULL, NULL);
                return -1;
            }
            sent++;
            inFlight++;
        }
        LDAPMessage *message = NULL;
        int type = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, NULL, &message);
        if (type <= 0) {
            ldap_unbind_ext_s(ld, NULL, NULL);
            return -1;
        }
        if (type == LDAP_RES_SEARCH_ENTRY) {
            entries += read_entries(ld, message, attribute);
        } else if (type == LDAP_RES_SEARCH_RESULT) {
            done++;
            inFlight--;
        }
        ldap_msgfree(message);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
    return entries;
}

long cldap_baseline_resolutions(const char *uri, const char *const *bases, const int *scopes,
                                const char *const *filters, const char *const *attributes, long queryCount,
                                long count) {
    long entries = 0;
    for (long i = 0; i < count; i++) {
        LDAP *ld = open_session(uri);
        if (ld == NULL) return -1;
        for (long q = 0; q < queryCount; q++) {
            char *copy = strdup(attributes[q]);
            char *list[64];
            int n = 0;
            for (char *token = strtok(copy, " "); token != NULL && n < 63; token = strtok(NULL, " ")) list[n++] = token;
            list[n] = NULL;
            LDAPMessage *result = NULL;
            int scope = scopes[q] == 0 ? LDAP_SCOPE_BASE : scopes[q] == 1 ? LDAP_SCOPE_ONELEVEL : LDAP_SCOPE_SUBTREE;
            int rc = ldap_search_ext_s(ld, bases[q], scope, filters[q], list, 0, NULL, NULL, NULL, 0, &result);
            if (rc != LDAP_SUCCESS) {
                ldap_msgfree(result);
                free(copy);
                ldap_unbind_ext_s(ld, NULL, NULL);
                return -1;
            }
            for (LDAPMessage *entry = ldap_first_entry(ld, result); entry != NULL; entry = ldap_next_entry(ld, entry)) {
                BerElement *ber = NULL;
                for (char *name = ldap_first_attribute(ld, entry, &ber); name != NULL;
                     name = ldap_next_attribute(ld, entry, ber)) {
                    struct berval **values = ldap_get_values_len(ld, entry, name);
                    if (values != NULL) ldap_value_free_len(values);
                    ldap_memfree(name);
                }
                if (ber != NULL) ber_free(ber, 0);
                entries++;
            }
            ldap_msgfree(result);
            free(copy);
        }
        ldap_unbind_ext_s(ld, NULL, NULL);
    }
    return entries;
}
