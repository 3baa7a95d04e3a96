"""`make demo` as a new user meets it (issue 11, items 17 and 18). No real broker: the demo runs on the embedded one.

The demo's command line is taken from the Makefile (`make -n demo`) and run in a scratch directory that links the
checkout's binary, topologies, configs and tools, as a fresh checkout would have them:
- its state lives under that directory's .run/ (configs/local.yaml), not in a directory shared by checkouts;
- every few seconds it logs a sample record of each output topic, key and value decoded with the topic's serdes
  (log.sample.interval.ms), e.g. a customer's count as a number;
- tools/read_topic.yaml reads any topic of the running demo's embedded broker, decoded;
- EntityLookupService answers over HTTP: the log's curl line looks a key up (issue 15), the window store counts a
  customer's orders per hour;
- a second run, on an embedded broker that starts empty, clears the stores the first run left in one line per
  service, not one line per store partition.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from conftest import kstreamd_path
from kit import REPO


def demo_command():
    """The demo target's command, as `make` would run it (without rebuilding kstreamd). Its HTTP server takes a free
    port rather than configs/local.yaml's 127.0.0.1:7070, which other checkouts' tests on this machine may hold."""
    r = subprocess.run(["make", "-s", "-n", "-o", "kstreamd", "demo"], cwd=REPO, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    cmd = shlex.split(r.stdout.replace("\\\n", " "))
    assert cmd[0] == "./kstreamd", cmd
    assert "topologies/entity_lookup.yaml" in cmd, cmd
    return cmd + ["--set", "query.listen=127.0.0.1:0"]


def http_get(url):
    """(status, parsed JSON body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class Proc:
    def __init__(self, args, cwd, logpath, env=None):
        self.logpath = logpath
        self.logf = open(logpath, "wb")
        self.proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout):
        rx = re.compile(pattern, re.M)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"exited ({self.proc.returncode}) before logging /{pattern}/:\n"
                                     + self.log()[-4000:])
            if time.time() > deadline:
                raise AssertionError(f"did not log /{pattern}/ within {timeout}s:\n" + self.log()[-4000:])
            time.sleep(0.1)

    def interrupt(self, timeout=30):
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return rc

    def kill(self):
        if self.proc.poll() is None:  # by pid only
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.logf.close()


def checkout(tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    os.symlink(kstreamd_path(), work / "kstreamd")
    for d in ("topologies", "configs", "tools"):
        os.symlink(os.path.join(REPO, d), work / d)
    return work


def test_demo_state_samples_reader_and_restart(tmp_path):
    cmd = demo_command()
    work = checkout(tmp_path)
    demo = Proc(cmd, work, str(tmp_path / "demo-1.log"))
    try:
        port = demo.wait_log(r"embedded broker at (127\.0\.0\.1:\d+)", 60).group(1)
        # Sample records, decoded: a customer's count is a number (long serde), a customer a JSON object.
        m = demo.wait_log(r'customer-order-count-service\[0\]: sample customer-order-count-v1: key "(c-\d+)", '
                          r'value (\d+)$', 60)
        assert int(m.group(2)) > 0
        demo.wait_log(r'crm-customer-service\[0\]: sample crm-customer-v1: key "c-\d+", value \{.*"customerId":"c-\d+"',
                      30)
        # OrderEnrichService: an order with its customer (from CrmCustomerService's table) and each item's product
        # (the catalogue seed's global table), and a customer's profile with CustomerOrderCountService's count.
        demo.wait_log(r'order-enrich-service\[0\]: sample order-enriched-v1: key "o-\d+", value \{.*"product":'
                      r'\{"name":"[^"]+","category":"[a-z]+","listPrice":[0-9.]+\}.*"customer":\{"name":"[^"]+"', 60)
        demo.wait_log(r'order-enrich-service\[0\]: sample customer-profile-v1: key "c-\d+", value \{"customerId":'
                      r'"c-\d+",.*"orders":[1-9]\d*\}$', 60)
        demo.wait_log(r'order-enrich-service\[0\]: sample order-item-enriched-v1: key "o-\d+", value \{.*"line":1,'
                      r'"category":"[a-z]+","listPrice":[0-9.]+\}$', 30)
        # EntityLookupService: the log's curl lines work once every service runs (the demo's own query server).
        http = demo.wait_log(r"query server listening on http://(127\.0\.0\.1:\d+) \(3 queryable stores\)", 30).group(1)
        demo.wait_log(r"ready: every service is RUNNING; its stores: curl -s http://" + re.escape(http) + "/v1/stores$",
                      60)
        path = demo.wait_log(r"ready: look a key up: curl -s http://" + re.escape(http) + r"(/v1/stores/\S+)$",
                             60).group(1)
        status, body = http_get(f"http://{http}{path}")
        assert status == 200, (path, body)
        assert path.endswith("/keys/" + urllib.parse.quote(body["key"], safe="")), (path, body)
        status, body = http_get(f"http://{http}/v1/stores")
        assert status == 200 and sorted(s["store"] for s in body["stores"]) == \
            ["customer-hourly-orders", "customer-profiles", "orders"], body
        # A customer's orders counted per hour: the window store, by a key the profiles table holds.
        status, page = http_get(f"http://{http}/v1/stores/customer-profiles?limit=1")
        assert status == 200 and len(page["records"]) == 1, page
        customer = page["records"][0]["key"]

        def counted():
            st, w = http_get(f"http://{http}/v1/stores/customer-hourly-orders/keys/{customer}/windows")
            return st == 200 and w["records"] and w

        deadline = time.time() + 30
        while not counted() and time.time() < deadline:
            time.sleep(0.5)
        w = counted()
        assert w, customer
        assert all(r["key"] == customer and r["value"] >= 1 and r["window"]["end"] - r["window"]["start"] == 3600000
                   for r in w["records"]), w
        # Any topic of the embedded broker, read from another process.
        env = dict(os.environ, TOPIC="customer-order-count-v1", VALUE="long")
        reader = Proc(["./kstreamd", "-c", "tools/read_topic.yaml", "--set", f"bootstrap.servers={port}"], work,
                      str(tmp_path / "reader.log"), env=env)
        try:
            reader.wait_log(r'KSTREAM-PEEK-0000000001: \{"topic":"customer-order-count-v1","partition":\d,'
                            r'"offset":\d+,"key":"c-\d+","value":\d+\}$', 60)
        finally:
            assert reader.interrupt() == 0, reader.log()[-3000:]
    finally:
        rc = demo.interrupt()
    assert rc == 0, demo.log()[-3000:]
    # State lives in the checkout, under .run/.
    assert (work / ".run" / "local-state" / "customer-order-count-service").is_dir(), os.listdir(work)

    # Second run: the embedded broker is empty again; the stores the first run left are cleared in one line.
    demo = Proc(cmd, work, str(tmp_path / "demo-2.log"))
    try:
        demo.wait_log(r"customer-order-count-service\[0\]: the embedded broker starts empty: cleared the state a "
                      r"previous run left in \d+ store partitions \(customer-order-count\[0,1,2\], ", 60)
        demo.wait_log(r"customer-order-count-service\[0\]: sample customer-order-count-v1: ", 60)
    finally:
        rc = demo.interrupt()
    assert rc == 0, demo.log()[-3000:]
    log = demo.log()
    # One line per service with stores: customer-order-count-service, entity-lookup-service, order-enrich-service.
    cleared = re.findall(r"(\S+)\[0\]: the embedded broker starts empty: cleared the state a previous run left", log)
    assert sorted(cleared) == ["customer-order-count-service", "entity-lookup-service", "order-enrich-service"], \
        log[-4000:]
    assert "in full" not in log, log[-4000:]
