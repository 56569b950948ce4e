# Everyday tasks. `make run` and `make test` are the two set-up commands of the README.
GO        ?= go
BIN       ?= bin/stratus
PKGS      ?= ./...
BENCHTIME ?= 2s

# Every build and test here runs on the Beam that tools/prismpatch patches
# (prism's job service on loopback, refusing other processes' jobs): see
# SECURITY.md. A binary built without it refuses to start prism.
export GOFLAGS := $(shell ./scripts/goflags.sh)

.PHONY: all build run test test-quick test-integration bench lint fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/stratus

# Runs the whole system on embedded defaults: open the URL it prints.
run: build
	$(BIN) up

# The full test suite, exactly what CI runs: lint, unit, fuzz seeds, integration.
test:
	./scripts/test.sh

# Fast unit tests only (no services, no full-dataset checks).
test-quick:
	$(GO) test -short $(PKGS)

test-integration:
	./scripts/test.sh integration

bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./model/...

lint:
	./scripts/lint.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
