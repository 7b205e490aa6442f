"""A probe worker whose parent is gone before it is ready exits quietly (issue 16: a small
poll ended before the background-warmed worker sent READY, and it printed a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import safetymonth

ROOT = Path(safetymonth.__file__).resolve().parent.parent


def test_worker_whose_parent_closed_its_pipes_exits_without_a_traceback() -> None:
    requests_in, requests_out = os.pipe()
    replies_in, replies_out = os.pipe()
    os.close(replies_in)  # the parent is gone: nobody will ever read READY
    os.close(requests_out)  # ...nor send a task
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "safetymonth.validator.worker", str(requests_in),
             str(replies_out), str(2 << 30)],
            pass_fds=(requests_in, replies_out), capture_output=True, env=env, timeout=120)
    finally:
        os.close(requests_in)
        os.close(replies_out)
    assert done.stderr.decode() == ""
    assert done.returncode == 0
