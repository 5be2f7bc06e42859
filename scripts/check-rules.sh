#!/usr/bin/env bash
# The architecture's rules that a grep can check (DEVELOPERS.md, "Rules"); each failure names the file and the rule.
set -euo pipefail
cd "$(dirname "$0")/.."
failed=0
rule() { echo "rule broken: $1" >&2; shift; printf '  %s\n' "$@" >&2; failed=1; }

# Directory connections open from a DirectoryAccess (LDAPKit), handed out by SiteAssembly; only LDAPKit builds the
# connection configuration behind it. The wrapper's own tests (timeouts, TLS, slapd's forms, hostile servers,
# operations) are exempt: they test that configuration.
wrapper_tests='Tests/IntegrationTests/(ConnectTimeoutTests|TLSTests|SchemaFormTests|WrapperOperationTests|HostilePeerTests)\.swift|Tests/LDAPKitTests/'
found=$(grep -rln --include='*.swift' 'LDAPConnectionConfiguration(' Sources Tests Benchmarks \
    | grep -Ev "^Sources/LDAPKit/|^($wrapper_tests)" || true)
[ -z "$found" ] || rule "a connection configuration built outside LDAPKit (use a DirectoryAccess from SiteAssembly)" $found

# Only LDAPKit's handle calls libldap.
found=$(grep -rln --include='*.swift' -E '\bldap_[a-z_]+\(' Sources | grep -v '^Sources/LDAPKit/Internal/LDAPHandle.swift' || true)
[ -z "$found" ] || rule "ldap_* called outside Sources/LDAPKit/Internal/LDAPHandle.swift" $found

# Only SystemCrypto sees the system's OpenSSL.
found=$(grep -rln --include='*.swift' 'import COpenSSLCrypto' Sources Tests Benchmarks | grep -v '^Sources/SystemCrypto/' || true)
[ -z "$found" ] || rule "COpenSSLCrypto imported outside Sources/SystemCrypto" $found

# Every error type above the wrappers (LDAPKit, SMBKit, SystemCalls, SystemCrypto) knows its kind (KindedError), and
# the command line decides an exit status
# once, from the kind: never by wrapping another error's text in a status chosen on the spot.
found=$(grep -rnE --include='*.swift' \
    '^\s*(public |package |private |fileprivate )?(struct|enum|final class|class) \w+(<[^>]*>)?: [^{]*\bError\b' Sources \
    | grep -Ev '^Sources/(LDAPKit|SMBKit|SystemCalls|SystemCrypto)/' || true)
[ -z "$found" ] || rule "an error type without a kind (conform to KindedError)" "$found"
found=$(grep -rnE --include='*.swift' 'CommandFailure\.(badInput|unavailable)\((error|"\\\(error)' Sources || true)
[ -z "$found" ] || rule "a CommandFailure choosing a status for another error's text (let it go up with its kind)" "$found"

# Programs start through SystemCalls' ChildProcess; the emulated WAN link (test support) keeps a Foundation Process
# for its interactive pipes, and smbclient starts from SMBKit's C shim with its credentials on a descriptor.
found=$(grep -rn --include='*.swift' -E 'Process\(\)|posix_spawn\(' Sources \
    | grep -Ev '^Sources/(SystemCalls/|SiteTestKit/EmulatedWAN.swift)' || true)
[ -z "$found" ] || rule "a program started outside SystemCalls.ChildProcess" "$found"

exit $failed
