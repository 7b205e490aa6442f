"""Profile ``safetymonth poll --once`` over a Maildir of N messages (a quick loop for the
storage benchmark of bench/intake.py; not a benchmark itself).

    .venv/bin/python bench/profile_intake.py [--messages 200] [--code DIR] [--top 40]
                                             [--sort tottime|cumulative] [--database URL]
                                             [--sql FILE] [--dump FILE]

``--code`` is a source tree to run (``git worktree add /tmp/rel ef824d8`` for the release
before the storage package); the default is this tree. Prints the wall time, how many SQL
statements the driver ran (SQLite only; ``--sql FILE`` lists them; each row of an
executemany counts as one, as the driver runs it) and cProfile's top entries.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from safetymonth.mailbox import samplemail  # noqa: E402
from tests.support.mailservers import drop, write_config  # noqa: E402

# Counts the statements the sqlite3 driver runs (trace callback), then runs the CLI under
# cProfile and prints its top entries.
CHILD = """
import cProfile, pstats, sqlite3, sys
count = [0]
sort, top, trace, dump, argv = (sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4],
                                sys.argv[5:])
statements = open(trace, "w") if trace else None
last = [None]
def seen(sql):
    # Python 3.11 reports a statement again for each trigger program it runs (the store's
    # version triggers): those echoes follow it at once and are not counted.
    if sql == last[0]:
        return
    last[0] = sql
    count[0] += 1
    if statements:
        statements.write(" ".join(sql.split()) + "\\n")
connect = sqlite3.connect
def traced(*args, **kwargs):
    connection = connect(*args, **kwargs)
    connection.set_trace_callback(seen)
    return connection
sqlite3.connect = sqlite3.dbapi2.connect = traced
sys.argv = ["safetymonth", *argv]
from safetymonth.cli import main
profile = cProfile.Profile()
try:
    profile.runcall(main)
except SystemExit:
    pass
sys.stderr.write(f"\\nSQL statements run by sqlite3: {count[0]}\\n")
if dump:
    profile.dump_stats(dump)
pstats.Stats(profile, stream=sys.stderr).sort_stats(sort).print_stats(top)
"""


def fill(inbox: Path, count: int, media: samplemail.Media) -> None:
    """The messages of bench/intake.py (3 attachments each), as Maildir files."""
    for index in range(count):
        parts = [samplemail.text_part(f"第{index}封"),
                 samplemail.file_part(media.document, samplemail.utf8_name(f"总结{index}.docx")),
                 samplemail.file_part(media.video, samplemail.utf8_name(f"视频{index}.mp4")),
                 samplemail.file_part(media.photo + index.to_bytes(4, "big"),
                                      samplemail.rfc2047_name(f"照片{index}.jpg"))]
        drop(inbox, f"{index:05d}.eml", samplemail.message(
            "fuli@dhmz.example.cn", f"材料{index}", parts,
            message_id=f"<bench-{index}@example.cn>"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--code", type=Path, default=REPO)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--database")
    parser.add_argument("--sql", type=Path, help="write every SQL statement run to this file")
    parser.add_argument("--dump", type=Path, help="save the profile here (for pstats)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="safetymonth-profile-") as work:
        folder = Path(work)
        write_config(folder, args.database, mailbox={
            "reply_rate_limit": {"count": 100000, "hours": 1}})
        fill(folder / "inbox", args.messages, samplemail.make_media())
        env = {**os.environ, "PYTHONPATH": str(args.code.resolve())}
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", CHILD, args.sort, str(args.top),
                              str(args.sql.resolve()) if args.sql else "",
                              str(args.dump.resolve()) if args.dump else "",
                              "--config", str(folder / "config.yaml"), "poll", "--once"],
                             env=env, cwd=args.code, capture_output=True, text=True,
                             check=False)
        elapsed = time.perf_counter() - started
    log = run.stderr
    summary = [line for line in log.splitlines() if "processed" in line][-1:]
    print(f"{args.code}: {elapsed:.2f} s wall (under cProfile), exit {run.returncode}; "
          f"{' '.join(summary)}")
    print(log[log.find("\nSQL statements"):] if run.returncode == 0 else log[-3000:])


if __name__ == "__main__":
    main()
