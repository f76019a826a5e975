"""MANIFEST.toml: committed models are read only when their digest is the manifest's; mistakes are one line."""

from __future__ import annotations

import hashlib

import pytest

from landmark_core.config import ConfigError
from landmark_core.model_manifest import ModelEntry, read_manifest, verified_path, write_manifest


def _entry(name: str, content: bytes, **changes) -> ModelEntry:
    values = {
        "file": name,
        "sha256": hashlib.sha256(content).hexdigest(),
        "command": ".venv/bin/eltrepro gan train-twin --out runs/twin-gan",
        "settings": "twin_gan.json",
        "commit": "0689287",
        "seconds": 12.5,
        "losses": {"generator": 0.75, "discriminator": 1.25e-05},
    }
    return ModelEntry(**(values | changes))


def test_written_entries_read_back_the_same(tmp_path):
    first = ({"generator": 0.5, "discriminator": 1.5}, {"generator": 0.25, "discriminator": 1.0})
    entries = [_entry("g.pt", b"g", first_losses=first), _entry("flow.pt", b"f", losses={})]
    write_manifest(folder=tmp_path, entries=entries)
    assert read_manifest(tmp_path) == {"g.pt": entries[0], "flow.pt": entries[1]}
    assert (
        'command = ".venv/bin/eltrepro gan train-twin --out runs/twin-gan"' in (tmp_path / "MANIFEST.toml").read_text()
    )


def test_a_file_is_handed_out_only_with_the_manifests_digest(tmp_path):
    (tmp_path / "g.pt").write_bytes(b"g")
    write_manifest(folder=tmp_path, entries=[_entry("g.pt", b"g")])
    assert verified_path(folder=tmp_path, name="g.pt") == tmp_path / "g.pt"
    (tmp_path / "g.pt").write_bytes(b"tampered")
    with pytest.raises(ConfigError, match=r"g.pt: sha256 [0-9a-f]{64}, but MANIFEST.toml says"):
        verified_path(folder=tmp_path, name="g.pt")
    with pytest.raises(ConfigError, match="no entry for other.pt"):
        verified_path(folder=tmp_path, name="other.pt")
    (tmp_path / "g.pt").unlink()
    with pytest.raises(ConfigError, match=r"g.pt: no such file \(listed in MANIFEST.toml\)"):
        verified_path(folder=tmp_path, name="g.pt")


def test_a_file_over_16_mib_is_refused(tmp_path):
    big = b"\0" * (16 * 1024 * 1024 + 1)
    (tmp_path / "big.pt").write_bytes(big)
    write_manifest(folder=tmp_path, entries=[_entry("big.pt", big)])
    with pytest.raises(ConfigError, match="more than a committed model may have"):
        verified_path(folder=tmp_path, name="big.pt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[model]]\nfile = "g.pt"\nsha256 = "abc"\n', "sha256 = 'abc'"),
        ("[[model]]\nfile = \n", "MANIFEST.toml: "),
        ('[[model]]\nfile = "g.pt"\nweights = 1\n', "unknown key"),
    ],
)
def test_a_bad_manifest_is_one_line_naming_it(tmp_path, text, expected):
    (tmp_path / "MANIFEST.toml").write_text(text)
    with pytest.raises(ConfigError, match="MANIFEST.toml") as error:
        read_manifest(tmp_path)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_file_listed_twice_or_no_manifest_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="MANIFEST.toml: no such file"):
        read_manifest(tmp_path)
    (tmp_path / "MANIFEST.toml").write_text("")
    assert read_manifest(tmp_path) == {}
    entry = _entry("g.pt", b"g")
    with pytest.raises(ConfigError, match="g.pt listed more than once"):
        write_manifest(folder=tmp_path, entries=[entry, entry])


def test_collected_models_keep_their_entries_and_a_tampered_one_is_refused(tmp_path):
    from landmark_core.model_manifest import collect_models

    for name, content in (("a", b"gen"), ("b", b"marks")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.pt").write_bytes(content)
        (tmp_path / name / f"{name}.json").write_text("{}")
        (tmp_path / name / f"{name}.csv").write_text("sample\n")
        entry = _entry(f"{name}.pt", content, settings=f"{name}.json", inputs=(f"{name}.csv",))
        write_manifest(folder=tmp_path / name, entries=[entry])
    into = tmp_path / "models"
    assert collect_models(into=into, sources=[tmp_path / "a"]) == ["a.pt"]
    assert collect_models(into=into, sources=[tmp_path / "b"]) == ["b.pt"]  # a second source adds, keeps a.pt
    assert set(read_manifest(into)) == {"a.pt", "b.pt"} and (into / "b.json").is_file() and (into / "b.csv").is_file()
    assert read_manifest(into)["a.pt"].inputs == ("a.csv",)
    assert verified_path(folder=into, name="a.pt") and verified_path(folder=into, name="b.pt")
    (tmp_path / "b" / "b.pt").write_bytes(b"tampered")
    with pytest.raises(ConfigError, match="b.pt: sha256"):
        collect_models(into=into, sources=[tmp_path / "b"])
    assert verified_path(folder=into, name="b.pt")  # the refused copy left the collected file as it was
