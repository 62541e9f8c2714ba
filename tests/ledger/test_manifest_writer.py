"""The manifest written from streamed leaves and journal lines is the JCS of the whole manifest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ledger import jcs
from ledger.formats import JournalLine, LogLeaf, Manifest, ManifestBalances, ManifestLog, PreviousEpoch, Scorer
from ledger.manifest_writer import JcsArray, write_manifest

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ACCOUNT = "0x" + "ab" * 20


def _manifest(leaves: tuple[LogLeaf, ...], journal: tuple[JournalLine, ...], size: int) -> Manifest:
    return Manifest(
        chain_id=31337, contract=CONTRACT, epoch=2,
        previous=PreviousEpoch(1, 3, bytes(range(32)), bytes(32), "bafkreib"),
        log=ManifestLog(size, bytes([7]) * 32, leaves, (bytes([1]) * 32,)),
        journal=journal,
        balances=ManifestBalances(bytes([9]) * 32, 123, changed=((ACCOUNT, 5),), accounts=1),
        scorer=Scorer("v1", "0x" + "cd" * 32), sealed_at=1_700_000_000,
    )


@pytest.mark.parametrize("count", [0, 1, 3, 40])
@pytest.mark.parametrize("other_keys", [False, True], ids=["fast path", "rfc8785 path"])
def test_the_streamed_manifest_is_the_jcs_of_the_whole(count: int, other_keys: bool) -> None:
    # A non-ASCII key sends the whole manifest, and each leaf with it, through rfc8785.
    leaves = tuple(
        LogLeaf(3 + i, ACCOUNT, bytes([i]) * 32, 1_700_000_000 + i, 10**30 + i, f"bafk{i}", "v1",
                {"words": i, "note": "é\u2028\"\\\x01", "ratïo" if other_keys else "ratio": 7})
        for i in range(count))
    journal = tuple(JournalLine(i + 1, ACCOUNT, 5 - i, "accrual", f"c/{i}é", 1_700_000_000)
                    for i in range(count))
    whole = jcs.dumps(_manifest(leaves, journal, 3 + count).to_json())
    leaf_array, journal_array = JcsArray(piece=1000), JcsArray(piece=1000)  # several pieces at 40
    for leaf in leaves:
        leaf_array.add(leaf.to_json())
    for line in journal:
        journal_array.add(line.to_json())
    out = io.BytesIO()
    assert write_manifest(_manifest((), (), 3 + count), journal_array, leaf_array, out) == len(whole)
    streamed = out.getvalue()
    assert streamed == whole
    assert len(json.loads(streamed)["log"]["leaves"]) == count
    emptied = io.BytesIO()
    assert leaf_array.write_to(emptied) == 0 and journal_array.write_to(emptied) == 0


def test_the_manifest_written_to_a_file_is_the_same_bytes(tmp_path: Path) -> None:
    # Enough leaves that both arrays spill many 1000-byte pieces to their temporary files.
    leaves = tuple(LogLeaf(3 + i, ACCOUNT, bytes([i % 256]) * 32, 1_700_000_000 + i, i, f"bafk{i}", "v1",
                           {"words": i}) for i in range(300))
    journal = tuple(JournalLine(i + 1, ACCOUNT, i, "accrual", f"c/{i}", 1_700_000_000) for i in range(300))
    whole = jcs.dumps(_manifest(leaves, journal, 303).to_json())
    leaf_array, journal_array = JcsArray(piece=1000), JcsArray(piece=1000)
    for leaf in leaves:
        leaf_array.add(leaf.to_json())
    for line in journal:
        journal_array.add(line.to_json())
    with (tmp_path / "manifest").open("w+b") as out:
        assert write_manifest(_manifest((), (), 303), journal_array, leaf_array, out) == len(whole)
        out.seek(0)
        assert out.read() == whole
