"""Installing as an IT admin does from the README: ``make dist``, then the .deb with
``dpkg -i`` on this machine (as root), its units checked by ``systemd-analyze verify``, the
program run as the service user against a Maildir and a real Dovecot, then ``dpkg --purge``;
and the wheel alone in a fresh virtualenv outside the checkout.

The .deb test changes this machine (a system user, /etc/safetymonth, /opt/safetymonth,
/var/lib/safetymonth) and puts it back: it purges the package and removes the store it made.
"""

from __future__ import annotations

import datetime as dt
import grp
import html
import json
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from docx import Document
from PIL import Image

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.console import log_in
from tests.support.mailservers import PASSWORD, Dovecot, drop, free_port, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / "build" / "wheelhouse"  # filled by `make test` before the tests run
STORE_HOME = Path("/var/lib/safetymonth")
UNITS = ("safetymonth-poll.service", "safetymonth-serve.service",
         "safetymonth-remind.service", "safetymonth-remind.timer")
UNIT_DIR = Path("/lib/systemd/system")
# The sender of config.yaml's first unit, and that unit (the .deb ships config.yaml's units).
SENDER, UNIT = "fuli@dhmz.example.cn", "德化县社会福利中心"


def clean_env() -> dict[str, str]:
    """The environment of a shell an admin opens: nothing pointing into this checkout."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "SAFETYMONTH_CONFIG", "VIRTUAL_ENV")
           and not key.startswith("SAFETYMONTH_")}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def run(*args: str | Path, check: bool = True,
        **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``args`` in a clean environment (unless ``env=``); with ``check``, exit 0 or fail with
    the output."""
    kwargs.setdefault("env", clean_env())
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True,
                            **kwargs)  # type: ignore[call-overload]
    if check:
        assert result.returncode == 0, \
            f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make dist`` into a temp folder: the wheel and the .deb."""
    folder = tmp_path_factory.mktemp("dist")
    run("make", "-C", ROOT, "dist", f"DIST={folder}",  # no network: `make test` filled the
        env={**clean_env(), "HOME": "/root", "PIP_NO_INDEX": "1"})  # wheelhouse before
    return folder


def the_deb(dist: Path) -> Path:
    arch = run("dpkg", "--print-architecture").stdout.strip()
    (deb,) = dist.glob(f"safetymonth_*_{arch}.deb")
    return deb


def the_wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("safetymonth-*-py3-none-any.whl")
    return wheel


# --- the wheel -----------------------------------------------------------------------------


def test_the_wheel_holds_every_file_the_program_reads(dist: Path) -> None:
    """Every file of the package in git (templates, static files, migrations, the document
    examples, fonts.conf) is in the wheel: an installed program has nothing else."""
    listed = run("git", "-C", ROOT, "ls-files", "safetymonth").stdout.split()
    expected = {name for name in listed if not name.endswith(".pyc")}
    assert any(name.startswith("safetymonth/docgen/examples/") for name in expected)
    assert any("migrations/versions/" in name for name in expected)
    with zipfile.ZipFile(the_wheel(dist)) as wheel:
        inside = set(wheel.namelist())
    assert sorted(expected - inside) == []


def test_building_the_wheel_prints_no_license_deprecation(tmp_path: Path) -> None:
    """pyproject's license is the SPDX string: setuptools has nothing to warn about."""
    venv = tmp_path / "venv"
    run("/usr/bin/python3", "-m", "venv", venv)
    built = run(venv / "bin" / "python", "-m", "pip", "wheel", "-v", "--no-deps",
                "-w", tmp_path / "out", ROOT,
                env={**clean_env(), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE)})
    output = built.stdout + built.stderr
    assert "Successfully built safetymonth" in output
    assert not re.search(r"license.*deprecat|deprecat.*license", output, re.I | re.S), \
        [line for line in output.splitlines() if "license" in line.lower()]


def test_the_wheel_alone_validates_checks_and_generates(dist: Path, tmp_path: Path) -> None:
    """A fresh virtualenv outside the checkout, its dependencies from the wheels the .deb
    carries (no index): validate, check and generate run, and the console's document forms
    start from the shipped examples."""
    wheels = tmp_path / "deb"
    run("dpkg-deb", "-x", the_deb(dist), wheels)
    venv = tmp_path / "venv"
    run("/usr/bin/python3", "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--find-links",
        wheels / "opt" / "safetymonth" / "wheels", the_wheel(dist),
        env={**clean_env(), "PIP_FIND_LINKS": ""})
    work = tmp_path / "work"
    work.mkdir()
    program = venv / "bin" / "safetymonth"
    located = run(venv / "bin" / "python", "-c",
                  "import safetymonth; print(safetymonth.__file__)", cwd=work).stdout
    assert located.startswith(str(venv)), located  # not the checkout

    # validate: a photo at the default minimum passes, a phone-sized one fails (exit 1).
    Image.new("RGB", (1920, 1080), "white").save(work / "ok.jpg", quality=90)
    Image.new("RGB", (1280, 960), "white").save(work / "small.jpg", quality=90)
    checked = run(program, "validate", "--json", "ok.jpg", "small.jpg", cwd=work, check=False)
    assert checked.returncode == 1, checked.stderr
    verdicts = {Path(item["path"]).name: item for item in json.loads(checked.stdout)}
    assert verdicts["ok.jpg"]["ok"] is True
    assert verdicts["small.jpg"]["ok"] is False

    # check: runs to its end on the built-in defaults (what a first run will create).
    checkup = run(program, "check", cwd=work, check=False)
    assert checkup.returncode in (0, 1), checkup.stderr
    assert "config" in checkup.stdout and "storage.dir" in checkup.stdout, checkup.stdout

    # generate: the shipped notice example, read back with python-docx.
    example = next((venv / "lib").glob("python3.*/site-packages/safetymonth/docgen/examples"))
    notice = yaml.safe_load((example / "notice-dehua-2024.yaml").read_text(encoding="utf-8"))
    run(program, "generate", "notice", example / "notice-dehua-2024.yaml", "-o", "n.docx",
        cwd=work)
    text = "".join(paragraph.text for paragraph in Document(str(work / "n.docx")).paragraphs)
    text = text.replace("\n", "")  # the title breaks its lines by hand
    assert notice["title"].replace("\n", "") in text

    # The console's forms: from the installed examples, not empty.
    started = run(venv / "bin" / "python", "-c", (
        "import json, sys; from safetymonth.config import load_config; "
        "from safetymonth.web import documents; c = load_config(); "
        "print(json.dumps({k: documents.current_data(c, k) for k in documents.KINDS}, "
        "default=str, ensure_ascii=False))"), cwd=work)
    forms = json.loads(started.stdout)
    for kind, name in (("notice", "notice-dehua-2024.yaml"), ("letter", "letters-2024.yaml"),
                       ("summary", "summary-2024.yaml")):
        shipped = yaml.safe_load((example / name).read_text(encoding="utf-8"))
        assert set(forms[kind]) == set(shipped), kind
        assert forms[kind]["title"] == shipped["title"]


# --- the .deb --------------------------------------------------------------------------------


@pytest.fixture
def installed(dist: Path) -> Iterator[Path]:
    """The .deb installed with dpkg -i; afterwards purged and the store it made removed."""
    if run("dpkg-query", "-W", "-f=${Status}", "safetymonth", check=False).stdout \
            .endswith("installed") or STORE_HOME.exists():
        pytest.fail("safetymonth is installed here, or /var/lib/safetymonth exists: this test "
                    "installs and purges the package; remove them first")
    try:
        run("dpkg", "-i", the_deb(dist))
        yield the_deb(dist)
    finally:
        run("dpkg", "--purge", "safetymonth", check=False)
        shutil.rmtree(STORE_HOME, ignore_errors=True)


def exec_start(unit: str) -> list[str]:
    """The unit's ExecStart command line."""
    text = (UNIT_DIR / unit).read_text(encoding="utf-8")
    (line,) = re.findall(r"^ExecStart=(.+)$", text, re.M)
    return shlex.split(line)


def as_service(command: list[str], secrets: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` as systemd runs a unit's ExecStart: User=safetymonth, UMask=0077, the
    EnvironmentFile's variables, in the WorkingDirectory."""
    env = {**clean_env(), **secrets, "HOME": str(STORE_HOME)}
    return run("setpriv", "--reuid=safetymonth", "--regid=safetymonth", "--init-groups",
               "sh", "-c", 'umask 077 && exec "$@"', "sh", *command, cwd=STORE_HOME, env=env,
               check=False)


def read_secrets(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}


def next_nine_utc(zone: str, now: dt.datetime) -> str:
    """The next 09:00 in ``zone`` after ``now``, as systemd-analyze prints it in UTC."""
    local = now.astimezone(ZoneInfo(zone))
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    if nine <= local:
        nine = (local + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                      microsecond=0)
    return nine.astimezone(dt.UTC).strftime("%a %Y-%m-%d %H:%M:%S UTC")


def test_the_deb_installs_runs_as_the_service_and_purges(
        installed: Path, dovecot_server: Dovecot, mail_media: Media) -> None:
    # What dpkg installed: dependencies, user, configuration, units, the program.
    depends = run("dpkg-query", "-W", "-f=${Depends}", "safetymonth").stdout
    for package in ("python3-venv", "ffmpeg", "mediainfo", "libreoffice-writer-nogui",
                    "texlive-lang-chinese", "fonts-noto-cjk", "poppler-utils"):
        assert package in depends
    service = pwd.getpwnam("safetymonth")
    assert service.pw_uid < 1000 and service.pw_shell == "/usr/sbin/nologin"
    config, secrets = Path("/etc/safetymonth/config.yaml"), Path("/etc/safetymonth/secrets.env")
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "safetymonth").stdout
    assert str(config) in conffiles and str(secrets) in conffiles
    info = config.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640 and info.st_uid == 0
    assert grp.getgrgid(info.st_gid).gr_name == "safetymonth"
    info = secrets.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0
    for unit in UNITS:
        assert (UNIT_DIR / unit).is_file(), unit
    verified = run("systemd-analyze", "verify", *(UNIT_DIR / unit for unit in UNITS),
                   check=False)
    assert verified.returncode == 0, verified.stderr
    assert not list(Path("/etc/systemd/system").glob("*.wants/safetymonth-*"))  # not enabled
    assert Path("/usr/bin/safetymonth").is_file()

    # The timer fires at 09:00 in campaign.timezone, whatever this machine's zone is.
    zone = yaml.safe_load(config.read_text(encoding="utf-8"))["campaign"]["timezone"]
    dropin = Path("/etc/systemd/system/safetymonth-remind.timer.d/timezone.conf")
    (calendar,) = re.findall(r"^OnCalendar=(.+)$", dropin.read_text(), re.M)
    now = dt.datetime.now(dt.UTC)
    shown = run("systemd-analyze", "calendar", calendar, env={**clean_env(), "TZ": "UTC"}).stdout
    assert f"Next elapse: {next_nine_utc(zone, now)}" in shown, shown
    edited = config.read_text(encoding="utf-8").replace(f"timezone: {zone}",
                                                        "timezone: Europe/Berlin")
    config.write_text(edited, encoding="utf-8")
    run("dpkg-reconfigure", "-fnoninteractive", "safetymonth")
    assert "09:00:00 Europe/Berlin" in dropin.read_text()

    # As root on a fresh install: check runs as the service user and says what it finds.
    checkup = run("safetymonth", "check", check=False, cwd="/")
    assert "safetymonth" in checkup.stderr  # it says it switched
    assert "storage.dir" in checkup.stdout, checkup.stdout + checkup.stderr

    # The first console user, created by root, in a store that stays the service's.
    run("safetymonth", "user", "add", "zhang", "--role", "admin", cwd="/",
        input="a long passphrase 1\n")
    store = STORE_HOME / "store"
    for path in (store, *store.iterdir()):
        assert path.stat().st_uid == service.pw_uid, path

    # The poll unit's command, as systemd runs it, on the Maildir of the shipped config.
    inbox = STORE_HOME / "inbox"
    drop(inbox, "1.eml", samplemail.complete_submission(SENDER, mail_media))
    for sub in ("new", "cur", "tmp"):
        shutil.chown(inbox / sub, "safetymonth", "safetymonth")
    shutil.chown(inbox, "safetymonth", "safetymonth")
    shutil.chown(inbox / "new" / "1.eml", "safetymonth", "safetymonth")
    polled = as_service([*exec_start("safetymonth-poll.service"), "--once"],
                        read_secrets(secrets))
    assert polled.returncode == 0, polled.stdout + polled.stderr
    assert list((STORE_HOME / "outbox" / "new").iterdir())  # the reply to the unit
    report = json.loads(run("safetymonth", "report", "--json", cwd="/").stdout)
    (row,) = [unit for unit in report["units"] if unit["name"] == UNIT]
    assert row["complete"] is True, row

    # Root against a real Dovecot: the password only in secrets.env, which root's run loads.
    user = dovecot_server.add_user()
    dovecot_server.append(user, samplemail.complete_submission(
        "jiuzhu@dhmz.example.cn", mail_media))
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["mailbox"]["source"] = {"imap": {
        "host": "127.0.0.1", "port": dovecot_server.port, "security": "none", "user": user,
        "password_env": "SAFETYMONTH_IMAP_PASSWORD"}}
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    secrets.write_text(f"SAFETYMONTH_IMAP_PASSWORD={PASSWORD}\n")
    polled = run("safetymonth", "poll", "--once", cwd="/", check=False)
    assert polled.returncode == 0, polled.stdout + polled.stderr
    report = json.loads(run("safetymonth", "report", "--json", cwd="/").stdout)
    (row,) = [unit for unit in report["units"] if unit["name"] == "德化县救助管理站"]
    assert row["complete"] is True, row
    for path in store.rglob("*"):
        assert path.stat().st_uid == service.pw_uid, path
        assert not stat.S_IMODE(path.stat().st_mode) & 0o077, path

    # Upgrade (here: the same package again): the edited config is kept, a new environment
    # is swapped in for the old one, the store is untouched.
    before = Path("/opt/safetymonth/venv").resolve()
    run("dpkg", "-i", installed)
    assert "imap" in yaml.safe_load(config.read_text(encoding="utf-8"))["mailbox"]["source"]
    after = Path("/opt/safetymonth/venv").resolve()
    assert after != before and not before.exists() and (after / "bin" / "safetymonth").is_file()
    report = json.loads(run("safetymonth", "report", "--json", cwd="/").stdout)
    assert sum(unit["complete"] for unit in report["units"]) == 2

    # The serve unit's command: the console, its document forms from the shipped examples.
    port = free_port()
    command = exec_start("safetymonth-serve.service")
    command[command.index("--port") + 1] = str(port)
    env = {**clean_env(), "HOME": str(STORE_HOME)}
    console = subprocess.Popen(["setpriv", "--reuid=safetymonth", "--regid=safetymonth",
                                "--init-groups", *command], cwd=STORE_HOME, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            assert client.get("/healthz").text.strip() == "ok"
            assert log_in(client, "zhang", "a long passphrase 1").status_code == 303
            page = client.get("/documents/notice").text
        example = next(Path("/opt/safetymonth/venv/lib").glob(
            "python3.*/site-packages/safetymonth/docgen/examples/notice-dehua-2024.yaml"))
        title = yaml.safe_load(example.read_text(encoding="utf-8"))["title"]
        assert html.escape(title) in page or title in page
    finally:
        console.terminate()
        console.wait(timeout=30)

    # Purge: what the package made is gone, the store is kept.
    run("dpkg", "--purge", "safetymonth")
    for gone in (Path("/opt/safetymonth"), Path("/etc/safetymonth"), dropin.parent,
                 Path("/usr/bin/safetymonth"), *(UNIT_DIR / unit for unit in UNITS)):
        assert not gone.exists(), gone
    with pytest.raises(KeyError):
        pwd.getpwnam("safetymonth")
    with pytest.raises(KeyError):
        grp.getgrnam("safetymonth")
    assert (store / "safetymonth.db").is_file()
    assert any((store / "raw").rglob("*"))

