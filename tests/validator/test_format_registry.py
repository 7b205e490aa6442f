"""A format added from one module (tests/validator/toy_format.py) is sniffed, probed, labelled
and judged by the policy, with no file of the product changed: the registry is the one place
the validator, the config and the messages learn formats from."""

from __future__ import annotations

import importlib
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from safetymonth.config import ConfigError, PhotoRule, Policy, load_config
from safetymonth.validator import Code, Kind, check_file
from safetymonth.validator.formats import registry

TOY_MODULE = "tests.validator.toy_format"
TOY_POLICY = ("policy:\n  photo:\n    formats: [jpg, toyimg]\n    min_long_side: 1920\n"
              "    min_short_side: 1080\n")


@pytest.fixture
def toy() -> Iterator[ModuleType]:
    """The toy plugin imported (which registers it), and forgotten afterwards."""
    sys.modules.pop(TOY_MODULE, None)
    module = importlib.import_module(TOY_MODULE)
    try:
        yield module
    finally:
        registry.unregister("TOY")
        sys.modules.pop(TOY_MODULE, None)


def toy_file(folder: Path, name: str, width: int, height: int) -> Path:
    from tests.validator.toy_format import make  # imported by the fixture already

    path = folder / name
    path.write_bytes(make(width, height))
    return path


def codes(found: list) -> set[str]:
    return {reason.code for reason in found}


def test_registered_toy_is_sniffed_probed_labelled_and_refused(toy: ModuleType,
                                                               tmp_path: Path) -> None:
    [verdict] = check_file(toy_file(tmp_path, "a.toy", 4000, 3000), Policy())
    assert (verdict.kind, verdict.format, verdict.width, verdict.height) == (
        "photo", "TOY", 4000, 3000)
    assert codes(verdict.reasons) == {Code.FORMAT_NOT_ALLOWED}
    assert verdict.reasons[0].message == (
        f"{toy.LABEL}格式不在允许范围内（JPG、PNG、PSD），{toy.FIX}")
    assert verdict.warnings == []


def test_a_policy_that_lists_the_toy_accepts_it_by_its_alias(toy: ModuleType,
                                                             tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(TOY_POLICY, encoding="utf-8")
    policy = load_config(tmp_path / "c.yaml").policy
    assert policy.photo.formats == ["JPEG", "TOY"]
    [good] = check_file(toy_file(tmp_path, "a.toy", 1080, 1920), policy)
    assert good.ok and (good.width, good.height) == (1080, 1920)
    [small] = check_file(toy_file(tmp_path, "b.toy", 1280, 960), policy)
    assert codes(small.reasons) == {Code.RESOLUTION_TOO_LOW}
    (tmp_path / "v.yaml").write_text(
        "policy:\n  video:\n    formats: [MP4, TOY]\n    min_long_side: 1\n"
        "    min_short_side: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"video\.formats: TOY is not a video format"):
        load_config(tmp_path / "v.yaml")


def test_toy_extension_broken_header_and_zip_member(toy: ModuleType, tmp_path: Path) -> None:
    [renamed] = check_file(toy_file(tmp_path, "a.jpg", 4000, 3000), Policy())
    assert renamed.format == "TOY"
    assert [w.message for w in renamed.warnings] == [
        f"文件扩展名为.jpg，实际内容为{toy.LABEL}格式，已按实际格式检查"]
    broken = tmp_path / "broken.toy"
    broken.write_bytes(b"TOY1\x00\x00")
    # Broken, and allowed: a refused format would be told to convert instead (as any is).
    takes_toy = Policy(photo=PhotoRule(formats=["TOY"], min_long_side=1, min_short_side=1))
    [verdict] = check_file(broken, takes_toy)
    assert codes(verdict.reasons) == {Code.CORRUPT}
    assert toy.BROKEN in verdict.reasons[0].message
    bundle = tmp_path / "photos.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("p.toy", toy.make(2000, 1500))
    [member] = check_file(bundle, Policy())
    assert (member.path, member.format, member.width) == (f"{bundle}!p.toy", "TOY", 2000)


def test_forgotten_toy_is_unknown_again(toy: ModuleType, tmp_path: Path) -> None:
    path = toy_file(tmp_path, "a.toy", 4000, 3000)
    assert check_file(path, Policy())[0].format == "TOY"
    registry.unregister("TOY")
    [verdict] = check_file(path, Policy())
    assert verdict.format is None and codes(verdict.reasons) == {Code.UNSUPPORTED_TYPE}
    (tmp_path / "c.yaml").write_text(TOY_POLICY, encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown format TOY"):
        load_config(tmp_path / "c.yaml")


def test_a_magic_test_without_a_probe_is_refused() -> None:
    with pytest.raises(ValueError, match="BAD has a magic test but no probe"):
        registry.register(registry.Format("BAD", Kind.PHOTO, magic=registry.starts(b"BAD1")))
    assert registry.get("BAD") is None
