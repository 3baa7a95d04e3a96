"""
Fixtures for the integration tests: a real Kafka broker, unique topics per
test, and the real ./kstreamd binary started as a user would start it.

Broker: when KSTREAMD_BOOTSTRAP is set (make test starts one), that broker is
used and left alone. Otherwise a broker that is already running
(tests/kafka/broker status) is used and left running; if none runs, this
session starts one with tests/kafka/broker start and stops it at the end.

Binary: $KSTREAMD (relative paths are taken from the repository root), else
./kstreamd.
"""
import os
import re
import signal
import subprocess
import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from kit import REPO
BROKER = os.path.join(REPO, "tests", "kafka", "broker")


def kstreamd_path():
    p = os.environ.get("KSTREAMD", "./kstreamd")
    if not os.path.isabs(p):
        p = os.path.join(REPO, p)
    return p


# ---------------------------------------------------------------- broker

@pytest.fixture(scope="session")
def bootstrap():
    env = os.environ.get("KSTREAMD_BOOTSTRAP")
    if env:
        yield env
        return
    started = False
    st = subprocess.run([BROKER, "status"], capture_output=True, text=True)
    if st.returncode != 0:
        started = True
    r = subprocess.run([BROKER, "start"], capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        pytest.exit("tests/kafka/broker start failed:\n" + r.stderr[-3000:], returncode=1)
    b = r.stdout.strip().splitlines()[-1]
    try:
        yield b
    finally:
        if started:
            subprocess.run([BROKER, "stop"], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


class Topics:
    """Creates topics with a per-test suffix; deletes them (and the app's DLQ) at teardown."""

    def __init__(self, admin, uid):
        self.admin = admin
        self.uid = uid
        self.created = []

    def name(self, base):
        return f"{base}-{self.uid}"

    def create(self, base, partitions=3):
        name = self.name(base)
        fs = self.admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30)
        fs[name].result(timeout=30)
        self.created.append(name)
        # metadata propagates quickly on one node, but wait until it is visible
        deadline = time.time() + 10
        while time.time() < deadline:
            md = self.admin.list_topics(name, timeout=5)
            t = md.topics.get(name)
            if t is not None and t.error is None and len(t.partitions) == partitions:
                break
            time.sleep(0.1)
        return name

    def forget(self, name):
        self.created.append(name)

    def cleanup(self):
        if not self.created:
            return
        try:
            fs = self.admin.delete_topics(list(set(self.created)), operation_timeout=10)
            for f in fs.values():
                try:
                    f.result(timeout=15)
                except Exception:
                    pass
        except Exception:
            pass


@pytest.fixture
def uid():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def topics(admin, uid):
    t = Topics(admin, uid)
    yield t
    t.cleanup()


# ---------------------------------------------------------------- kstreamd processes

class Kstreamd:
    """One ./kstreamd process; stdout and stderr go to a log file."""

    def __init__(self, topology, bootstrap, logpath, settings=(), extra_args=()):
        self.topology = topology
        self.logpath = logpath
        # No HTTP server unless a test asks for one (query.listen=127.0.0.1:0 in `settings`): many kstreamd
        # processes run at once here, and other checkouts on this machine too, so none may take 127.0.0.1:7070.
        args = [kstreamd_path(), "-c", topology, "--set", f"bootstrap.servers={bootstrap}", "--set", "query.listen=off"]
        for s in settings:
            args += ["--set", s]
        args += list(extra_args)
        self.args = args
        self.logf = open(logpath, "wb")
        self.t0 = time.time()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=os.path.dirname(topology))
        self.pid = self.proc.pid

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def wait_log(self, pattern, timeout=30, count=1):
        """Waits until `pattern` (a regex) matches `count` times in the log; returns the matches."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            text = self.log()
            m = rx.findall(text)
            if len(m) >= count:
                return m
            if not self.alive():
                raise AssertionError(f"kstreamd exited ({self.proc.returncode}) before logging /{pattern}/:\n{text[-4000:]}")
            if time.time() > deadline:
                raise AssertionError(f"kstreamd did not log /{pattern}/ within {timeout}s:\n{text[-4000:]}")
            time.sleep(0.05)

    def wait_running(self, timeout=40):
        """Until the consumer has its (first) assignment."""
        return self.wait_log(r"assigned (\d+) partitions", timeout)

    def current_assignment(self):
        m = re.findall(r"assigned (\d+) partitions", self.log())
        return int(m[-1]) if m else None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=30):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"kstreamd (pid {self.pid}) still running after {timeout}s:\n{self.log()[-4000:]}")
        self.logf.flush()
        return rc

    def stop(self, timeout=30):
        """Graceful stop (SIGTERM); returns the exit code."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def kstreamd(bootstrap, tmp_path, request):
    """Factory: kstreamd(topology_path, *settings, extra_args=(), bootstrap=None) -> Kstreamd."""
    procs = []

    def start(topology, *settings, extra_args=(), bootstrap_override=None, defaults=True):
        sets = []
        if defaults:
            sets = ["commit.interval.ms=200", "log.summary.interval.ms=0"]
        sets += list(settings)
        logpath = str(tmp_path / f"kstreamd-{len(procs)}.log")
        p = Kstreamd(str(topology), bootstrap_override or bootstrap, logpath, sets, extra_args)
        procs.append(p)
        return p

    yield start
    for p in procs:   # by pid only, never by name
        if p.alive():
            p.kill()
        p.logf.close()
    # keep logs of failed tests visible
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for i, p in enumerate(procs):
            print(f"\n---- kstreamd #{i} log ({p.logpath}), last lines:\n" + p.log()[-3000:])


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    s = terminalreporter.stats
    n = lambda k: len([r for r in s.get(k, []) if getattr(r, "when", "call") in ("call", "setup", "teardown")])
    passed = n("passed")
    failed = n("failed") + n("error")
    xf = n("xfailed")
    terminalreporter.write_line(f"integration: {passed} passed, {failed} failed, {xf} xfailed (known kstreamd bugs)")
