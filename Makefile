# Starling: `make run` sets everything up and starts the server; `make test` runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CONFIG ?= data/starling.toml

.PHONY: all deps configure build run test test-unit test-protocol test-asan fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

configure:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARLING_TESTS=ON

build: deps configure
	ninja -C $(BUILD) -j $(JOBS)

# Writes data/starling.toml, a self-signed certificate and the SQLite database on first run,
# then serves on localhost 5222 (STARTTLS) and 5223 (direct TLS) in the foreground.
run: build
	./$(BUILD)/starlingd --config $(CONFIG)

# Every test: unit tests and black-box protocol tests, then the same under ASan+UBSan.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTARLING_SANITIZE=ON -DSTARLING_TESTS=ON >/dev/null
	ninja -C $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# libFuzzer targets (clang): make fuzz FUZZ_SECONDS=60
FUZZ_SECONDS ?= 30
fuzz:
	STARLING_FUZZ_DEPS=1 ./scripts/install-deps.sh
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSTARLING_FUZZ=ON -DSTARLING_TESTS=OFF >/dev/null
	ninja -C build-fuzz -j $(JOBS)
	for f in build-fuzz/fuzz_*; do echo "== $$f"; $$f -max_total_time=$(FUZZ_SECONDS) || exit 1; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
