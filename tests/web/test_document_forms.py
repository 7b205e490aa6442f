"""The document forms as plain HTML forms against a real ``safetymonth serve`` (no script):
Chinese labels with a hint each, rows added, moved and removed by the server, mistakes said
in Chinese beside their field with everything typed kept, and no server path on any page.
The browser tests (test_document_forms_browser.py) do the same as a clerk, with the script."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import httpx
import lxml.html
import pytest
import yaml

from safetymonth.web import previews
from tests.support.console import Console

# The labels GB/T 9704 gives each part (DESIGN.md, "Documents in the console").
LABELS = {
    "notice": ["发文机关", "发文字号", "标题", "主送机关", "正文", "附件", "落款", "成文日期",
               "附注", "抄送", "印发机关", "印发日期"],
    "letter": ["甲方", "年度", "责任期限", "目标", "单位"],
    "summary": ["发文机关", "标题", "主送机关", "报送依据", "基本情况", "主要做法", "取得成效",
                "存在问题", "下步打算", "成文日期"],
}
RAW_KEYS = ["issuer", "title", "recipients", "body", "signature", "date", "note", "party_a",
            "year", "term", "targets", "units", "signed_on", "basis", "sections", "intake"]
FORM = "//form[contains(concat(' ', @class, ' '), ' doc ')]"
EXAMPLES = Path(__file__).resolve().parents[2] / "safetymonth" / "docgen" / "examples"


def page_of(response: httpx.Response) -> lxml.html.HtmlElement:
    tree = lxml.html.fromstring(response.text)
    for template in tree.iter("template"):  # a blank row for the script, never posted
        template.drop_tree()
    return tree


def posted(tree: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    """What the browser would post: every field as it stands (checked boxes only)."""
    form = tree.xpath(f"{FORM}")[0]
    return [(name, value) for name, value in form.form_values()]


def as_form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Pairs as httpx posts them: each name with its values in order."""
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def post(client: httpx.Client, kind: str, pairs: list[tuple[str, str]]) -> httpx.Response:
    return client.post(f"/documents/{kind}", data=as_form(pairs))


def replace(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(key, value if key == name else old) for key, old in fields]


def values(tree: lxml.html.HtmlElement, name: str) -> list[str]:
    return [element.value or "" for element in tree.xpath(f"{FORM}//*[@name='{name}']")]


def field_error(tree: lxml.html.HtmlElement, path: str) -> str:
    found = tree.xpath(f"//*[@id='field-{path.replace('.', '-')}']//p[@class='field-error']")
    return found[0].text_content().strip() if found else ""


@pytest.mark.slow
def test_every_field_has_its_chinese_label_and_a_hint(console: Console) -> None:
    client = console.logged_in()
    storage = console.folder / "storage"
    for kind, labels in LABELS.items():
        response = client.get(f"/documents/{kind}")
        assert response.status_code == 200
        tree = page_of(response)
        shown = [element.text_content().strip() for element in
                 tree.xpath(f"{FORM}//label | {FORM}//legend")]
        for label in labels:
            assert any(label in text for text in shown), (kind, label)
        for key in RAW_KEYS:
            assert not any(text.split("*")[0] == key for text in shown), (kind, key)
        fields = tree.xpath(f"{FORM}//div[contains(concat(' ', @class, ' '), ' field ')]")
        assert fields and all(field.xpath(".//p[@class='hint']")[0].text_content().strip()
                              for field in fields)
        # No server path on the page, not even the store's.
        for path in {str(storage), str(storage.resolve()), str(console.folder)}:
            assert path not in response.text
        assert "documents/" + kind + ".yaml" not in response.text
    letter = page_of(client.get("/documents/letter"))
    assert letter.xpath("//input[@type='date'][@name='f:term.start']")
    assert letter.xpath("//input[@type='date'][@name='f:term.end']")
    # The roster's units, each with a tick.
    roster = yaml.safe_load((EXAMPLES / "letters-2024.yaml").read_text(encoding="utf-8"))
    names = [unit["name"] for unit in roster["units"]]
    assert values(letter, "r:units.name")[:len(names)] == names
    assert len(letter.xpath("//input[@type='checkbox'][@name='t:units']")) >= len(names)

    # A viewer reads the form but has no button that would change anything.
    viewer = console.logged_in("viewer")
    page = viewer.get("/documents/letter")
    assert page.status_code == 200 and names[0] in page.text
    assert not page_of(page).xpath(f"{FORM}//button[not(@aria-hidden)]")
    assert post(viewer, "letter", posted(page_of(page))).status_code == 403


def test_rows_are_added_moved_and_removed_without_the_script(console: Console) -> None:
    client = console.logged_in()
    tree = page_of(client.get("/documents/notice"))
    assert values(tree, "r:cc") == []  # the example has no 抄送
    fields = posted(tree)
    for typed in ("市应急管理局", "市消防救援支队", "市卫生健康委"):
        tree = page_of(post(client, "notice", [*fields, ("op", "add:cc")]))
        fields = posted(tree)
        position = max(i for i, (key, _value) in enumerate(fields) if key == "r:cc")
        fields[position] = ("r:cc", typed)
    tree = page_of(post(client, "notice", [*fields, ("op", "up:cc:2")]))
    assert values(tree, "r:cc") == ["市应急管理局", "市卫生健康委", "市消防救援支队"]
    tree = page_of(post(client, "notice", [*posted(tree), ("op", "remove:cc:0")]))
    assert values(tree, "r:cc") == ["市卫生健康委", "市消防救援支队"]
    assert not (console.folder / "storage" / "documents" / "notice.yaml").exists()

    saved = post(client, "notice", posted(tree))
    assert saved.status_code == 303
    data = yaml.safe_load(client.get("/documents/notice/data.yaml").text)
    assert data["cc"] == ["市卫生健康委", "市消防救援支队"]


def test_a_mistake_is_said_beside_its_field_and_the_typed_text_is_kept(
        console: Console) -> None:
    client = console.logged_in()
    body = "各单位：\n\n今年6月是第25个全国“安全生产月”。"
    fields = posted(page_of(client.get("/documents/notice")))
    fields = replace(replace(replace(fields, "f:title", ""), "f:date", "2025-02-30"),
                     "f:body", body)
    response = post(client, "notice", fields)
    assert response.status_code == 400
    tree = page_of(response)
    assert field_error(tree, "title") == "必填"
    assert "2025年2月只有28天" in field_error(tree, "date")
    assert values(tree, "f:body") == [body]
    assert values(tree, "f:date") == ["2025-02-30"]
    assert values(tree, "f:issuer") == [dict(fields)["f:issuer"]]
    for english in ("Field required", "Input should", "String should", "YAML", "value_error"):
        assert english not in response.text
    assert not (console.folder / "storage" / "documents" / "notice.yaml").exists()

    # The letter: a term that ends before it starts, and no unit ticked.
    fields = [(key, value) for key, value in posted(page_of(client.get("/documents/letter")))
              if key != "t:units"]
    fields = replace(replace(fields, "f:term.start", "2026-06-01"), "f:term.end", "2026-05-31")
    tree = page_of(post(client, "letter", replace(fields, "f:year", "二〇二六")))
    assert field_error(tree, "term.end") == "截止日期不能早于起始日期"
    assert field_error(tree, "year") == "请填写年份数字，如 2024"
    assert "勾选" in field_error(tree, "units")
    assert values(tree, "f:year") == ["二〇二六"]


@pytest.mark.slow
def test_the_letter_is_one_file_per_ticked_unit_named_as_a_clerk_files_it(
        console: Console) -> None:
    client = console.logged_in()
    tree = page_of(client.get("/documents/letter"))
    names = values(tree, "r:units.name")
    keys = values(tree, "r:units.key")
    ticked = {keys[0]: names[0], keys[2]: names[2]}
    fields = [(key, value) for key, value in posted(tree) if key != "t:units"]
    fields += [("t:units", key) for key in ticked]
    assert post(client, "letter", fields).status_code == 303
    data = yaml.safe_load(client.get("/documents/letter/data.yaml").text)
    assert [unit["name"] for unit in data["units"]] == list(ticked.values())
    page = page_of(client.get("/documents/letter"))
    assert [link.text_content() for link in page.xpath("//a[@class='docx']")] == [
        f"安全管理责任书（{name}）.docx" for name in ticked.values()]
    # Content-Disposition: the name in UTF-8 (RFC 5987) and a plain ASCII fallback.
    header = client.get("/documents/letter/docx/1").headers["content-disposition"]
    filed = f"安全管理责任书（{names[2]}）.docx"
    assert f"filename*=UTF-8''{quote(filed, safe='')}" in header
    fallback = re.search(r'filename="([^"]*)"', header)
    assert fallback and fallback.group(1).isascii() and fallback.group(1).endswith(".docx")
    # The unticked units are still offered, unticked.
    assert set(values(page, "r:units.name")) == set(names)


def test_only_the_newest_previews_are_kept(tmp_path: Path) -> None:
    for number in range(previews.KEEP + 5):
        made = tmp_path / f"notice-{number:064x}"
        made.mkdir()
        (made / "first.png").write_bytes(b"png")
        os.utime(made, (1_000_000 + number, 1_000_000 + number))
    previews._prune(tmp_path)
    left = sorted(int(path.name.split("-")[1], 16) for path in tmp_path.iterdir())
    assert left == list(range(5, previews.KEEP + 5))
