# The two commands of the README: `make run` and `make test`. Both install
# whatever Debian 12 packages are missing, then build with CMake.
BUILD ?= build
JOBS ?= $(shell nproc)
OPENAPI_VALIDATOR = $(BUILD)/tools/openapi/node_modules/.bin/validate-api
APT_PKGS = cmake g++ make pkg-config libpoco-dev libboost-dev libfmt-dev doctest-dev \
           redis-server ansible-core openssh-server openssh-client git python3 procps \
           util-linux curl ca-certificates wrk facter clang-14 libclang-rt-14-dev \
           dpkg-dev file
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps configure build run test test-cluster sanitize fuzz install deb bench clean

deps:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# What `make run` serves with: the daemon, the CLI and the shipped plugins;
# no test suite (they are most of the build and `make test` builds them).
RUN_TARGETS = exed exectl exed_ansible exed_salt exed_agent_executor exed_common

# Foreground exed on 127.0.0.1:16808, embedded redis, ansible on localhost.
run: configure
	cmake --build $(BUILD) -j $(JOBS) --target $(RUN_TARGETS)
	$(BUILD)/core/exed -c etc/exe.conf

# Every test, TEST_JOBS at a time: the suites on sshd loopback hosts (ansible,
# release, shovey) share the RESOURCE_LOCK ssh_hosts and so run one at a
# time, the rest (each exed on a port of its own, redis on its own socket)
# beside them; the .deb test runs alone. Then every test again against a
# one-node Redis Cluster (below), then the sanitizer pass (below).
TEST_JOBS ?= 2
test: build $(BUILD)/tools/promtool $(OPENAPI_VALIDATOR)
	cd $(BUILD) && ctest -j $(TEST_JOBS) --output-on-failure --timeout 600
	$(MAKE) test-cluster
	$(MAKE) sanitize

# The cluster pass: the same tests, unchanged, with every redis-server the
# tests start (SharedRedis, exed's embedded one) a one-node Redis Cluster
# owning all 16384 slots (EXED_TEST_REDIS_CLUSTER=1, core/redis/embedded):
# a script or multi-key command that spans hash slots fails there with
# CROSSSLOT. Mostly waiting on processes, so one job more than TEST_JOBS.
CLUSTER_TEST_JOBS ?= 3
test-cluster: build $(BUILD)/tools/promtool $(OPENAPI_VALIDATOR)
	cd $(BUILD) && EXED_TEST_REDIS_CLUSTER=1 \
	  ctest -j $(CLUSTER_TEST_JOBS) --output-on-failure --timeout 600

# The daemon's own suites (unit, core API/jobs/workers, fuzz corpus replay)
# again, built with ASan + UBSan in a build dir of their own; any report
# fails the test. Leak checking is off: Poco's singletons live until exit.
SAN_BUILD ?= build-asan
# Compiles third-party examples out of tree: slow, and nothing of ours runs there.
SAN_SKIP ?= examples build out of tree
SAN_TARGETS = exed exed_unit_tests exed_core_tests exed_fuzz_replays
sanitize: deps $(BUILD)/tools/promtool $(OPENAPI_VALIDATOR)
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Sanitize -DEXED_SANITIZE=ON \
	  -DEXED_TOOLS_DIR=$(abspath $(BUILD))/tools
	cmake --build $(SAN_BUILD) -j $(JOBS) --target $(SAN_TARGETS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest -j $(TEST_JOBS) -R '^(unit|core|fuzz replay):' -E '$(SAN_SKIP)' --output-on-failure --timeout 900

# libFuzzer (clang) over host patterns, the router + validation, config
# parsing and the NDJSON/SSE writer, FUZZ_SECONDS each (tests/fuzz/run).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEXED_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++-14
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target exed_fuzzers
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

# promtool (checks /metrics in the tests), taken from Debian's prometheus
# package without installing it (that would start a Prometheus server).
$(BUILD)/tools/promtool:
	@mkdir -p $(BUILD)/tools/deb && chmod 777 $(BUILD)/tools/deb
	cd $(BUILD)/tools/deb && { apt-get download -q prometheus || { $(SUDO) apt-get update -q && apt-get download -q prometheus; }; }
	dpkg-deb -x $(BUILD)/tools/deb/prometheus_*.deb $(BUILD)/tools/deb/x
	cp $(BUILD)/tools/deb/x/usr/bin/promtool $@ && rm -rf $(BUILD)/tools/deb

# A standard OpenAPI 3 validator (npm) for the /openapi.json test.
$(OPENAPI_VALIDATOR):
	npm install -q --no-audit --no-fund --prefix $(BUILD)/tools/openapi @seriousme/openapi-schema-validator@2.11.0

install: build
	cmake --install $(BUILD)

# exed_<version>_amd64.deb in $(BUILD)/deb (packaging/deb.cmake).
deb: build
	cd $(BUILD) && cpack -G DEB

bench: build
	bench/run

clean:
	rm -rf $(BUILD)
