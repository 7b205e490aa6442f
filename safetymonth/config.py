"""The configuration: pydantic models of ``config.yaml``.

The model defaults *are* the built-in defaults, and the shipped ``config.yaml`` spells out the
same values (a test keeps the two equal), so ``safetymonth validate photo.jpg`` works in any
folder. Relative paths are resolved against the folder of the config file (or the current
folder for the built-in defaults). Secrets are never read from the file: an IMAP or SMTP block
names the environment variable that holds the password.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from safetymonth.deliverables import Deliverable, Reminders, problems
from safetymonth.groups import Group
from safetymonth.policy import (  # noqa: F401 (re-exported: config.Policy is the contract)
    ArchiveLimits,
    DocumentRule,
    PhotoRule,
    Policy,
    ProbeLimits,
    SizeRule,
    VideoRule,
    known_formats,
)
from safetymonth.roster import GroupName, RosterError, group_id, group_names, read_roster
from safetymonth.sections import ByteSize, MiB
from safetymonth.sections import Strict as _Strict
from safetymonth.uploads.settings import Uploads, Web

DEFAULT_CONFIG_NAME = "config.yaml"

class ConfigError(Exception):
    """A config file that cannot be used; the message names the key and what is expected."""




# --- mailbox ------------------------------------------------------------------------------


Security = Literal["ssl", "starttls", "none"]


class ProcessedAction(_Strict):
    """What to do on the server once a message is safely committed."""

    action: Literal["seen", "keyword", "move"] = "seen"
    keyword: str = "SafetymonthDone"
    folder: str = "Processed"


class ImapSource(_Strict):
    host: str
    port: int = 993
    security: Security = "ssl"
    user: str
    password_env: str = "SAFETYMONTH_IMAP_PASSWORD"
    folder: str = "INBOX"
    processed: ProcessedAction = ProcessedAction()
    idle: bool = True
    # Sent as IMAP ID (RFC 2971); 163.com and 126.com refuse SELECT without it.
    client_id: dict[str, str] = {"name": "safetymonth", "version": "0.1.0"}
    # Extra CA certificates (PEM) to trust, e.g. a self-signed server; None: the system's.
    ca_file: Path | None = None
    timeout: float = Field(default=60.0, gt=0)

    def password(self) -> str:
        return _secret(self.password_env)


class SmtpOutbox(_Strict):
    host: str
    port: int = 465
    security: Security = "ssl"
    user: str | None = None
    password_env: str = "SAFETYMONTH_SMTP_PASSWORD"
    timeout: float = Field(default=30.0, gt=0)
    ca_file: Path | None = None
    # Connection attempts per run, waiting backoff, 2 x backoff, ... seconds between them.
    retries: int = Field(default=3, ge=1)
    backoff: float = Field(default=2.0, ge=0)

    def password(self) -> str:
        return _secret(self.password_env)


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"the password is read from the environment variable {name}, "
                          "which is not set")
    return value


class MaildirPath(_Strict):
    """``maildir:PATH`` in the file; ``path`` is resolved against the config folder."""

    path: Path


def _maildir_or_block(value: object, block: str) -> object:
    if isinstance(value, str):
        if not value.startswith("maildir:") or not value[len("maildir:"):].strip():
            raise ValueError(f"expected 'maildir:PATH' or a '{block}:' block, got {value!r}")
        return MaildirPath(path=Path(value[len("maildir:"):].strip()))
    if isinstance(value, dict) and set(value) == {block}:
        return value[block]
    return value


class RateLimit(_Strict):
    """At most ``count`` replies to one sender within ``hours``."""

    count: int = Field(default=10, ge=1)
    hours: float = Field(default=1.0, gt=0)


class Mailbox(_Strict):
    address: str = "aqgly@mzj.example.gov.cn"
    source: MaildirPath | ImapSource = MaildirPath(path=Path("var/inbox"))
    outbox: MaildirPath | SmtpOutbox = MaildirPath(path=Path("var/outbox"))
    trusted_authserv_ids: list[str] = []
    poll_interval: float = Field(default=60.0, gt=0)
    max_message_size: ByteSize = Field(default=200 * MiB, ge=1)
    max_tries: int = Field(default=3, ge=1)
    reply_rate_limit: RateLimit = RateLimit()
    # A folder whose reply/reminder/decision templates override the built-in ones, by name.
    templates_dir: Path | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> object:
        return _maildir_or_block(value, "imap")

    @field_validator("outbox", mode="before")
    @classmethod
    def _outbox(cls, value: object) -> object:
        return _maildir_or_block(value, "smtp")


# --- the campaign and its units ----------------------------------------------------------


class Unit(_Strict):
    name: str = Field(min_length=1)
    # A short stable code: renaming a unit keeps its history (decisions) while the id stays.
    id: str | None = Field(default=None, min_length=1)
    # An exact address (unit@example.cn) or a whole domain (@example.cn).
    emails: list[str] = Field(min_length=1)
    # The group (a 乡镇 or district bureau) the unit belongs to: a ``groups:`` id.
    group: str | None = None
    # The roster's 类别 and 负责人: what a responsibility letter names.
    category: str | None = None
    leader: str | None = None

    @field_validator("emails")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [address.strip().lower() for address in value]

    @property
    def key(self) -> str:
        """How the store knows the unit: its id, else its name."""
        return self.id or self.name


class Completion(_Strict):
    """How many accepted files of each kind make a unit complete."""

    documents: int = Field(default=1, ge=0)
    photos: int = Field(default=1, ge=0)
    videos: int = Field(default=1, ge=0)


DEFAULT_DEADLINE = (6, 24)  # month, day: the Dehua notice's summaries are due 24 June


class Campaign(_Strict):
    name: str = "民政服务机构“安全管理月”活动"
    # The signature and From display name of every reply, and a phone number in it.
    office: str = "安全管理月活动办公室"
    contact: str | None = None
    # Local times in reports, exports and replies.
    timezone: str = "Asia/Shanghai"
    # Left empty (the shipped file, the demo): the coming 24 June, so a demo always runs
    # before its deadline. A real campaign writes its own date.
    deadline: date
    completion: Completion = Completion()
    # What is owed, each with its own deadline; unset: the three of ``completion``.
    deliverables: list[Deliverable] | None = None
    reminders: Reminders = Reminders()
    reminder_interval_days: float = Field(default=3.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _deadline_or_the_coming_june(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("deadline") is None:
            try:
                zone = ZoneInfo(str(data.get("timezone") or "Asia/Shanghai"))
            except (ValueError, ZoneInfoNotFoundError):
                return data  # Config names the unknown zone
            today = datetime.now(zone).date()
            return {**data, "deadline": coming_deadline(today)}
        return data

    @model_validator(mode="after")
    def _deliverables_sound(self) -> Campaign:
        wrong = problems(self.deliverables) if self.deliverables else \
            [] if self.deliverables is None else ["name at least one, or leave the key out"]
        if wrong:
            raise ValueError("deliverables: " + "; ".join(wrong))
        return self


def coming_deadline(today: date) -> date:
    """The campaign month's usual deadline, 24 June, of this year or, once it has passed,
    of the next: the deadline of a config that names none."""
    this_year = date(today.year, DEFAULT_DEADLINE[0], DEFAULT_DEADLINE[1])
    return this_year if today <= this_year else this_year.replace(year=today.year + 1)


class Storage(_Strict):
    dir: Path = Path("var/storage")
    # A SQLAlchemy URL. None: a SQLite file in ``dir``. A shared deployment names a
    # PostgreSQL database, postgresql+psycopg://USER@HOST:PORT/DB, never with a password.
    database: str | None = None
    # The environment variable holding the database password; unset: none is sent (trust or
    # peer authentication).
    password_env: str = "SAFETYMONTH_DB_PASSWORD"

    @field_validator("database")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        if value is not None and re.match(r"^[\w+]+://[^/@:]*:[^/@]*@", value):
            raise ValueError("the URL holds a password; put it in the environment variable "
                             "named by storage.password_env instead")
        return value

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


class Docgen(_Strict):
    # A folder whose templates override the built-in ones, file by file.
    templates_dir: Path | None = None
    # Face names to write instead of the standard ones, e.g. {仿宋_GB2312: 仿宋}.
    fonts: dict[str, str] = {}
    # 版记 on the last side of a double-sided print (an even page); false for single-sided.
    imprint_on_even_page: bool = True


DEFAULT_UNITS = [
    Unit(name="德化县社会福利中心", emails=["fuli@dhmz.example.cn"]),
    Unit(name="德化县浔中镇敬老院", emails=["xzjly@dhmz.example.cn"]),
    Unit(name="德化县儿童福利院", emails=["@etfly.example.cn"]),
    Unit(name="德化县救助管理站", emails=["jiuzhu@dhmz.example.cn"]),
    Unit(name="德化县殡仪馆", emails=["byg@dhmz.example.cn"]),
]


class Config(_Strict):
    campaign: Campaign = Campaign()
    mailbox: Mailbox = Mailbox()
    storage: Storage = Storage()
    units: list[Unit] = DEFAULT_UNITS
    policy: Policy = Field(default_factory=Policy)  # not at import: see Policy.photo
    docgen: Docgen = Docgen()
    groups: list[Group] = []
    web: Web = Web()
    uploads: Uploads = Uploads()
    # Where relative paths point: the config file's folder. Not a key of the file.
    base_dir: Annotated[Path, Field(exclude=True)] = Path(".")
    # The roster file ``units:`` named (None: the units are a YAML list). Not a key of the file.
    roster_file: Annotated[Path | None, Field(exclude=True)] = None

    @model_validator(mode="before")
    @classmethod
    def _units_from_roster(cls, data: object) -> object:
        """``units: 单位名单.xlsx``: the units are the roster's rows (a wrong row is a
        :class:`ConfigError` naming its row number)."""
        if not isinstance(data, dict) or not isinstance(data.get("units"), str):
            return data
        path = Path(data.get("base_dir") or ".") / data["units"]
        try:
            units = read_roster(path.resolve(), group_names(data.get("groups")))
        except RosterError as error:
            raise ConfigError(f"units: {error}") from None
        return {**data, "units": units, "roster_file": path.resolve()}

    @model_validator(mode="after")
    def _groups_known(self) -> Config:
        """Each unit's group is a ``groups:`` id; a group's name is taken for its id."""
        names = [GroupName(group.id, group.name) for group in self.groups]
        try:
            units = [_in_group(unit, names) for unit in self.units]
        except RosterError as error:
            raise ValueError(f"units: {error}") from None
        if any(new is not old for new, old in zip(units, self.units, strict=True)):
            object.__setattr__(self, "units", units)  # frozen model: resolved once, here
        return self

    @model_validator(mode="after")
    def _units_distinct(self) -> Config:
        for label, values in (("id", [unit.key for unit in self.units]),
                              ("name", [unit.name for unit in self.units])):
            # Counter, not values.count per value: that was quadratic, 0.5 s at 2,000 units.
            repeated = sorted(value for value, times in Counter(values).items() if times > 1)
            if repeated:
                raise ValueError(f"units: the same {label} twice: {', '.join(repeated)}")
        try:
            ZoneInfo(self.campaign.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"campaign.timezone: unknown time zone "
                             f"{self.campaign.timezone!r}") from None
        folder = self.mailbox.templates_dir
        if folder is not None and not self.resolve(folder).is_dir():
            raise ValueError(f"mailbox.templates_dir: no folder {self.resolve(folder)}")
        return self

    @model_validator(mode="after")
    def _group_deliverables_have_groups(self) -> Config:
        owed = [item.id for item in self.campaign.deliverables or [] if item.owed_by == "group"]
        if owed and not self.groups:
            raise ValueError(f"campaign.deliverables: {', '.join(owed)} is owed by groups, "
                             "but groups: names none")
        return self

    def resolve(self, path: Path) -> Path:
        """An absolute path for a path from the file, relative to the config's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def storage_dir(self) -> Path:
        return self.resolve(self.storage.dir)

    @property
    def database_url(self) -> str | None:
        """``storage.database``, a relative SQLite file resolved like any path (None: the
        default file in ``storage.dir``)."""
        url = self.storage.database
        prefix = next((start for start in ("sqlite:///", "sqlite+pysqlite:///")
                       if url and url.startswith(start)), None)
        if url and prefix and url != prefix and not url[len(prefix):].startswith("/"):
            return prefix + str(self.resolve(Path(url[len(prefix):])))
        return url


def _in_group(unit: Unit, names: list[GroupName]) -> Unit:
    """``unit`` with its group named by id; itself when it already is (no copy, and no
    comparison of 2,000 models to find out whether any changed)."""
    if unit.group is None:
        return unit
    found = group_id(unit.group, names)
    return unit if found == unit.group else unit.model_copy(update={"group": found})


def load_config(path: Path | None = None) -> Config:
    """Read ``path``; with no path, ``./config.yaml`` if present, else the built-in defaults."""
    if path is None:
        candidate = Path(DEFAULT_CONFIG_NAME)
        if not candidate.exists():
            return Config(base_dir=Path.cwd())
        path = candidate
    try:
        # libyaml's loader where PyYAML has it: the pure-Python one takes seconds over a
        # config listing 2,000 units, longer than the report it is read for.
        raw = yaml.load(path.read_text(encoding="utf-8"),
                        Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    for hidden in ("base_dir", "roster_file"):
        if hidden in raw:
            raise ConfigError(f"{path}: {hidden}: not a configuration key")
    try:
        return Config(**raw, base_dir=path.resolve().parent)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, str(path))) from error


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line per problem, each naming the dotted key and what was expected."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)
