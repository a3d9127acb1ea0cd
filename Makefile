# finflow — the Makefile is the user interface. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Where the local PostgreSQL (scripts/postgres.sh) listens, unless overridden.
DATABASE_URL ?= postgres://finflow:finflow@127.0.0.1:5432/finflow?sslmode=disable
export DATABASE_URL

BIN := $(CURDIR)/.bin
BUF := $(BIN)/buf
# Every Go module in the workspace, in go.work order. An empty list is an
# error (a broken go.work must not turn `make test` into a no-op).
MODULES = $(or $(shell go list -m -f '{{.Dir}}'),$(error go list -m found no workspace modules: check go.work))
# Build tags whose code `go vet` must see too (the e2e suite, test failpoints).
GO_TAGS := e2e,failpoints
# The contract `buf breaking` compares against.
BREAKING_AGAINST ?= .git\#branch=main

# Each area keeps its own targets in mk/*.mk (demo, observability, e2e, bench).
-include mk/*.mk

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- tools, pinned in tools/go.mod and built into .bin/ -------------------
$(BIN)/buf $(BIN)/protoc-gen-go: tools/go.mod tools/go.sum
	GOWORK=off go -C tools build -o $(BIN)/ github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go
	@touch $(BIN)/buf $(BIN)/protoc-gen-go

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go ## build the pinned code generators into .bin/

# --- contract -------------------------------------------------------------
.PHONY: generate
generate: tools ## regenerate gen/ from proto/ with buf
	rm -rf gen/finflow
	$(BUF) generate

.PHONY: check-generated
check-generated: generate ## fail when gen/ differs from what regeneration gives
	@git diff --exit-code -- gen/ || { echo "gen/ is stale: run 'make generate' and commit it" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked generated files: run 'make generate' and commit them" >&2; exit 1; }

.PHONY: lint
lint: tools ## buf lint + format + breaking (vs main), go vet and gofmt on every module
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(BUF) breaking --against '$(BREAKING_AGAINST)'
	@for m in $(MODULES); do echo "go vet $${m#$(CURDIR)/}"; (cd $$m && go vet -tags '$(GO_TAGS)' ./...); done
	@out=$$(git ls-files '*.go' | grep -v '^gen/' | xargs gofmt -l); test -z "$$out" || { echo "gofmt needed: $$out" >&2; exit 1; }

# --- database ---------------------------------------------------------------
.PHONY: postgres
postgres: ## install (if needed) and start the local PostgreSQL, create role + db
	@bash scripts/postgres.sh

.PHONY: migrate
migrate: ## apply the goose migrations to DATABASE_URL
	go run ./services/writer/cmd/writer migrate

# --- tests ------------------------------------------------------------------
.PHONY: test
test: postgres ## vet and test every Go module against a real PostgreSQL (and a real Prometheus)
	@bash scripts/prometheus.sh ensure
	@for m in $(MODULES); do \
	  echo "=== module $${m#$(CURDIR)/}"; \
	  (cd $$m && go vet -tags '$(GO_TAGS)' ./... && go test -count=1 -timeout 20m ./...) || exit 1; \
	done

# --- binaries -----------------------------------------------------------------
.PHONY: build
build: ## build producer, writer and devstack into bin/
	@mkdir -p bin
	go build -o bin/ ./services/producer/cmd/producer ./services/writer/cmd/writer ./services/devstack/cmd/devstack
