"""config.yaml: the shipped file equals the built-in defaults; bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from safetymonth.config import Config, ConfigError, ImapSource, MaildirPath, load_config

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_equals_builtin_defaults() -> None:
    shipped = load_config(REPO / "config.yaml")
    assert shipped == Config(base_dir=REPO)


def test_defaults_apply_without_a_config_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.policy.photo.min_long_side == 1920
    assert config.storage_dir == tmp_path / "var" / "storage"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("storage:\n  dir: data\nmailbox:\n"
                                     "  source: maildir:in\n", encoding="utf-8")
    config = load_config(tmp_path / "c.yaml")
    assert config.storage_dir == tmp_path / "data"
    assert isinstance(config.mailbox.source, MaildirPath)
    assert config.resolve(config.mailbox.source.path) == tmp_path / "in"


def test_imap_block_and_sizes(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "mailbox:\n  max_message_size: 50 MB\n  source:\n    imap:\n      host: imap.163.com\n"
        "      user: a@163.com\n", encoding="utf-8")
    config = load_config(tmp_path / "c.yaml")
    assert isinstance(config.mailbox.source, ImapSource)
    assert config.mailbox.source.password_env == "SAFETYMONTH_IMAP_PASSWORD"
    assert config.mailbox.max_message_size == 50_000_000


@pytest.mark.parametrize(("text", "named"), [
    ("polcy: {}\n", "polcy: unknown key"),
    ("policy:\n  video:\n    formats: [MP4]\n    min_long_side: 10\n    min_short_side: 20\n",
     "policy.video"),
    ("mailbox:\n  source: imap.163.com\n", "mailbox.source"),
    ("units:\n  - name: 某敬老院\n", "units.0.emails"),
    ("policy:\n  max_file_size: lots\n", "policy.max_file_size"),
    # A format the validator never reports would fail every file that uses the real name.
    ("policy:\n  photo:\n    formats: [JPEG2]\n    min_long_side: 1\n    min_short_side: 1\n",
     "policy.photo.formats"),
    ("policy:\n  photo:\n    formats: [MP4]\n    min_long_side: 1\n    min_short_side: 1\n",
     "photo.formats: MP4 is not a photo format"),
    ("policy:\n  document:\n    formats: [TXT]\n", "policy.document.formats"),
    ("policy:\n  archive:\n    max_total_size: huge\n", "policy.archive.max_total_size"),
])
def test_bad_values_are_refused_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(tmp_path / "c.yaml")


def test_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    source = ImapSource(host="h", user="u", password_env="TEST_SM_PASSWORD")
    monkeypatch.delenv("TEST_SM_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="TEST_SM_PASSWORD"):
        source.password()
    monkeypatch.setenv("TEST_SM_PASSWORD", "secret")
    assert source.password() == "secret"


def test_format_aliases_and_sizes_people_write(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "policy:\n  photo:\n    formats: [jpg, png]\n    min_long_side: 1920\n"
        "    min_short_side: 1080\n  video:\n    formats: [MP4, m2ts]\n"
        "    min_long_side: 1280\n    min_short_side: 720\n    inclusive: false\n"
        "  archive:\n    max_total_size: 2 GiB\n  probe:\n    max_memory: 512 MiB\n"
        "  max_file_size: 1.5 GB\n", encoding="utf-8")
    policy = load_config(tmp_path / "c.yaml").policy
    assert policy.photo.formats == ["JPEG", "PNG"]
    assert policy.video.formats == ["MP4", "MTS"]
    assert policy.archive.max_total_size == 2 * 1024**3
    assert (policy.probe.max_memory, policy.max_file_size) == (512 * 1024**2, 1_500_000_000)
    assert (policy.inclusive_for(policy.photo), policy.inclusive_for(policy.video)) == (
        True, False)
