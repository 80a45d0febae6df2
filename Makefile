# Hazard Watch. `make run` serves the app; `make test` runs every test. Both install what is missing.
.PHONY: run test deps deps-run generate check-generated lint build clean redis-sentinel redis-cluster redis-stop

GO ?= go

run: deps-run
	./scripts/run.sh

test: deps lint
	$(GO) test -race -count=1 -timeout 40m ./...
	@echo "store, lifecycle and map tests again, on a three-master Redis Cluster:"
	HW_TEST_REDIS=cluster $(GO) test -count=1 -timeout 20m ./store ./lifecycle ./mapview

deps:
	./scripts/deps.sh test

deps-run:
	./scripts/deps.sh run

# Regenerates templ code, static assets, the offline gazetteer and the common-password list
# (outputs are committed).
generate: deps
	$(GO) tool templ fmt views
	$(GO) tool templ generate
	./scripts/assets.sh
	node scripts/gazetteer.js
	node scripts/passwords.js

# CI: regenerating must change nothing.
check-generated: generate
	@git diff --exit-code --stat -- views static geocode password tailwind.config.js || \
	  (echo "generated files are stale: run 'make generate' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- views static geocode password)" || \
	  (git status --porcelain -- views static geocode password; echo "generate produced untracked files: commit them" >&2; exit 1)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o bin/hazardwatch ./cmd/hazardwatch

clean:
	rm -rf bin e2e/.artifacts

# Local Redis topologies on loopback (see docs/redis.md); each prints the environment for make run.
redis-sentinel: deps-run
	./scripts/redis-topology.sh sentinel

redis-cluster: deps-run
	./scripts/redis-topology.sh cluster

redis-stop:
	./scripts/redis-topology.sh stop
