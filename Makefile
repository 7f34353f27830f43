# The two set-up commands of README.md:
#   go run ./examples/quickstart   (the main job, on the embedded default)
#   make test                       (everything CI runs; .ci/run calls it)
GO ?= go

.PHONY: test vet unit race quickstart bench fuzz

test: vet unit race

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

# The concurrency-heavy packages again under the race detector.
race:
	$(GO) test -count=1 -race -short ./ledger/ ./workforce/ ./passport/ ./policy/ ./capability/ .

quickstart:
	$(GO) run ./examples/quickstart

# Benchmarks quoted in README.md. BENCHTIME=2s for steadier figures.
BENCHTIME ?= 1s
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) . ./ledger/ ./policy/ ./passport/ ./capability/ ./workforce/

# A short fuzz run of every fuzz target (CI runs their seeds in `unit`).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
