# prefactor: PostgreSQL extension (PGXS)
# prefactor_sample: the sample-data generator, a companion extension that
# make run and the tests load; production databases need not carry it.
EXTENSION = prefactor prefactor_sample
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" prefactor.control)

MODULE_big = prefactor
# src/prefactor.c is the module's entry; the Postgres glue is grouped by
# domain (core, access, api, guard, risk, validation); the JSON Schema engine
# (src/jsonschema, no Postgres headers) is added below.
GLUE_DIRS = core access api guard risk validation
OBJS = src/prefactor.o $(patsubst %.c,%.o,$(sort $(foreach d,$(GLUE_DIRS),$(wildcard src/$(d)/*.c))))

# The SQL of the extension:
# - sql/install/*.sql: the sources of the newest version, joined in name order
#   into its install script. Each table's current shape is in one place there:
#   one CREATE TABLE with its comments, indexes, triggers, row-level security
#   and pg_dump registration.
# - sql/upgrade/<previous>--<newest>/*.sql: the hand-written steps of the
#   upgrade script, which runs them and then replays sql/install/. Every
#   source statement can run again on a database that has its object (CREATE
#   OR REPLACE, IF NOT EXISTS, idempotent calls); the replay runs CREATE TYPE
#   and CREATE OPERATOR only where the object does not exist yet.
# - sql/released/: the frozen scripts of released versions. At a release,
#   copy the two generated scripts there and start the next upgrade folder.
# - sql/sample/: the script of the companion extension prefactor_sample.
# (sql/*.sql, the top level, are the regression tests' inputs.)
# So a function body, view, trigger, policy, privilege or comment changes in
# its source file only, and a new table, index, type or function needs nothing
# else. What a replay cannot change is made in its source file and in a
# hand-written upgrade step: a table's columns or constraints, a changed index
# or type, a function whose arguments or result change, a view whose columns
# change, anything that goes away. The upgrade regression test proves that an
# upgraded database equals a fresh one, so a missing step fails it.
PREV_VERSION = 0.1.0
INSTALL_SOURCES = $(sort $(wildcard sql/install/*.sql))
UPGRADE_STEPS = $(sort $(wildcard sql/upgrade/$(PREV_VERSION)--$(EXTVERSION)/*.sql))
DATA = sql/released/prefactor--$(PREV_VERSION).sql sql/sample/prefactor_sample--$(EXTVERSION).sql
DATA_built = build/prefactor--$(EXTVERSION).sql build/prefactor--$(PREV_VERSION)--$(EXTVERSION).sql
EXTRA_CLEAN = build/prefactor-replay.sql
# Feature files of the former layout (sql/<version>/) would be left out silently.
ifneq ($(wildcard sql/[0-9]*/*.sql),)
$(error $(wildcard sql/[0-9]*/*.sql): move these into sql/install/ (tables and types also need an upgrade step in sql/upgrade/); see the Makefile's SQL section)
endif

# pg_regress suites: sql/<name>.sql with expected/<name>.out, run in this order
REGRESS = $(shell cat test/regress_schedule)
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql

# isolation-tester suites: specs/<name>.spec with expected/<name>.out
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=plpgsql

# -I includedir: libpq-fe.h (risk alerts forwarded from a Citus worker)
PG_CPPFLAGS = -Isrc -I$(shell $(PG_CONFIG) --includedir)
# a call to an undeclared function would only fail when the library is loaded
PG_CFLAGS = -Werror=implicit-function-declaration
SHLIB_LINK = -ljson-c -lpcre2-8 -lidn2 -lpq

# The JSON Schema engine: a pure C library (no Postgres headers) linked in.
-include src/jsonschema/engine.mk
OBJS += $(patsubst %.c,%.o,$(JS_ENGINE_SRCS))

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: a header change rebuilds what includes it.
JS_ENGINE_OBJS = $(patsubst %.c,%.o,$(JS_ENGINE_SRCS))
$(filter-out $(JS_ENGINE_OBJS),$(OBJS)): $(foreach d,$(GLUE_DIRS),$(wildcard src/$(d)/*.h)) $(JS_ENGINE_HDRS)
$(JS_ENGINE_OBJS): $(JS_ENGINE_HDRS)
# The engine's functions are internal to prefactor.so: hidden, so that no
# same-named symbol of another loaded library can be bound in their place
# (PostgreSQL loads extensions with RTLD_GLOBAL). Only the glue exports fmgr
# functions.
$(JS_ENGINE_OBJS): CFLAGS += -fvisibility=hidden

# prefactor-gateway (src/gateway): the HTTP daemon that serves Prefactor's SDK
# protocol and OTLP/HTTP onto the extension's SQL functions. Built with `all`,
# installed beside the server's programs (PostgreSQL's bindir, under DESTDIR).
GATEWAY = src/gateway/prefactor-gateway
GATEWAY_SRCS = $(wildcard src/gateway/*.c)
GATEWAY_HDRS = $(wildcard src/gateway/*.h)
all: $(GATEWAY)
$(GATEWAY): $(GATEWAY_SRCS) $(GATEWAY_HDRS)
	$(CC) $(filter-out -fPIC -fvisibility=hidden,$(CFLAGS)) -Werror=implicit-function-declaration \
		-I$(includedir) -o $@ $(GATEWAY_SRCS) -L$(libdir) -lpq -lmicrohttpd -lcrypto -lz -lpthread
install: install-gateway
install-gateway: $(GATEWAY)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(GATEWAY) '$(DESTDIR)$(bindir)/prefactor-gateway'
uninstall: uninstall-gateway
uninstall-gateway:
	rm -f '$(DESTDIR)$(bindir)/prefactor-gateway'
clean: clean-gateway
clean-gateway:
	rm -f $(GATEWAY)

# The gateway's pure C parts (OTLP protobuf, gzip), tested alone by
# test/suites/gateway-unit (natively and under valgrind).
GATEWAY_UNIT = build/gateway/test-gateway-unit
GATEWAY_UNIT_SRCS = test/gateway-unit/test_otlp_proto.c src/gateway/otlp_proto.c src/gateway/gunzip.c
$(GATEWAY_UNIT): $(GATEWAY_UNIT_SRCS) src/gateway/otlp_proto.h src/gateway/gunzip.h
	@mkdir -p $(@D)
	$(CC) -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -g -o $@ $(GATEWAY_UNIT_SRCS) -lz -lm
gateway-unit: $(GATEWAY_UNIT)
	$(GATEWAY_UNIT)

.PHONY: deps run stop test install-gateway uninstall-gateway clean-gateway gateway-unit

# (The folders are prerequisites too, so that adding or removing a file rebuilds.)
build/prefactor--$(EXTVERSION).sql: sql/install $(INSTALL_SOURCES)
	@mkdir -p $(@D)
	( echo '-- generated from sql/install/*.sql by the Makefile: edit those files'; \
	  echo '\\echo Use "CREATE EXTENSION prefactor" to load this file. \\quit'; \
	  cat $(INSTALL_SOURCES) ) > $@

# The replay wraps each CREATE TYPE or CREATE OPERATOR statement (from its
# first line to the line ending in ";") so that an existing object is kept.
REPLAY = awk '\
	/^CREATE (TYPE|OPERATOR) / { print "DO $$replay$$ BEGIN EXECUTE $$create$$"; wrap = 1 } \
	wrap && /;[[:space:]]*$$/ { sub(/;[[:space:]]*$$/, "$$create$$;"); print; \
		print "EXCEPTION WHEN duplicate_object OR duplicate_function THEN NULL; END $$replay$$;"; wrap = 0; next } \
	{ print }'
# (The upgrade test also replays it on an up-to-date database: a no-op.)
all: build/prefactor-replay.sql
build/prefactor-replay.sql: sql/install $(INSTALL_SOURCES)
	@mkdir -p $(@D)
	$(REPLAY) $(INSTALL_SOURCES) > $@
build/prefactor--$(PREV_VERSION)--$(EXTVERSION).sql: sql/upgrade/$(PREV_VERSION)--$(EXTVERSION) $(UPGRADE_STEPS) \
		build/prefactor-replay.sql
	( echo '-- generated from sql/upgrade/$(PREV_VERSION)--$(EXTVERSION)/*.sql and sql/install/*.sql by the Makefile: edit those files'; \
	  echo '\\echo Use "ALTER EXTENSION prefactor UPDATE" to load this file. \\quit'; \
	  echo 'SET LOCAL search_path = prefactor, pg_catalog;'; \
	  cat $(UPGRADE_STEPS) build/prefactor-replay.sql ) > $@

deps:
	@scripts/install-deps

# A persistent local cluster with the extension and sample runs. The build's
# output goes to a log file; its end is shown when the build fails.
# PREFACTOR_DESTDIR: install there (make install DESTDIR=...) and have the
# cluster load the extension from there instead of the server's directories.
RUN_LOG = build/make-run.log
run:
	@mkdir -p build
	@echo "make run: installing dependencies, building and installing prefactor (log: $(RUN_LOG))"
	@if ! { scripts/install-deps && $(MAKE) all && \
		$(MAKE) install $${PREFACTOR_DESTDIR:+DESTDIR="$$PREFACTOR_DESTDIR"}; } > $(RUN_LOG) 2>&1; then \
		echo "make run: the build failed; the end of $(RUN_LOG):"; \
		tail -n 25 $(RUN_LOG); \
		exit 1; \
	fi
	@scripts/local-cluster start

stop:
	@scripts/local-cluster stop

# Every suite against a throwaway cluster; last line "N passed, N failed".
# The build is installed into a temporary folder (or PREFACTOR_DESTDIR) that
# the test cluster loads it from (extension_destdir): nothing is installed
# system-wide, and concurrent runs of other checkouts cannot swap the
# extension under each other. The folder is under /tmp so that the server
# (the postgres user, when run as root) can read it.
test: deps
	$(MAKE) all
	@if [ -n "$$PREFACTOR_DESTDIR" ]; then dest=$$PREFACTOR_DESTDIR; \
	else dest=$$(mktemp -d /tmp/prefactor-install.XXXXXX) && chmod 755 "$$dest" || exit 1; fi; \
	echo "make test: installing into $$dest"; \
	$(MAKE) -s install DESTDIR="$$dest" > /dev/null || exit 1; \
	PREFACTOR_DESTDIR="$$dest" test/run-all; status=$$?; \
	[ -n "$$PREFACTOR_DESTDIR" ] || rm -rf "$$dest"; \
	exit $$status
