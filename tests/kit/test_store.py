"""Opening a store: the writing commands make its folder, the reading ones touch nothing."""

from __future__ import annotations

import pytest

from kit.store import Store


def test_a_writing_store_makes_its_folder(tmp_path):
    store = Store(tmp_path / "a" / "store")
    assert (tmp_path / "a" / "store").is_dir() and store.local


def test_a_reading_store_creates_nothing_and_has_no_outputs(tmp_path):
    store = Store(tmp_path / "missing", create=False)
    assert store.outputs("report") == [] and not store.is_complete("report", "k")
    assert not (tmp_path / "missing").exists()


def test_open_existing_refuses_a_missing_store_or_a_file_in_one_line_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing: no such store \(nothing at that path\)$"):
        Store.open_existing(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="file: a file, not a store folder$"):
        Store.open_existing(tmp_path / "file")
    with pytest.raises(FileNotFoundError):
        Store.open_existing(tmp_path / "file" / "below")


def test_open_existing_opens_a_store_that_is_there(tmp_path):
    Store(tmp_path / "store")
    store = Store.open_existing(tmp_path / "store")
    assert store.root.endswith("store") and store.outputs("report") == []


def test_a_remote_store_is_opened_without_a_check():
    store = Store.open_existing("memory://nowhere-yet")
    assert not store.local and store.outputs("report") == []


def test_a_setting_keyed_unless_default_keys_nothing_until_it_is_used():
    import dataclasses as dc

    from kit.store import canonical_json

    @dc.dataclass(frozen=True)
    class Before:
        steps: int = 10

    @dc.dataclass(frozen=True)
    class After:
        steps: int = 10
        init: str = dc.field(default="mean", metadata={"key": "unless_default"})

    assert canonical_json(After(), for_key=True) == canonical_json(Before(), for_key=True)
    assert '"init":"encoder"' in canonical_json(After(init="encoder"), for_key=True)
    assert '"init":"mean"' in canonical_json(After())  # saved next to the output in full
