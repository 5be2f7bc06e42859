# The two commands that matter: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
# Warnings are errors in every build the Makefile runs (see Package.swift).
export SITELOC_STRICT := 1

.PHONY: all deps build demo test bench schema format

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

## Wrapper against raw libldap on the same queries, in one run (release build).
bench: deps
	swift run -c release siteloc-bench

## Regenerate Schema/ from the one source (Sources/DirectorySchema).
schema: build
	.build/debug/siteloc schema print --format ldif > Schema/siteloc.ldif
	.build/debug/siteloc schema print --format schema > Schema/siteloc.schema
	.build/debug/siteloc schema print --format indexes > Schema/siteloc-indexes.ldif

format:
	swift format format --in-place --recursive Package.swift Sources Tests Benchmarks
