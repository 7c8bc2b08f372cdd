"""The README's production processes as real subprocesses for tests: gunicorn
serving `wsgi:app` with `-c python:app.serving`, and `huey_consumer wsgi.huey`.

Each runs in a process group of its own, so that stopping it stops all of its
processes; `stop` is safe to call on one that already died. A gunicorn binds
port 0 and the test reads the port it got from its log, so no two runs on
one machine ever race for a port.
"""
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
ACCESS = re.compile(r"access pid=<?(\d+)>? status=(\d+) \w+ (\S+)")


class Process:
    """A command in its own process group, its output in a log file."""

    def __init__(self, command, env, log_path):
        self.log_path = str(log_path)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=dict(os.environ, **env), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def running(self):
        return self.process.poll() is None

    def kill(self):
        """SIGKILL the whole group at once (a crash, a lost machine)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, timeout=15):
        """Stop cleanly (SIGTERM) or, after timeout, kill."""
        if self.running():
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def wait_until(condition, process, timeout, what):
    """Poll condition until truthy; fail with the process's log if it dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if not process.running():
            raise AssertionError("%s: the process exited (%s):\n%s" % (
                what, process.process.returncode, process.log()[-3000:]))
        time.sleep(0.05)
    raise AssertionError("%s: not within %d s:\n%s" % (what, timeout, process.log()[-3000:]))


class Gunicorn(Process):
    """`gunicorn -c python:app.serving … wsgi:app` on a port of its own (and no
    control socket: the default one is per user, and tests run many at once)."""

    def __init__(self, env, log_path, *args):
        command = [os.path.join(BIN, "gunicorn"), "-c", "python:app.serving",
                   "--bind", "127.0.0.1:0", "--no-control-socket", "--access-logfile", "-",
                   "--access-logformat", "access pid=%(p)s status=%(s)s %(m)s %(U)s",
                   *args, "wsgi:app"]
        super().__init__(command, env, log_path)
        self.port = None

    def ready(self, workers, timeout=60):
        """Wait until it listens and all its worker processes have booted."""
        self.port = int(wait_until(lambda: LISTENING.search(self.log()), self, timeout,
                                   "gunicorn listening").group(1))
        wait_until(lambda: len(self.worker_pids()) >= workers, self, timeout,
                   "%d gunicorn workers booted" % workers)
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def worker_pids(self):
        return {int(pid) for pid in BOOTED.findall(self.log())}

    def served_by(self, path, status=None, since=0):
        """The pids of the worker processes that answered requests for path
        (logged after the first `since` characters of the log)."""
        return {int(pid) for pid, code, where in ACCESS.findall(self.log()[since:])
                if where == path and (status is None or int(code) == status)}


class Consumer(Process):
    """The README's worker: `huey_consumer wsgi.huey` with its flags."""

    def __init__(self, env, log_path):
        command = [os.path.join(BIN, "huey_consumer"), "wsgi.huey", "--workers", "4",
                   "--worker-type", "thread", "--delay", "0.05", "--max-delay", "0.05",
                   "--backoff", "1"]
        super().__init__(command, env, log_path)
