# kstreamd: one Makefile. `make` builds ./kstreamd; `make test` runs every test.
CC      ?= cc
CSTD    := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
OPT     ?= -O2 -g
PKGS    := oniguruma yaml-0.1 rdkafka libuv
CFLAGS  += $(CSTD) $(WARN) $(OPT) -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ljq -llmdb -lhttp_parser -lpthread -lm
BUILD   ?= build

LIB_SRC := $(wildcard src/util/*.c src/store/*.c src/json/*.c src/expr/*.c src/serde/*.c src/config/*.c src/topology/*.c src/engine/*.c src/testdriver/*.c src/kafka/*.c src/http/*.c)
CLI_SRC := $(wildcard src/cli/*.c) src/main.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
KSTREAMD ?= ./kstreamd

DEBIAN_PKGS := build-essential pkg-config clang libclang-rt-14-dev \
	libjq-dev jq libonig-dev libcmocka-dev \
	librdkafka-dev libyaml-dev liblmdb-dev libuv1-dev libcjson-dev \
	curl python3 graphviz strace clang-format \
	libhttp-parser-dev wrk linux-perf


.PHONY: demo man all deps test unit-test corpus-test fuzz-test fuzz asan bench bench-expr bench-state bench-compare format format-check clean

all: kstreamd

kstreamd: $(LIB_OBJ) $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# ---- the demo: NewOrderSystem, the CRM and catalogue seeds, CrmCustomerService, CustomerOrderCountService, ----
# ---- OrderEnrichService and EntityLookupService on the embedded broker; state under .run/local-state, a    ----
# ---- sample record per output topic every 5 s, queries on 127.0.0.1:7070 (configs/local.yaml: it logs a   ----
# ---- working curl line once ready); tests/integration/test_demo.py runs this command                      ----
demo: kstreamd
	./kstreamd -c topologies/new_orders.yaml -c topologies/crm_seed.yaml -c topologies/catalog_seed.yaml \
		-c topologies/crm_customer.yaml -c topologies/customer_order_count.yaml -c topologies/order_enrich.yaml \
		-c topologies/entity_lookup.yaml -E configs/local.yaml

# ---- dependencies: every Debian package the build and the tests need ----
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: missing Debian packages:$$missing"; \
		echo "deps: run 'sudo make deps' or: sudo apt-get install$$missing"; exit 2; fi
	@command -v mvn >/dev/null && command -v java >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven default-jdk-headless; \
		else echo "deps: Java and Maven are needed for the test broker"; exit 2; fi; }
	@tests/kafka/broker fetch
	@tests/conformance/describe/run.sh fetch
	@tests/conformance/run.sh fetch
	@if [ -f tests/integration/requirements.txt ]; then \
		python3 -c 'import confluent_kafka, prometheus_client' 2>/dev/null || \
		python3 -m pip install -q -r tests/integration/requirements.txt; fi
	@# bench/compare.sh: the Kafka Streams twins (Maven Central) and matplotlib for its chart (PyPI)
	@mvn -q -B -f bench/kafka-streams/pom.xml package && touch bench/kafka-streams/target/.built
	@python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q -r bench/requirements.txt

# ---- tests ----
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c)) $(BUILD)/tests/corpus
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS) -lcmocka
$(BUILD)/tests/corpus: tests/expr/corpus.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)

test: $(KSTREAMD) $(TEST_BINS)
	@KSTREAMD=$(KSTREAMD) BUILD=$(BUILD) tests/run_all.sh

unit-test: $(TEST_BINS)
	@for t in $(BUILD)/tests/test_*; do case $$t in *.d) continue ;; esac; $$t || exit 1; done

corpus-test: $(BUILD)/tests/corpus
	@$(BUILD)/tests/corpus tests/expr/corpus/*.test

# libjq 1.6 leaks a few hundred bytes when jq_compile fails (an upstream bug); nothing of ours is suppressed.
# AddressSanitizer's frames are several times larger: give the tests a 256 MB stack (deep-recursion cases).
asan:
	@ulimit -s 262144; LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	$(MAKE) --no-print-directory BUILD=build-asan KSTREAMD=build-asan/kstreamd \
		OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" build-asan/kstreamd test

build-asan/kstreamd: $(LIB_OBJ) $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- fuzzing (clang's libFuzzer) ----
FUZZ_TIME ?= 600
$(BUILD)/fuzz/fuzz_expr: tests/fuzz/fuzz_expr.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/yaml/fuzz_yaml: tests/fuzz/fuzz_yaml.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/http/fuzz_http: tests/fuzz/fuzz_http.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) -o $@ $^ $(LDLIBS)
FUZZ_YAML = FUZZ_SEEDS=tests/fuzz/yaml-corpus FUZZ_DICT= FUZZ_REGRESSIONS=tests/fuzz/yaml-regressions
FUZZ_HTTP = FUZZ_SEEDS=tests/fuzz/http-corpus FUZZ_DICT=tests/fuzz/http.dict FUZZ_REGRESSIONS=tests/fuzz/http-regressions
fuzz-test: $(BUILD)/fuzz/fuzz_expr $(BUILD)/fuzz/yaml/fuzz_yaml $(BUILD)/fuzz/http/fuzz_http
	@FUZZ_TIME=15 tests/fuzz/run.sh $(BUILD)/fuzz/fuzz_expr
	@$(FUZZ_YAML) FUZZ_TIME=5 tests/fuzz/run.sh $(BUILD)/fuzz/yaml/fuzz_yaml
	@$(FUZZ_HTTP) FUZZ_TIME=5 tests/fuzz/run.sh $(BUILD)/fuzz/http/fuzz_http
fuzz: $(BUILD)/fuzz/fuzz_expr $(BUILD)/fuzz/yaml/fuzz_yaml $(BUILD)/fuzz/http/fuzz_http
	@FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh $(BUILD)/fuzz/fuzz_expr
	@$(FUZZ_YAML) FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh $(BUILD)/fuzz/yaml/fuzz_yaml
	@$(FUZZ_HTTP) FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh $(BUILD)/fuzz/http/fuzz_http

# ---- benchmarks (never timed tests) ----
$(BUILD)/bench/expr: bench/expr.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)
bench-expr: $(BUILD)/bench/expr kstreamd
	$(BUILD)/bench/expr
	bench/expr_process.py ./kstreamd
bench-state: kstreamd
	bench/state/run.sh
# kstreamd against Kafka Streams (bench/kafka-streams/) on the real broker: ~25 min; --quick ~7 min.
# Not part of `make test`: its conformance check alone (bench/compare.sh --conformance-only) takes 50-70 s.
bench-compare: kstreamd
	bench/compare.sh
bench: bench-expr

# The language reference section of man/kstreamd.yaml.5 comes from the schema rows; the runtime keys of
# README.md and man/kstreamd.1 (between their "BEGIN runtime-keys" and "END runtime-keys" lines) from the key
# rows of src/kafka/runtime.c. tests/run_all.sh checks that all three are current.
man: kstreamd
	./kstreamd --help-topology=man > man/kstreamd.yaml.5.body
	cat man/kstreamd.yaml.5.head man/kstreamd.yaml.5.body man/kstreamd.yaml.5.tail > man/kstreamd.yaml.5
	./kstreamd --help-config=markdown | man/splice.sh README.md runtime-keys
	./kstreamd --help-config=man | man/splice.sh man/kstreamd.1 runtime-keys

# ---- formatting: .clang-format is the house style; the check runs in make test (tests/run_all.sh) ----
format:
	clang-format -i $$(tests/format/check.sh --files)
format-check:
	@tests/format/check.sh

clean:
	rm -rf build build-asan kstreamd

-include $(shell find build build-asan -name '*.d' 2>/dev/null)
