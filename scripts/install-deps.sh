#!/usr/bin/env bash
# Installs the Debian packages siteloc builds and runs with, when any is missing.
# `install-deps.sh container` adds what building and testing the container image needs; `install-deps.sh bench` what
# the benchmarks compare against (nginx serving the same file, wrk).
set -euo pipefail
# python3-venv: a test reads the published directory with the Python ldap3 client, installed into a venv.
# chromium renders the status page in a test (and the demo's screenshot); python3-prometheus-client parses /metrics;
# python3-ldap3 reads the root DSE the way scripts built for Active Directory do (docs/active-directory.md).
# iproute2: the sender's WAN test puts smbd in a network namespace behind an emulated link (Benchmarks/wan).
# curl, wget and aria2: real download clients tested against the distribution points.
# krb5-kdc and krb5-admin-server: each lab forest's KDC (krb5kdc, kdb5_util, kadmin.local); libkrb5-dev and
# libsasl2-modules-gssapi-mit: SASL GSSAPI binds; krb5-user: kinit and klist for looking at it by hand. krb5-config
# writes a system /etc/krb5.conf naming MIT's realm: siteloc never reads it (every process uses the lab's file).
packages=(slapd ldap-utils libldap2-dev libsasl2-dev libsasl2-modules-gssapi-mit libkrb5-dev krb5-kdc krb5-admin-server
    krb5-user openssl libssl-dev samba smbclient libsmbclient-dev pkg-config python3-venv
    libsqlite3-dev sqlite3 curl wget aria2 chromium python3-prometheus-client python3-ldap3 iproute2)
# The dnsname plugin lets compose services find each other by name on podman's CNI networks (replication needs it).
if [ "${1:-}" = container ]; then
    packages+=(podman runc mmdebstrap uidmap golang-github-containernetworking-plugin-dnsname)
fi
if [ "${1:-}" = bench ]; then
    packages+=(nginx wrk)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "error: missing packages ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
