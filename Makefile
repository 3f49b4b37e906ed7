# prefactor: PostgreSQL extension (PGXS)
EXTENSION = prefactor
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" prefactor.control)

MODULE_big = prefactor
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

DATA = $(sort $(wildcard sql/prefactor--*.sql))

# pg_regress suites: sql/<name>.sql with expected/<name>.out, run in this order
REGRESS = $(shell cat test/regress_schedule)
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql

PG_CPPFLAGS = -Isrc -Wno-declaration-after-statement
SHLIB_LINK = -ljson-c -lpcre2-8

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: deps run stop test

deps:
	@scripts/install-deps

# A persistent local cluster with the extension and sample runs.
run: deps
	$(MAKE) all
	$(MAKE) install
	scripts/local-cluster start

stop:
	scripts/local-cluster stop

# Every suite against a throwaway cluster; last line "N passed, N failed".
test: deps
	$(MAKE) all
	$(MAKE) install
	test/run-all
