"""The extension reads ChatGPT's data export as it comes, a ZIP file, with the same result as
``tally submit``.

Archives are written by Python's ``zipfile`` (an implementation we did not write), some of them
then damaged or patched byte by byte into the rarer forms of the format; node reads them with
extension/zip.mjs (tests/clients/export_zip_probe.mjs), and each member's bytes must be what
``zipfile`` reads, or the archive refused in the words of its case. Exports are then read by
extension/chatgpt-export.mjs and by tally/exports.py: every conversation's contentHash, with the
images the archive holds, is the same.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.conversation import content_hash, normalise
from tally.exports import load_export
from tests.clients.chatgpt_backend import history
from tests.clients.conftest import run_node
from tests.images.images import image_bytes

pytestmark = pytest.mark.node

MEMBERS = {
    "chatgpt-export/conversations.json": b'[{"title": "\xc3\xa9t\xc3\xa9"}]' * 50,
    "chatgpt-export/dalle-generations/file-AbC123-4a5b.webp": bytes(range(256)) * 300,
    "chatgpt-export/file-XyZ-photo of me.png": b"",
    "chatgpt-export/user.json": b'{"id": "user-1"}',
    "chatgpt-export/\u00e9t\u00e9.html": "<p>\u00e9t\u00e9 \u2014 \u6f22\u5b57</p>".encode(),
}


def written(path: Path, members: dict[str, bytes] = MEMBERS, method: int = zipfile.ZIP_DEFLATED,
            comment: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("chatgpt-export/", b"")  # a directory entry, listed by neither reader
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return path


def patched(path: Path, change: Callable[[bytearray], None]) -> Path:
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))
    return path


def central_entry(data: bytearray, name: str) -> int:
    """Where the central directory header of ``name`` starts."""
    return data.index(name.encode(), data.index(b"PK\x01\x02")) - 46


def local_entry(data: bytearray, name: str) -> int:
    return data.index(name.encode()) - 30


def end_record(data: bytearray) -> int:
    return data.rindex(b"PK\x05\x06")


def sizes_in_zip64_extra(path: Path) -> Path:
    """One stored member whose central directory header says 0xFFFFFFFF for both sizes and
    holds them in a ZIP64 extra field (APPNOTE §4.5.3), as archives above 4 GiB do."""
    written(path, {"conversations.json": b"[]" * 1000}, method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = central_entry(data, "conversations.json")
    size = struct.unpack_from("<I", data, at + 24)[0]
    name_length, extra_length = struct.unpack_from("<HH", data, at + 28)
    extra = struct.pack("<HHQQ", 0x0001, 16, size, size)
    struct.pack_into("<IIH", data, at + 20, 0xFFFFFFFF, 0xFFFFFFFF, name_length)
    struct.pack_into("<H", data, at + 30, extra_length + len(extra))
    insert_at = at + 46 + name_length + extra_length
    data[insert_at:insert_at] = extra
    end = end_record(data)
    struct.pack_into("<I", data, end + 12, struct.unpack_from("<I", data, end + 12)[0] + len(extra))
    path.write_bytes(bytes(data))
    return path


def many_members(path: Path) -> Path:
    """65,537 members: more than the classic end record counts, so zipfile writes the ZIP64 end
    record and its locator (APPNOTE §4.3.14-15)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(0x10001):
            archive.writestr(f"m/{i}", bytes([i % 256]))
    return path


def flip(at: Callable[[bytearray], int]) -> Callable[[bytearray], None]:
    def change(data: bytearray) -> None:
        data[at(data)] ^= 0x5A
    return change


def stored_data_of(name: str) -> Callable[[bytearray], int]:
    return lambda data: local_entry(data, name) + 30 + len(name.encode()) + 100


def encrypted_flag(data: bytearray) -> None:
    at = central_entry(data, "chatgpt-export/user.json")
    data[at + 8] |= 0x01


def declared_smaller(data: bytearray) -> None:
    at = central_entry(data, "chatgpt-export/dalle-generations/file-AbC123-4a5b.webp")
    struct.pack_into("<I", data, at + 24, 1000)


def split_archive(data: bytearray) -> None:
    struct.pack_into("<H", data, end_record(data) + 4, 1)


def directory_offset_past_end(data: bytearray) -> None:
    struct.pack_into("<I", data, end_record(data) + 16, len(data))


WEBP = "chatgpt-export/dalle-generations/file-AbC123-4a5b.webp"
HTML = "chatgpt-export/\u00e9t\u00e9.html"

# (case, how the archive is made from a fresh path, None when zipfile reads it all, else the
# words of the refusal: of the archive, or {member: words} for the members it refuses)
ARCHIVES: list[tuple[str, Callable[[Path], Path], str | dict[str, str] | None]] = [
    ("deflated", written, None),
    ("stored", lambda p: written(p, method=zipfile.ZIP_STORED), None),
    ("with a comment", lambda p: written(p, comment=b"exported by ChatGPT " * 40), None),
    # zipfile takes the last end signature for the end record and fails here; the comment of the
    # true one reaches the end of the file, so the extension reads the members written.
    ("with a comment holding an end signature", lambda p: written(p, comment=b"PK\x05\x06 not the end " * 40),
     None),
    ("sizes in a ZIP64 extra field", sizes_in_zip64_extra, None),
    ("65,537 members: a ZIP64 end record", many_members, None),
    ("empty", lambda p: written(p, {}), None),
    ("cut short", lambda p: patched(written(p), lambda d: d.__delitem__(slice(len(d) - 10, None))),
     "this is not a ZIP archive, or it is cut short"),
    ("not a ZIP at all", lambda p: (p.write_bytes(b'[{"title": "x"}]'), p)[1],
     "this is not a ZIP archive, or it is cut short"),
    ("split over several files", lambda p: patched(written(p), split_archive),
     "the archive is split over several files; join them into one ZIP first"),
    ("its directory's offset past its end", lambda p: patched(written(p), directory_offset_past_end),
     "the central directory overlaps its end record"),
    ("a stored member's byte changed", lambda p: patched(written(p, method=zipfile.ZIP_STORED), flip(
        stored_data_of(WEBP))),
     {WEBP: f"{WEBP} is damaged in the archive (its size or CRC-32 is not the directory's)"}),
    ("a deflated member's stream damaged", lambda p: patched(written(p), flip(
        lambda d: local_entry(d, WEBP) + 30 + len(WEBP) + 40)), {WEBP: f"{WEBP} is damaged in the archive"}),
    ("a member larger than its directory entry says", lambda p: patched(written(p), declared_smaller),
     {WEBP: f"{WEBP} is damaged in the archive (larger than the directory says)"}),
    ("an encrypted member", lambda p: patched(written(p), encrypted_flag),
     {"chatgpt-export/user.json": "chatgpt-export/user.json is encrypted in the archive"}),
    ("bzip2 members", lambda p: written(p, method=zipfile.ZIP_BZIP2),
     {name: f"{name} is compressed with method 12; only stored and deflated members can be read" for name in MEMBERS}),
]


def members_by_zipfile(path: Path, refused: dict[str, str]) -> list[dict[str, str]]:
    if b"PK\x05\x06 not the end" in path.read_bytes():
        path = written(path.with_suffix(".without-comment.zip"))
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        # The probe reads the first and last 500 members of a larger archive, and lists the rest.
        return [{"name": info.filename} if len(infos) > 1000 and 500 <= i < len(infos) - 500
                else {"name": info.filename, "error": f"ZipError: {refused[info.filename]}"} if info.filename in refused
                else {"name": info.filename, "sha256": hashlib.sha256(archive.read(info)).hexdigest()}
                for i, info in enumerate(infos)]


def test_the_extension_reads_each_archive_as_zipfile_does_and_refuses_the_damaged_in_words(tmp_path: Path) -> None:
    paths = [make(tmp_path / f"{i}.zip") for i, (_, make, _) in enumerate(ARCHIVES)]
    shown = run_node("export_zip_probe.mjs", {"archives": [str(p) for p in paths], "exports": []}, timeout=120)
    for (case, _, expected), path, got in zip(ARCHIVES, paths, shown["archives"], strict=True):
        if isinstance(expected, str):
            assert got.get("error", "").startswith(f"ZipError: {expected}"), (case, got)
            continue
        refused = expected or {}
        members = got.get("members")
        assert members is not None, (case, got)
        # A damaged deflate stream is refused by the inflater or by the CRC, in either words.
        for member in members:
            if member["name"] in refused and "error" in member:
                assert member["error"].startswith(f"ZipError: {refused[member['name']]}"), (case, member)
                member["error"] = f"ZipError: {refused[member['name']]}"
        assert members == members_by_zipfile(path, refused), case
        assert got["looksLikeZip"] is True, case


MAX_IMAGE_BYTES = 64 * 1024


def export_conversations() -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """A history of five conversations as ChatGPT's export writes them, and the files of their
    images by the names the export gives them."""
    turns = [
        {"messages": [{"role": "user", "content": "How long should a soft-boiled egg cook, from boiling water?"},
                      {"role": "assistant", "content": "Six and a half minutes from a rolling boil, then cold."}]},
        {"messages": [
            {"role": "user", "content": "Paint me a lighthouse on a cliff at dawn, in watercolour, with gulls."},
            {"role": "tool", "image": "file-service://file-Lighthouse0001",
             "content": "A watercolour lighthouse on a cliff at dawn, gulls circling, soft pastel light."},
            {"role": "assistant", "content": "Here is your lighthouse at dawn."},
            {"role": "user", "content": "What breed is the dog in this photo of mine?",
             "image": "sediment://file_00000000aaaa7230b9ede110f49fccb5"},
            {"role": "assistant", "content": "A border collie: the white blaze and the half-pricked ears."}]},
        {"messages": [{"role": "user", "content": "And this one, which I never had a copy of?",
                       "image": "sediment://file_00000000bbbb7230b9ede110f49fccb5"},
                      {"role": "assistant", "content": "I cannot see an image here."}]},
        {"messages": [{"role": "user", "content": "Which typeface is on this poster?",
                       "image": "file-service://file-Poster0001"},
                      {"role": "assistant", "content": "A condensed grotesque, set in capitals."}]},
        {"messages": [{"role": "user", "content": "Is this file a picture?", "image": "file-service://file-Text0001"},
                      {"role": "assistant", "content": "It is a text file, not an image."}]},
    ]
    bodies = list(history(turns, time.time())["conversations"].values())
    files = {
        "dalle-generations/file-Lighthouse0001-7f3e2a.webp": image_bytes("WEBP", 1, size=(64, 48)),
        "file_00000000aaaa7230b9ede110f49fccb5-dog.jpg": image_bytes("JPEG", 2, size=(40, 30)),
        "file-Poster0001-poster.png": image_bytes("PNG", 3, size=(200, 200)),
        "file-Text0001.png": b"not a picture at all",
    }
    assert len(files["file-Poster0001-poster.png"]) > MAX_IMAGE_BYTES
    return bodies, files


def test_an_export_zip_gives_the_extension_the_conversations_and_images_tally_submit_finds(tmp_path: Path) -> None:
    bodies, files = export_conversations()
    export = tmp_path / "export.zip"
    written(export, {"chatgpt-export/conversations.json": json.dumps(bodies).encode(),
                     **{f"chatgpt-export/{name}": data for name, data in files.items()}})
    alone = tmp_path / "conversations.json"
    alone.write_text(json.dumps(bodies))
    without = written(tmp_path / "other.zip", {"chatgpt-export/chat.html": b"<html></html>"})
    not_utf8 = written(tmp_path / "latin1.zip", {"conversations.json": b'[{"title": "\xe9t\xe9"}]'})
    not_json = written(tmp_path / "broken.zip", {"conversations.json": b'[{"title": '})

    paths = [str(p) for p in (export, alone, without, not_utf8, not_json)]
    shown = run_node("export_zip_probe.mjs", {"archives": [], "maxImageBytes": MAX_IMAGE_BYTES, "exports": paths})
    from_zip, from_json, *refused = shown["exports"]

    source = load_export(export)
    assert isinstance(source.data, list)
    expected = [content_hash(normalise(c, images=source.images_of(c))) for c in source.data]
    got = from_zip["conversations"]
    # Text alone; two images found by file id (a generation under dalle-generations/, an upload
    # at the root); an image the export lacks stays "[image]", as tally submit leaves it.
    assert [g.get("contentHash") for g in got[:3]] == expected[:3]
    assert [g["mediaTypes"] for g in got[:3]] == [[], ["image/webp", "image/jpeg"], []]
    assert expected[0] == content_hash(normalise(bodies[0]))
    assert normalise(bodies[1], images=source.images_of(bodies[1])).image_cids
    assert expected[2] == content_hash(normalise(bodies[2]))
    # The limit Tally publishes, and the kinds of image it takes, before anything is signed.
    assert got[3] == {"error": "ImageUnavailableError: image 1 of 1 (file-Poster0001) is larger than the 64 KB "
                               "Tally takes for one image (limits.maxImageBytes)"}
    assert got[4] == {"error": "ImageUnavailableError: image 1 of 1 (file-Text0001) is not a PNG, JPEG, WebP or "
                               "GIF image, the only kinds Tally takes"}
    # conversations.json alone: the same conversations, every image "[image]".
    assert [g["contentHash"] for g in from_json["conversations"]] == [content_hash(normalise(b)) for b in bodies]
    assert refused == [
        {"error": "ExportError: this ZIP holds no conversations.json: it is not a ChatGPT data export"},
        {"error": "ExportError: its conversations.json is not UTF-8 text"},
        {"error": refused[2]["error"]},
    ]
    assert refused[2]["error"].startswith("ExportError: Its conversations.json is not JSON: ")
