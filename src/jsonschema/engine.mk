# engine.mk - make fragment for the prefactor JSON Schema engine.
# Included by the top-level (PGXS) Makefile; run from the repository root.
# Only JS_-prefixed variables and engine-* / conformance targets are defined.
# Including this file does not change the including Makefile's default goal.

JS_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

JS_ENGINE_DIR  := src/jsonschema
JS_ENGINE_SRCS := $(JS_ENGINE_DIR)/js_alloc.c \
                  $(JS_ENGINE_DIR)/js_value.c \
                  $(JS_ENGINE_DIR)/js_decimal.c \
                  $(JS_ENGINE_DIR)/js_uri.c \
                  $(JS_ENGINE_DIR)/js_regex.c \
                  $(JS_ENGINE_DIR)/js_format.c \
                  $(JS_ENGINE_DIR)/js_format_idn.c \
                  $(JS_ENGINE_DIR)/js_ref.c \
                  $(JS_ENGINE_DIR)/js_metaschemas.c \
                  $(JS_ENGINE_DIR)/js_compile.c \
                  $(JS_ENGINE_DIR)/js_compile_problems.c \
                  $(JS_ENGINE_DIR)/js_compile_dialect.c \
                  $(JS_ENGINE_DIR)/js_compile_refs.c \
                  $(JS_ENGINE_DIR)/js_compile_applicators.c \
                  $(JS_ENGINE_DIR)/js_compile_assertions.c \
                  $(JS_ENGINE_DIR)/js_validate.c \
                  $(JS_ENGINE_DIR)/js_validate_errors.c \
                  $(JS_ENGINE_DIR)/js_validate_scalar.c \
                  $(JS_ENGINE_DIR)/js_validate_array.c \
                  $(JS_ENGINE_DIR)/js_validate_object.c \
                  $(JS_ENGINE_DIR)/js_validate_logic.c \
                  $(JS_ENGINE_DIR)/js_validate_uneval.c \
                  $(JS_ENGINE_DIR)/js_jsonc.c
JS_ENGINE_HDRS := $(JS_ENGINE_DIR)/jsonschema.h $(JS_ENGINE_DIR)/js_internal.h \
                  $(JS_ENGINE_DIR)/js_jsonc.h
JS_ENGINE_LIBS  = -ljson-c -lpcre2-8 -lidn2

JS_BUILD     ?= build/jsonschema
JS_CC        ?= cc
JS_CFLAGS    ?= -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -O2 -g
JS_LIBM       = -lm
JS_VALGRIND  ?= valgrind --leak-check=full --errors-for-leak-kinds=all \
                --error-exitcode=1 --quiet
JS_RUNNER     = $(JS_BUILD)/conformance-runner
JS_UNIT       = $(JS_BUILD)/test-engine
JS_RUNNER_SRC = test/conformance/runner.c
JS_UNIT_SRC   = test/engine/test_engine.c

$(JS_RUNNER): $(JS_ENGINE_SRCS) $(JS_ENGINE_HDRS) $(JS_RUNNER_SRC)
	@mkdir -p $(JS_BUILD)
	$(JS_CC) $(JS_CFLAGS) -o $@ $(JS_RUNNER_SRC) $(JS_ENGINE_SRCS) $(JS_ENGINE_LIBS) $(JS_LIBM)

$(JS_UNIT): $(JS_ENGINE_SRCS) $(JS_ENGINE_HDRS) $(JS_UNIT_SRC)
	@mkdir -p $(JS_BUILD)
	$(JS_CC) $(JS_CFLAGS) -o $@ $(JS_UNIT_SRC) $(JS_ENGINE_SRCS) $(JS_ENGINE_LIBS) $(JS_LIBM)

.PHONY: engine-unit conformance conformance-formats valgrind-conformance engine-clean

# build and run the engine unit tests
engine-unit: $(JS_UNIT)
	$(JS_UNIT)

# run the JSON-Schema-Test-Suite (required tests of 2020-12, 2019-09, 7, 6 and 4)
conformance: $(JS_RUNNER)
	$(JS_RUNNER)

# same, plus the optional format tests (reported, not gated)
conformance-formats: $(JS_RUNNER)
	$(JS_RUNNER) --formats

# the full conformance run (+ optional format tests) and the unit tests
# under valgrind; fails on any leak or memory error
valgrind-conformance: $(JS_RUNNER) $(JS_UNIT)
	$(JS_VALGRIND) $(JS_RUNNER) --formats
	$(JS_VALGRIND) $(JS_UNIT)

engine-clean:
	rm -rf $(JS_BUILD)

# restore the includer's default goal (our rules must not become "make"'s default)
.DEFAULT_GOAL := $(JS_SAVED_DEFAULT_GOAL)
