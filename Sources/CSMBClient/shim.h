#ifndef CSMBCLIENT_SHIM_H
#define CSMBCLIENT_SHIM_H

#include <libsmbclient.h>

// smbc_dirent.name is declared as `char name[1]` and read past its end by design; Swift sees a one-element tuple.
static inline const char *csmb_dirent_name(const struct smbc_dirent *entry) { return entry->name; }

#endif
