"""A fork server for fault injection: imports TensorFlow once, then forks a ``zoo`` command per
request, so that each of many victims costs its work, not TensorFlow's 5-8 s import.

Run as ``python tests/reliability/forkserver.py``; one JSON request per line on stdin:

    {"args": ["train", ...], "cwd": DIR, "log": FILE,
     "kill_after": SECONDS | null, "kill_at_replace": [N, "before" | "after"] | null,
     "timeout": SECONDS (default 300: a child not to be killed that hangs is killed then)}

and one JSON reply per request on stdout, once the child has ended:

    {"pid": PID, "returncode": CODE (-9: killed), "seconds": S, "replaces": N, "timed_out": B}

``kill_after`` sends SIGKILL that many seconds after the fork (a random moment of its life);
``kill_at_replace`` makes the child SIGKILL itself just before or after its Nth rename
(``os.replace`` or ``renameat2``: the commit points of ``zoo.runs.atomic``). ``replaces`` counts
the renames of a child that was not killed, so a caller can aim at all of them. The parent only
imports and never runs a TensorFlow op, so the child starts with no thread pools to inherit.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import sys
import time
import traceback

TIMEOUT = 300  # seconds a child that is not to be killed may take

PRELOAD = (
    "tensorflow",
    "onnx",
    "onnxruntime",
    "tf2onnx",
    "zoo_onnx.exporter",
    "zoo.training.callbacks",
    "zoo.cli",
    "zoo.export.orchestrate",
    "zoo.training.train",
)


def _preload() -> None:
    from zoo.training.keras_env import import_keras

    import_keras()  # first, so that TensorFlow's start-up stays quiet
    for name in PRELOAD:
        importlib.import_module(name)


def _child(request: dict, count_file: str) -> None:
    """Runs in the forked child: the zoo command, output to the request's log; never returns."""
    code = 99
    try:
        os.chdir(request.get("cwd") or ".")
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        calls = 0
        target = request.get("kill_at_replace")

        def commit(rename):
            """A rename, counted, with the kill asked for just before or after it."""
            nonlocal calls
            calls += 1
            if target and calls == target[0] and target[1] == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = rename()
            if target and calls == target[0] and target[1] == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        import zoo.runs.atomic

        real_replace, real_renameat2 = os.replace, zoo.runs.atomic._renameat2
        os.replace = lambda src, dst, **kw: commit(lambda: real_replace(src, dst, **kw))
        # a new run's folder appears, and an export replaces its predecessor, by renameat2
        zoo.runs.atomic._renameat2 = lambda a, b, flags: commit(lambda: real_renameat2(a, b, flags))
        from zoo.cli import cli

        code = cli.main(args=request["args"], prog_name="zoo", standalone_mode=False)
        with open(count_file, "w") as fh:
            fh.write(str(calls))
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 99)


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether the child ends within ``seconds``; it is left unreaped either way."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: poll instead
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return True
            time.sleep(0.005)
        return False
    try:
        return bool(select.select([fd], [], [], seconds)[0])
    finally:
        os.close(fd)


def _wait(pid: int, kill_after: float | None, timeout: float) -> tuple[int, bool]:
    """The child's wait status, and whether it outlived ``timeout``; SIGKILL it
    ``kill_after`` seconds after now (or at ``timeout``) if still alive."""
    timed_out = False
    if kill_after is not None:
        if not _ends_within(pid, kill_after):
            os.kill(pid, signal.SIGKILL)
    elif not _ends_within(pid, timeout):  # a hung child must not hang the tests
        timed_out = True
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1], timed_out


def main() -> None:
    _preload()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        count_file = request["log"] + ".replaces"
        sys.stdout.flush()
        sys.stderr.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(request, count_file)
        status, timed_out = _wait(pid, request.get("kill_after"), request.get("timeout", TIMEOUT))
        seconds = time.monotonic() - started
        replaces = None
        if os.path.exists(count_file):
            with open(count_file) as fh:
                replaces = int(fh.read() or 0)
            os.unlink(count_file)
        returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        reply = {"pid": pid, "returncode": returncode, "seconds": round(seconds, 3), "replaces": replaces}
        reply["timed_out"] = timed_out
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
