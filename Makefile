# facteur: a thin wrapper around CMake + Ninja + ctest.
#
#   make            build build/facteur
#   make run        install missing build deps (root), build, run the demo
#   make check      install test deps, build, run every test
#   make bench      side by side with Postfix (and later Dovecot)
#   make fuzz       run each fuzz target for FUZZ_SECONDS (default 60)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60
SMOKE_SECONDS ?= 15
CONF ?= etc/facteur.conf
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all build run check unit integration asan fuzz fuzz-smoke bench \
	install clean deps

all: build

build:
	@test -f build/build.ninja || cmake -S . -B build -G Ninja
	ninja -C build

deps:
	sh scripts/deps.sh build

run: deps build
	sh scripts/run-demo.sh $(CONF)

check:
	sh scripts/deps.sh test
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) asan
	$(MAKE) fuzz-smoke
	@echo "make check: all tests passed"

unit: build
	cd build && ctest --output-on-failure -j2

integration: build
	FACTEUR_BIN=$(CURDIR)/build/facteur sh scripts/pytest.sh tests/integration

asan:
	@test -f build-asan/build.ninja || \
		cmake -S . -B build-asan -G Ninja -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	ninja -C build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j2
	FACTEUR_BIN=$(CURDIR)/build-asan/facteur FACTEUR_SANITIZED=1 \
		sh scripts/pytest.sh tests/integration

build-fuzz/build.ninja:
	CC=clang cmake -S . -B build-fuzz -G Ninja -DFUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"

fuzz: build-fuzz/build.ninja
	sh scripts/deps.sh fuzz
	ninja -C build-fuzz
	sh scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke: build-fuzz/build.ninja
	ninja -C build-fuzz
	sh scripts/fuzz.sh build-fuzz $(SMOKE_SECONDS)

bench: build
	sh scripts/deps.sh bench
	sh bench/run.sh

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
