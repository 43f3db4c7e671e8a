# Quick start: `make demo` and `make test`. Each installs what is missing first.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
DEBS := cmake ninja-build g++ clang-14 pkg-config libgtest-dev libgmock-dev \
        libevent-dev libev-dev libuv1-dev libboost-dev liburing-dev wrk redis-tools python3 \
        pandoc man-db dpkg-dev

.PHONY: all deps build demo test test-asan test-tsan bench fuzz install clean format
.PHONY: package windows

all: build

# Installs the Debian packages the build needs, only those missing.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSN_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/examples/mt_tcp_server

test: build
	ctest --test-dir $(BUILD) --output-on-failure

# psn side by side with raw epoll and the peer libraries; prints a table.
bench: build
	./$(BUILD)/bench/psn-bench --json $(BUILD)/bench.json --svg $(BUILD)/bench.svg

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPSN_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DPSN_BUILD_BENCH=OFF"

# The whole suite under ThreadSanitizer.
test-tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DPSN_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSN_BUILD_BENCH=OFF"

# Coverage-guided fuzzing of the C interface (clang, libFuzzer) for FUZZ_TIME seconds.
FUZZ_TIME ?= 60
FUZZ_DEBS := clang-14 libclang-rt-14-dev
fuzz:
	$(MAKE) deps DEBS="$(DEBS) $(FUZZ_DEBS)"
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSN_WERROR=ON \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DPSN_SANITIZE=address,undefined -DPSN_BUILD_FUZZER=ON -DPSN_FUZZ_SECONDS=$(FUZZ_TIME) \
	  -DPSN_BUILD_BENCH=OFF -DPSN_BUILD_EXAMPLES=OFF
	cmake --build build-fuzz --target fuzz

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')

clean:
	rm -rf build build-asan build-tsan build-fuzz build-package build-windows

# Debian packages libpsn0 and libpsn-dev (CPack), built in $(PACKAGE_BUILD)
# with prefix /usr; see docs/packaging.md.
PACKAGE_BUILD ?= build-package
PACKAGE_DEBS := cmake ninja-build g++ pkg-config liburing-dev python3 pandoc dpkg-dev
package:
	$(MAKE) deps DEBS="$(PACKAGE_DEBS)"
	cmake -S . -B $(PACKAGE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSN_WERROR=ON \
	  -DCMAKE_INSTALL_PREFIX=/usr -DPSN_BUILD_TESTS=OFF -DPSN_BUILD_EXAMPLES=OFF -DPSN_BUILD_BENCH=OFF
	cmake --build $(PACKAGE_BUILD) -j $(JOBS)
	rm -f $(PACKAGE_BUILD)/*.deb
	cd $(PACKAGE_BUILD) && cpack -G DEB
	@ls -1 $(PACKAGE_BUILD)/*.deb

# Cross-build for x86-64 Windows with mingw-w64 in $(WINDOWS_BUILD): libpsn
# (the C++ interface over the native calls), the C examples and a C++20
# program on psn::port; then checks that they are x86-64 PE files.
WINDOWS_BUILD ?= build-windows
WINDOWS_DEBS := g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64 file
windows:
	$(MAKE) deps DEBS="cmake ninja-build $(WINDOWS_DEBS)"
	cmake -S . -B $(WINDOWS_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSN_WERROR=ON \
	  -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
	cmake --build $(WINDOWS_BUILD) -j $(JOBS)
	ctest --test-dir $(WINDOWS_BUILD) --output-on-failure
