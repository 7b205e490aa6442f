"""Benchmark: ``report --json`` with deliverables and groups on a campaign-sized store.

    .venv/bin/python bench/report.py [--units 2000] [--files 100000] [--groups 40]

The store is filled as ``bench/console.py`` fills it (synthetic records through the
repository, five files a message), under a config of the Dehua kind: a 经验做法 owed by each
group (documents whose name holds ``-7``), a summary (the other documents), 3 photos and a
video, ``--groups`` groups each with an address of its own. Measured: ``safetymonth report
--json`` as a process (wall time, start-up included), ``report_from_repository`` in this
process, and the first open after the deliverables change (every file assigned again). The
peer: the same report under the ``completion:`` shorthand. Target: ``report --json`` ≤ 2 s.
"""

from __future__ import annotations

import argparse
import compileall
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.console import fill, write_config  # noqa: E402
from safetymonth.config import load_config  # noqa: E402
from safetymonth.report import report_from_repository  # noqa: E402
from safetymonth.storage.repository import open_repository  # noqa: E402

DELIVERABLES = [
    {"id": "experience", "name": "经验做法", "kind": "document", "deadline": "2024-06-05",
     "owed_by": "group", "match": ["-7"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document"},
    {"id": "photos", "name": "活动照片", "kind": "photo", "count": 3},
    {"id": "videos", "name": "活动视频", "kind": "video"}]


def configure(path: Path, groups: int, deliverables: bool) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["groups"] = [{"id": f"g{number:02d}", "name": f"测试乡镇{number:02d}",
                       "emails": [f"group{number}@bench.example.cn"]} for number in range(groups)]
    for number, unit in enumerate(data["units"]):
        unit["group"] = f"g{number % groups:02d}"
    data["campaign"] = {"deadline": "2024-06-24"}
    if deliverables:
        data["campaign"]["deliverables"] = DELIVERABLES
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def cli_report(config: Path, times: int = 3) -> str:
    """Medians of wall and CPU seconds (the child's user + system: on a shared, loaded
    machine the wall time says more about the other processes than about this one)."""
    walls, cpus = [], []
    for _ in range(times):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "safetymonth", "--config", str(config), "report",
                        "--json"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return f"wall {statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s"


def in_process(config: Path, times: int = 5) -> str:
    settings = load_config(config)
    walls, cpus = [], []
    with open_repository(settings) as store:
        for _ in range(times):
            started, cpu = time.perf_counter(), time.process_time()
            report_from_repository(store, settings)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    return f"wall {statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s"


def first_open(config: Path) -> float:
    started = time.perf_counter()
    open_repository(load_config(config)).close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the store of the last run (filling takes minutes).")
    args = parser.parse_args()
    # The package's bytecode, as an installed wheel has it: with PYTHONDONTWRITEBYTECODE set
    # (as on the shared VM) every run compiled its ~60 modules again (0.06-0.1 s of CPU).
    compileall.compile_dir(REPO / "safetymonth", quiet=1)
    folder = REPO / "bench" / "out" / "report"
    config = folder / "config.yaml"
    if not (args.reuse and config.exists()):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        config = write_config(folder, args.units, None)
        configure(config, args.groups, True)
        took, _ = fill(config, args.units, args.files)
        print(f"filled {args.units} units, {args.files} files in {took:.1f} s")
    configure(config, args.groups, True)
    print(f"first open after the deliverables changed: {first_open(config):.2f} s")
    print(f"report --json (process), deliverables: {cli_report(config)}")
    print(f"report_from_repository, deliverables: {in_process(config)}")
    configure(config, args.groups, False)
    print(f"first open after the deliverables changed (all files assigned again): "
          f"{first_open(config):.2f} s")
    print(f"report --json (process), completion shorthand (peer): {cli_report(config)}")
    print(f"report_from_repository, completion shorthand (peer): {in_process(config)}")


if __name__ == "__main__":
    main()
