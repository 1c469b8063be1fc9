# Every target works from a clean clone on a machine without internet (the Go module proxy aside).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/element-hq/ess-airgap/internal/version.Version=$(VERSION)
GOBIN    := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
FUZZTIME ?= 20s

.PHONY: all build test vet demo fuzz bench bench-small bench-link bench-growth bench-real clean tools

all: build

## build: static binaries bin/bundle and bin/unbundle, version stamped
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/bundle ./cmd/bundle
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/unbundle ./cmd/unbundle

## vet: go vet and gofmt
vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## test: everything CI runs: vet, gofmt, the race-enabled unit tests, then the end-to-end tests
## (without -race themselves, so that their in-process registries move gigabytes at a realistic
## speed; the commands of the main paths run built with -race)
test: tools vet build
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/e2e$$')
	$(GO) test -count=1 -timeout 20m -parallel 4 ./e2e

## demo: the whole job end to end on in-process registries with generated images
demo: tools
	$(GO) run ./cmd/demo

## fuzz: each fuzz target for a bounded time (FUZZTIME, default 20s)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/digests
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/archive

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

## tools: the tools the tests and the demo drive, installed when missing: skopeo, zstd and
## ssh-keygen from Debian's packages (apt-get: CI and a fresh machine run as root), regctl, crane,
## helm and cosign built from their Go modules (helm and cosign, not Debian packages, take about
## 2 and several minutes on 2 cores the first time)
tools:
	@missing=""; for t in skopeo zstd ssh-keygen; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq skopeo zstd openssh-client >/dev/null; \
	fi
	@command -v regctl >/dev/null || $(GO) install github.com/regclient/regclient/cmd/regctl@v0.11.7
	@command -v crane >/dev/null || $(GO) install github.com/google/go-containerregistry/cmd/crane@v0.22.1
	@command -v helm >/dev/null || $(GO) install helm.sh/helm/v4/cmd/helm@v4.3.2
	@command -v cosign >/dev/null || $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5

clean:
	rm -rf bin
