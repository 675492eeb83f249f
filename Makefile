# Make targets of rapyer. `make test` is the test command of the README and of
# CI (.ci/run). Tests start their own redis-server processes on free ports;
# where redis-server or redis-cli is missing the real-Redis tiers are skipped,
# unless RAPYER_REQUIRE_REDIS=1.

GO   ?= go
PKGS ?= ./...
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@latest

.PHONY: test demo bench lint fmt-check vet staticcheck staticcheck-if-online cover reliability ci

## test: every test, under the race detector, never cached; then one TIER
## line per backend (miniredis, the real redis-server, the real cluster)
## saying how many subtests ran on it, or that it was SKIPPED, from the
## records each test binary writes under RAPYER_TIER_DIR (internal/testenv).
## The exit status is go test's. The timeout is per package: rapyer's
## tests take 5-9 minutes under -race on a 2-core machine, near go test's
## default of 10.
test:
	@dir="$$(mktemp -d)"; status=0; \
	echo "$(GO) test -race -count=1 -timeout 30m $(PKGS)"; \
	RAPYER_TIER_DIR="$$dir" $(GO) test -race -count=1 -timeout 30m $(PKGS) || status=$$?; \
	echo; \
	$(GO) run ./internal/testenv/cmd/tiers "$$dir" || echo "TIER: no summary: the tier records could not be read"; \
	if [ $$status -ne 0 ]; then echo "TIER: go test failed (exit status $$status): a package that crashed wrote no record"; fi; \
	rm -rf "$$dir"; \
	exit $$status

## demo: run the example tour of the root package (example_test.go): the
## README's quick start, then every scenario of the concurrency guide, each
## narrated from its doc comment (what it does, what it printed, why that is
## right; demo_test.go), on an embedded miniredis, or on the server of
## REDIS_URL when it is set. go test still checks every // Output: comment.
demo:
	RAPYER_DEMO=1 $(GO) test -count=1 -run '^Example'

## bench: the performance table of docs/performance.md: every scenario of
## package bench beside its hand-written go-redis twin, and beside the peers
## of issue #13 (om twins, redislock, redsync, rueidislock), timed interleaved
## on a private redis-server, printed as ratios (a few minutes); the peer
## table's chart is written to docs/performance.svg (RAPYER_BENCH_SVG).
## RAPYER_BENCH_ROUNDS and RAPYER_BENCH_TIME trade time for precision;
## RAPYER_BENCH_AWAKE=1 keeps a CPU busy (=idle: SCHED_IDLE spinners on every CPU). First the table of queries
## (#14, bench/query_test.go): the 1% equality query against IDs + GetMany
## + filter, a page of 20 ordered results at each size, the bytes per index
## entry; sizes 10k and 100k, RAPYER_QUERY_SIZES=10000,100000,1000000 adds
## a million (several minutes more to load). The raw Go benchmarks, for
## profiling: go test -run '^$$' -bench . -benchmem ./bench/
bench:
	RAPYER_BENCH=1 $(GO) test -count=1 -timeout 60m -run '^(TestQueryPerformance|TestPerformanceTable)$$' -bench '^$$' -benchmem -v ./bench/

## lint: gofmt, go vet and staticcheck (staticcheck is run, not a module dependency)
lint: fmt-check vet staticcheck

fmt-check:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt -l reports unformatted files:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run $(STATICCHECK) $(PKGS)

# staticcheck when the module proxy answers, a notice when it does not: CI
# machines without network still get gofmt and vet.
staticcheck-if-online:
	@if $(GO) list -m $(subst /cmd/staticcheck,,$(STATICCHECK)) >/dev/null 2>&1; then \
		echo "$(GO) run $(STATICCHECK) $(PKGS)"; \
		$(GO) run $(STATICCHECK) $(PKGS); \
	else \
		echo "staticcheck SKIPPED: the module proxy is unreachable"; \
	fi

## cover: tests with coverage; coverage.out and the total
cover:
	$(GO) test -race -count=1 -covermode=atomic -coverprofile=coverage.out $(PKGS)
	$(GO) tool cover -func=coverage.out | tail -n 1

## reliability: the reliability suite (model-based, linearizability under
## faults, kills, SCRIPT FLUSH, slot migration, failover) and every fuzz
## target's seed corpus, then a short fuzzing run of the codec and key
## fuzzers; prints the suite's RELIABILITY summary lines
FUZZTIME ?= 10s
reliability:
	@log="$$(mktemp)"; status=0; \
	$(GO) test -race -count=1 -v -run 'Reliability|^Fuzz' $(PKGS) > "$$log" 2>&1 || status=$$?; \
	grep -E '^(ok|FAIL|--- FAIL|panic:)|REAL REDIS TIER|^RELIABILITY' "$$log"; \
	if [ $$status -ne 0 ]; then grep -E '^\s+[a-z_]+_test\.go:[0-9]+:' "$$log" | head -50; echo "reliability: the failed tests and their messages:"; grep -E -A12 '^\s*--- FAIL' "$$log" | head -120; rm -f "$$log"; exit $$status; fi; \
	rm -f "$$log"; \
	for t in 'FuzzKeyLayout ./internal/keys' 'FuzzDecodeModel ./internal/codec' 'FuzzDecode ./internal/schema'; do \
		set -- $$t; \
		flog="$$(mktemp)"; \
		if $(GO) test -run '^$$' -fuzz "^$$1\$$" -fuzztime $(FUZZTIME) $$2 > "$$flog" 2>&1; then \
			echo "RELIABILITY fuzzed $$1 for $(FUZZTIME): no failure"; \
		elif [ -n "$$(git status --porcelain -- "$$2/testdata/fuzz/$$1" 2>/dev/null)" ]; then \
			echo "fuzzing $$1 found a failing input:"; tail -n 30 "$$flog"; rm -f "$$flog"; exit 1; \
		else \
			echo "RELIABILITY fuzzing $$1 stopped without writing a failing input (a fuzzing-engine error such as a deadline hit while a worker was busy, not a bug found):"; grep -v -E '^(FAIL|--- FAIL|ok|PASS|exit status)' "$$flog" | tail -n 3 | sed 's/^/    /'; \
		fi; \
		rm -f "$$flog"; \
	done

## ci: lint (staticcheck only when online) and test
ci: fmt-check vet staticcheck-if-online test
