int cldap_baseline_placeholder(void);
