# The two set-up commands of README.md:
#   go run ./examples/quickstart   (the main job, on the embedded default)
#   make test                       (everything CI runs; .ci/run calls it)
GO ?= go

.PHONY: test quickstart bench fuzz

# Starts the real test servers (scripts/services/), then vet, tests, race.
test:
	GO=$(GO) ./scripts/test.sh

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
