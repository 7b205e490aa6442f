"""The credit columns the board counts from (storage.credit.refresh_credit) follow every
write the read-time credit rule reads, on both engines: each tally is compared with the one
worked out from the read-time listings (``message_views``, ``file_views``), and with what the
store was filled with."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from safetymonth.storage.credit import ACCEPT, CREDIT, REJECT, RegistryUnit, Tally
from safetymonth.storage.repository import NewAttachment, Outcome, Received, Repository, now

PHOTO_A, PHOTO_B, VIDEO = "a" * 64, "b" * 64, "c" * 64


def record(store: Repository, number: int, sender: str,
           files: list[tuple[str, str, bool]], state: str = "processed") -> int:
    """A processed message from ``sender`` with ``files``: (sha256, kind, verdict ok)."""
    message = store.record_received(f"test:{number}", Received(
        sha256=f"{number:064x}", size=1, message_id=f"<{number}@t>", sender=sender,
        sender_name=None, subject="材料", date_header=None)).message
    store.record_verdicts(message, [
        NewAttachment(position, f"{kind}{position}.jpg", "files/x", sha, 1, "image/jpeg",
                      [{"path": f"{kind}{position}.jpg", "kind": kind, "ok": ok}])
        for position, (sha, kind, ok) in enumerate(files)])
    store.record_outcome(message, Outcome(state, None, "pass", None, None, None, {}))
    return message


def read_time_tallies(store: Repository) -> dict[str, Tally]:
    """The tally as the read-time listings give it: distinct contents per unit, kind, ok."""
    submissions: dict[str, list[str]] = defaultdict(list)
    for view in store.message_views():
        if view.unit is not None:
            submissions[view.unit].append(view.received)
    contents: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for file in store.file_views():
        if file.unit is not None:
            field = f"{file.kind}s_{'ok' if file.ok else 'failed'}"
            contents[file.unit][field].add(file.sha256 + "!" + file.name)
    return {unit: Tally(len(times), max(times),
                        **{field: len(found) for field, found in contents[unit].items()})
            for unit, times in submissions.items()}


def test_the_tally_columns_follow_the_registry_decisions_and_restarts(
        tmp_path: Path, engine: str | None) -> None:
    with Repository(tmp_path / "storage", engine) as store:
        store.sync_registry([RegistryUnit("U1", "一号", ("one@x.cn",)),
                             RegistryUnit("U2", "二号", ("@two.cn",))])
        first = record(store, 1, "one@x.cn", [(PHOTO_A, "photo", True), (VIDEO, "video", False)])
        record(store, 2, "a@two.cn", [(PHOTO_A, "photo", True)])
        record(store, 3, "b@two.cn", [(PHOTO_A, "photo", True), (PHOTO_B, "photo", True)])
        stranger = record(store, 4, "who@z.cn", [(PHOTO_B, "photo", True)])

        def tallies() -> dict[str, Tally]:
            counted = store.unit_tallies()
            assert counted == read_time_tallies(store)
            return counted

        counted = tallies()
        assert (counted["U1"].submissions, counted["U1"].photos_ok,
                counted["U1"].videos_failed) == (1, 1, 1)
        # PHOTO_A twice from U2 under the same name counts once; PHOTO_B is another content.
        assert (counted["U2"].submissions, counted["U2"].photos_ok) == (2, 2)
        assert store.unknown_senders_now() == [("who@z.cn", 1)]

        store.sync_registry([RegistryUnit("U1", "一号", ("one@x.cn", "who@z.cn")),
                             RegistryUnit("U2", "二号", ("@two.cn",))])
        assert tallies()["U1"].submissions == 2
        assert store.unknown_senders_now() == []

        credit = store.record_decision(CREDIT, "误发", "clerk", now(), message=first,
                                       unit="U2")
        assert tallies()["U1"].submissions == 1
        [video] = [file for file in store.file_views() if file.kind == "video"]
        accept = store.record_decision(ACCEPT, "人工核验", "clerk", now(), file=video.id)
        assert tallies()["U2"].videos_ok == 1
        [photo] = [file for file in store.file_views() if file.sha256 == PHOTO_B
                   and file.message == stranger]
        store.record_decision(REJECT, "模糊", "clerk", now(), file=photo.id)
        assert tallies()["U1"].photos_failed == 1
        store.undo_decision(accept, "clerk", now())
        store.undo_decision(credit, "clerk", now())
        assert tallies()["U1"].videos_failed == 1

        store.restart(stranger)  # processed again: credited to no unit until it is
        assert tallies()["U1"].submissions == 1
        store.record_outcome(stranger, Outcome("processed", None, "pass", None, None, None,
                                               {}))
        assert tallies()["U1"].submissions == 2
        store.record_outcome(stranger, Outcome("processed", None, "fail", "dkim=fail", None,
                                               None, {}))
        assert tallies()["U1"].submissions == 1
