# Every target works from a clean clone on a machine without internet (the Go module proxy aside).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
# the build date: $SOURCE_DATE_EPOCH when set, else the commit's time (never the clock: the same
# commit gives the same binary)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH
VPKG     := github.com/element-hq/ess-airgap/internal/version
LDFLAGS  := -s -w -buildid= -X $(VPKG).Version=$(VERSION) -X $(VPKG).Commit=$(COMMIT) \
            -X $(VPKG).Date=$(shell [ -n "$(SOURCE_DATE_EPOCH)" ] && date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
GOBIN    := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
FUZZTIME ?= 20s
NPROC    := $(shell nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
# make test's temporary files: a tmpfs with room for the end-to-end tests, else $TMPDIR (Makefile's test)
TESTTMP  ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && \
              [ "$$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $$4}')" -ge 10485760 ] 2>/dev/null && echo /dev/shm)

.PHONY: all build release man test vet demo fuzz bench bench-small bench-link bench-growth bench-real clean tools

all: build

## build: static binaries bin/bundle and bin/unbundle, version stamped
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/bundle ./cmd/bundle
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/unbundle ./cmd/unbundle

## release: dist/ with static bundle and unbundle for linux/amd64, linux/arm64, darwin/amd64,
## darwin/arm64 and windows/amd64 (bundle-linux-amd64, ...), an SPDX SBOM of each (.spdx.json),
## SHA256SUMS and, with SIGN_KEY=FILE (an ed25519 OpenSSH key), SHA256SUMS.sig (namespace
## ess-airgap-release). The same commit gives byte-identical files (docs/release.md).
release:
	$(GO) run ./cmd/release -dist dist -version '$(VERSION)' -commit '$(COMMIT)' \
	  -source-date-epoch '$(SOURCE_DATE_EPOCH)' $(if $(SIGN_KEY),-sign-key '$(SIGN_KEY)')

## man: man pages of bundle and unbundle, from their command definitions, in man/ (man -l man/bundle.1)
man:
	$(GO) run ./cmd/mangen -dir man

## vet: go vet and gofmt
vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## test: everything CI runs: vet, gofmt, the race-enabled unit tests, then the end-to-end tests
## (without -race themselves, so that their in-process registries move gigabytes at a realistic
## speed; the commands of the main paths run built with -race). How it is run, and the time each
## choice saves, measured: docs/performance.md, "make test".
## - Temporary files (registries' storage, bundles) go to TESTTMP: /dev/shm when it has 10 GiB
##   free (the end-to-end tests' peak is 7 GiB), so that the registries' fsync of every file and
##   the journal's writes are not paid in every test; `make test TESTTMP=` uses $$TMPDIR.
## - The unit tests run one Go P each (GOMAXPROCS=1), as many packages at once as there are
##   CPUs: with a P per CPU in every test binary, the binaries' schedulers spin against each
##   other. The race detector still sees every race (it orders accesses by happens-before, not by
##   whether they overlapped in time); the end-to-end tests run the commands with every P.
## - GORACE=atexit_sleep_ms=0: a test binary does not sleep a second at its end for races of
##   goroutines that outlive every test (a race during a test fails that test).
test: tools vet build
	@tmp=$$(mktemp -d -p '$(or $(TESTTMP),$(or $(TMPDIR),/tmp))' ess-airgap-test.XXXXXX) && \
	  trap 'rm -rf "$$tmp"' EXIT && set -x && \
	  TMPDIR=$$tmp GOMAXPROCS=1 GORACE=atexit_sleep_ms=0 \
	    $(GO) test -race -count=1 -timeout 20m -p $(NPROC) -parallel 2 $$($(GO) list ./... | grep -v '/e2e$$') && \
	  TMPDIR=$$tmp $(GO) test -count=1 -timeout 20m -parallel 4 ./e2e

## demo: the whole job end to end on in-process registries with generated images; needs only Go
## (the Helm render check runs when helm is on PATH, and is skipped, saying so, when not)
demo:
	$(GO) run ./cmd/demo

## fuzz: each fuzz target for a bounded time (FUZZTIME, default 20s)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/digests
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/archive
	$(GO) test -run '^$$' -fuzz '^FuzzSums$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/archive
	$(GO) test -run '^$$' -fuzz '^FuzzTable$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/archive

## bench: ours vs crane, regctl, skopeo, a direct copy and the upload floor on the 2 GiB fixture,
## 3 runs, medians, CPU per GiB, ours paired with each peer of the same run (about 20 minutes with bench/serve); the
## table goes to stdout and bench/results.md; then unbundle serve against Distribution, pulled
## by crane and regctl, and by four crane pullers side by side (bench/serve-results.md)
bench: build tools
	$(GO) run ./bench -profile large -runs 3 -out bench/results.md
	$(GO) run ./bench/serve -profile large -runs 3 -out bench/serve-results.md

## bench-small: the same on the 60 MiB fixture, 1 run (under a minute), to bench/results-small.md
bench-small: build tools
	$(GO) run ./bench -profile small -runs 1 -out bench/results-small.md
	$(GO) run ./bench/serve -profile small -runs 1 -out bench/serve-results-small.md

## bench-link: the connected side behind a shaped link (40 ms round trip, 400 Mbit/s, a token per
## repository): ours, crane, regctl, skopeo and the read floor on 1 GiB, 3 runs (about 10 minutes),
## to bench/results-link.md; RTT=80ms BANDWIDTH=100 to change the link
RTT       ?= 40ms
BANDWIDTH ?= 400
bench-link: build tools
	$(GO) run ./bench -profile link -rtt $(RTT) -bandwidth $(BANDWIDTH) -out bench/results-link.md

## bench-growth: ours against the read and upload floors at 1, 2, 4 and 8 GiB (about 15 minutes,
## 60 GiB of free disk at the 8 GiB step), to bench/results-growth.md and docs/performance-growth.svg
bench-growth: build tools
	$(GO) run ./bench -profile growth -sizes 1,2,4,8 -out bench/results-growth.md

## bench-real: the large profile on layers of text, binaries and compressed files, gzip'd as
## images are (ours and the floors, 1 run), with the compression study, to bench/results-real.md
bench-real: build tools
	$(GO) run ./bench -profile large -layers real -runs 1 -paths ours,floor -out bench/results-real.md

## tools: the tools the tests drive, installed when missing: skopeo, zstd, ssh-keygen, ip
## (iproute2: the offline push runs in a network namespace), and zsh and fish (which check the
## completion scripts), from Debian's packages (apt-get: CI and a fresh machine run as root),
## regctl, crane and helm built from their Go modules (helm, not a Debian package, takes about 2
## minutes on 2 cores the first time). Cosign signatures are checked in Go by the tests
## (e2e/referrers_test.go), as cosign verify --key does without a transparency log: cosign is
## not built.
tools:
	@missing=""; for t in skopeo zstd ssh-keygen ip zsh fish; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq skopeo zstd openssh-client iproute2 zsh fish >/dev/null; \
	fi
	@command -v regctl >/dev/null || $(GO) install github.com/regclient/regclient/cmd/regctl@v0.11.7
	@command -v crane >/dev/null || $(GO) install github.com/google/go-containerregistry/cmd/crane@v0.22.1
	@command -v helm >/dev/null || $(GO) install helm.sh/helm/v4/cmd/helm@v4.3.2

clean:
	rm -rf bin dist man
