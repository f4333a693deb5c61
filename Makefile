# Two commands: `make run` and `make test`. Everything else is a step they take.
JOBS ?= $(shell nproc)
DATA_DIR ?= ./berth-data
LISTEN ?= 127.0.0.1:5000
RELEASE := build/release
ASAN := build/asan

.PHONY: run test build build-asan deps test-deps unit integration bench clean

run: build
	$(RELEASE)/berth serve --data-dir $(DATA_DIR) --listen $(LISTEN)

# The release build is part of the test run so a warning that only -O3 raises cannot
# break `make run` unnoticed.
test: test-deps build build-asan
	cd $(ASAN) && ctest --output-on-failure -j $(JOBS) --timeout 900

unit: test-deps build-asan
	cd $(ASAN) && ctest --output-on-failure -j $(JOBS) -L unit

integration: test-deps build-asan
	cd $(ASAN) && ctest --output-on-failure -L integration

deps:
	@scripts/deps.sh

test-deps:
	@scripts/deps.sh --test

build: deps
	@cmake -S . -B $(RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(RELEASE) --target berth -j $(JOBS)

# One sanitizer build serves the unit and the integration tests.
build-asan:
	@cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)

bench: test-deps build
	BERTH_AUTH_CMD="$${BERTH_AUTH_CMD-bench/berth-login.sh}" bench/run.sh

clean:
	rm -rf build
