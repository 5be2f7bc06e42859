#ifndef CLDAP_BASELINE_H
#define CLDAP_BASELINE_H

// The baseline for `siteloc-bench`: the same searches as the wrapper, written directly against libldap's C API.
// Each function connects anonymously to `uri`, runs `count` subtree searches under `base` with the filters in
// turn (cycling), reads every value of `attribute` of every entry, and returns the number of entries seen, or -1.

long cldap_baseline_sequential(const char *uri, const char *base, const char *const *filters, long filterCount,
                               const char *attribute, long count);

// Keeps `window` searches in flight on one connection (ldap_search_ext + ldap_result).
long cldap_baseline_pipelined(const char *uri, const char *base, const char *const *filters, long filterCount,
                              const char *attribute, long count, int window);

// A roaming client's resolution, `count` times: connect anonymously, run the `queryCount` searches (base, scope
// 0 base / 1 one level / 2 subtree, filter, space-separated attributes) in order, unbind. Returns the entries
// seen, or -1.
long cldap_baseline_resolutions(const char *uri, const char *const *bases, const int *scopes,
                                const char *const *filters, const char *const *attributes, long queryCount,
                                long count);

#endif
