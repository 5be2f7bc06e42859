#include "CLDAPBaseline.h"
int cldap_baseline_placeholder(void) { return 0; }
