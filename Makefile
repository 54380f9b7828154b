# el-monitor: `make demo` and `make test` work on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test bench lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The main job on the embedded default (SQLite), with the bundled schemas, the example catalog
# (sampling, owners) and sample traffic.
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== JSON lines: examples/traffic/events.jsonl"
	$(VENV)/bin/el-monitor --config examples/el-monitor.toml forward --schemas examples/schemas \
	    --input file://$(CURDIR)/examples/traffic/events.jsonl \
	    --db sqlite:///$(DEMO)/el-monitor.db --log-dir $(DEMO)/logs
	@echo "== EventLogging raw client lines: examples/traffic/client.log"
	$(VENV)/bin/el-monitor --config examples/el-monitor.toml forward --schemas examples/schemas \
	    --input file://$(CURDIR)/examples/traffic/client.log \
	    --format '%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i' \
	    --db sqlite:///$(DEMO)/el-monitor.db --log-dir $(DEMO)/logs
	@echo "== stored in $(DEMO)/el-monitor.db; event logs in $(DEMO)/logs; policy per schema:"
	$(VENV)/bin/el-monitor --config examples/el-monitor.toml schemas --schemas examples/schemas \
	    --db sqlite:///$(DEMO)/el-monitor.db

# The MariaDB and NATS JetStream servers the tests and benchmarks use (started when none
# answers), in the environment of the command that follows.
WITH_SERVERS = url=$$(scripts/ensure-mariadb) && nats=$$(scripts/ensure-nats || echo nats://127.0.0.1:4222) \
	&& EL_TEST_MYSQL_URL=$$url EL_TEST_NATS_URL=$$nats

# Installs what the tests need (Python packages, Debian's graphite-carbon, graphite-web and
# icinga2-bin when root, a MariaDB server and a NATS JetStream server when none answers), then
# runs them all (the NATS tests skip, saying why, when no NATS server can be had).
test: $(STAMP)
	scripts/ensure-monitoring
	$(WITH_SERVERS) $(PY) -m pytest -q

# Prints each figure with its target and verdict. Exits 0 whenever the benchmark ran: on a shared
# machine a missed timing target is information, not a build failure; a crash still fails.
bench: $(STAMP)
	$(WITH_SERVERS) $(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache *.egg-info
