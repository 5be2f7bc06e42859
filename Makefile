# The two commands that matter: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
# Warnings are errors in every build the Makefile runs (see Package.swift).
export SITELOC_STRICT := 1

.PHONY: all deps build demo test bench schema format image container-test fuzz

all: build

deps:
	@scripts/install-deps.sh

build: deps
	swift build

## The whole story on a private lab directory, started and stopped by siteloc itself.
demo: build
	.build/debug/siteloc demo

## Everything: format check, build without warnings, unit and integration tests against real slapd.
test: deps
	scripts/test.sh

## The container image (localhost/siteloc-slapd:latest), built with podman from a Debian base made by mmdebstrap.
image: deps
	scripts/install-deps.sh container
	swift build -c release --static-swift-stdlib --product siteloc-serve --scratch-path .build-static
	podman image exists localhost/siteloc-base:bookworm-smb-sqlite || { \
	    mmdebstrap --variant=apt --include=slapd,ldap-utils,ca-certificates,libsmbclient,libsqlite3-0 bookworm /tmp/siteloc-base.tar \
	    && podman import /tmp/siteloc-base.tar localhost/siteloc-base:bookworm-smb-sqlite && rm -f /tmp/siteloc-base.tar; }
	podman --runtime runc build --format docker --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
	    --build-arg BASE_IMAGE=localhost/siteloc-base:bookworm-smb-sqlite -f Docker/Dockerfile -t localhost/siteloc-slapd:latest .

## The image tested for real with podman (part of `make test`).
container-test: deps
	scripts/container-test.sh

## libFuzzer on the hierarchy reader, the job-file parser and DN/filter escaping, FUZZ_SECONDS each (default 300).
fuzz: deps
	scripts/fuzz.sh

## Wrapper against raw libldap on the same queries, in one run (release build).
bench: deps
	scripts/install-deps.sh bench
	swift run -c release siteloc-bench

## Regenerate Schema/ from the one source (Sources/DirectorySchema).
schema: build
	.build/debug/siteloc schema print --format ldif > Schema/siteloc.ldif
	.build/debug/siteloc schema print --format schema > Schema/siteloc.schema
	.build/debug/siteloc schema print --format indexes > Schema/siteloc-indexes.ldif

format:
	swift format format --in-place --recursive Package.swift Sources Tests Benchmarks Fuzz/Package.swift Fuzz/Sources
