# pnonboard — the two commands a newcomer needs are `make run` and `make test`.

GO        ?= go
BIN       := bin/server
STATICCHECK_VERSION := v0.8.2
TEST_TIMEOUT ?= 20m
# The race detector needs cgo; use it wherever a C compiler is installed.
RACE := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: run test build lint bench clean

# ADDR is where make run serves: make run ADDR=127.0.0.1:8081 when 8080 is taken.
ADDR ?= 127.0.0.1:8080

## run: pnonboard in dev mode (local Postgres under .devdata/, PubNub sandbox, workers, API, dev key); ADDR=host:port
run: build
	@./scripts/ensure-postgres.sh run
	exec ./$(BIN) dev --addr $(ADDR)

## test: the whole suite (with -race where cgo works); starts its own throwaway Postgres (or uses TEST_DATABASE_URL)
## and drives headless Chromium for the console's browser tests (ensure-postgres.sh test installs both when missing)
test:
	@./scripts/ensure-postgres.sh test
	$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 10s ./internal/api && $(GO) test -run '^$$' -fuzz '^FuzzParams$$' -fuzztime 8s ./internal/api

## build: a static binary at bin/server
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/server

## bench: ingest, drain, burst, budget, adoption, drift, token-grant and usage benchmarks (flags: BENCH_FLAGS="-c 32 -t 10s -k 200 -r 600 -only drift")
bench: build
	@./scripts/ensure-postgres.sh run
	$(GO) run ./cmd/bench $(BENCH_FLAGS)

## lint: gofmt, go vet and staticcheck (fetched through the Go toolchain)
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin
