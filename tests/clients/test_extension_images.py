"""The extension shares a ChatGPT history conversation with its images: downloaded through
ChatGPT's file API, shown as thumbnails in the review, signed once with the selection and stored
by Tally as canonical version 2 with the images' own CIDs.

Playwright (tests/clients/extension_images_e2e.mjs) plays the user in headless Chromium with the
unpacked extension, against Tally's real API in process (with CORS for the extension's origin) on
a real port. chatgpt.com with its file storage and the wallet are the stand-ins, as neither can
exist here: chatgpt.com is answered from recorded shapes (tests/clients/chatgpt_backend.py), with
images Pillow makes in this test behind the recorded file-API answers; the wallet is the EIP-1193
provider of tests/js/wallet_stand_in.mjs in the /connect page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import select

from api.app import ChainInfo, Services, create_app
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.content import LocalBlockStore, cid_of
from ledger.conversation import canonical_bytes, content_hash, image_cids, normalise
from ledger.db import make_engine, make_sessionmaker
from ledger.eip712 import Domain
from ledger.intake import Intake, Limits
from ledger.migrate import upgrade
from ledger.models import Contribution, ContributionImage
from ledger.outbox import OutboxStore
from ledger.personal_data import redact_for_submission
from ledger.scoring import score
from tally.wiring import default_terms
from tests.api.conftest import OPERATOR_KEY
from tests.clients.chatgpt_backend import SIGNED_HOST, file_service, history
from tests.clients.conftest import EXTENSION, extension_id, needed
from tests.clients.test_extension import build_extension, chromium  # noqa: F401  (fixture)
from tests.conftest import ROOT
from tests.images.images import image_bytes
from tests.support.line_scripts import line_script
from tests.support.server import serving_app

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).resolve().parent / "extension_images_e2e.mjs"
ARTIFACTS = ROOT / "test-artifacts" / "extension-images"
WALLET = Account.from_key("0x" + "6e" * 32)
CHAIN_ID, CONTRACT = 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3"

# Two generations: a DALL-E one behind a signed link (file-service://), a newer one behind a
# chatgpt.com estuary link (sediment://). The first is above 256 KiB: its CID is a dag-pb root.
LIGHTHOUSE = "file-LighthouseStandIn0001"
HARBOUR, GONE = "file_00000000cccc7230b9ede110f49fccb5", "file_00000000dddd7230b9ede110f49fccb5"
POSTER = "file_00000000eeee7230b9ede110f49fccb5"  # above the API's limits.maxImageBytes
MAX_IMAGE_BYTES = 1 << 20


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[str, Intake]]:
    """The real API over a fresh SQLite ledger and block store, on a real port, admitting the
    extension's origin by CORS."""
    db_url = f"sqlite:///{tmp_path / 'tally.db'}"
    upgrade(db_url)
    sessions = make_sessionmaker(make_engine(db_url))
    domain = Domain(CHAIN_ID, CONTRACT)
    intake = Intake(sessions=sessions, store=OutboxStore(LocalBlockStore(tmp_path / "blocks", fsync=False), sessions),
                    consent=ConsentPolicy(domain, Terms(default_terms()), 600),
                    signer=OperatorSigner(domain, OPERATOR_KEY),
                    limits=Limits(256 * 1024, 100, 600, max_image_bytes=MAX_IMAGE_BYTES))
    app = create_app(Services.of(intake, ChainInfo(CHAIN_ID, CONTRACT, None, None)),
                     cors_origins=[f"chrome-extension://{extension_id()}"])
    with serving_app(app) as url:
        yield url, intake


def conversations() -> list[dict[str, Any]]:
    """The history's four conversations, as turns for chatgpt_backend.history: two generated
    images, a photo ChatGPT no longer has, text alone, a poster larger than Tally takes."""
    return [
        {"model": "gpt-4o", "messages": [
            {"role": "user", "content": "Paint me a lighthouse on a cliff at dawn, in watercolour, with gulls."},
            {"role": "tool", "image": f"file-service://{LIGHTHOUSE}",
             "content": "A watercolour lighthouse on a cliff at dawn, gulls circling, soft pastel light."},
            {"role": "assistant", "content": "Here is your lighthouse at dawn. The gulls circle the lantern room."},
            {"role": "user",
             "content": "Now the harbour below it at night, with the lighthouse beam crossing the water."},
            {"role": "tool", "image": f"sediment://{HARBOUR}",
             "content": "A night harbour under a cliff, a lighthouse beam sweeping over dark water."},
            {"role": "assistant",
             "content": "The harbour at night: moored boats, and the beam laid across the bay."}]},
        {"model": "gpt-4o", "messages": [
            {"role": "user", "content": "What breed is the dog in this photo of mine?", "image": f"sediment://{GONE}"},
            {"role": "assistant",
             "content": "It looks like a border collie: the white blaze and the half-pricked ears."}]},
        {"model": "gpt-4o", "messages": [
            {"role": "user", "content": "How long should a soft-boiled egg cook, from boiling water?"},
            {"role": "assistant",
             "content": "Six and a half minutes from a rolling boil, then cold water for a minute."}]},
        {"model": "gpt-4o", "messages": [
            {"role": "user", "content": "Which typeface is used on this concert poster?", "image": f"sediment://{POSTER}"},
            {"role": "assistant",
             "content": "A condensed grotesque, close to Knockout or Tungsten, set in capitals."}]},
    ]


def test_a_conversation_with_two_generated_images_is_reviewed_signed_once_and_stored_as_version_2(
        chromium: str, tmp_path: Path) -> None:  # noqa: F811
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        needed("the npm package playwright-core (npm ci)")
    build_extension()
    big, small = image_bytes("PNG", 41, size=(320, 320)), image_bytes("WEBP", 42, size=(96, 64))
    poster = image_bytes("PNG", 43, size=(640, 640))
    assert len(big) > 256 * 1024 > len(small) and len(poster) > MAX_IMAGE_BYTES > len(big)
    backend = history(conversations(), time.time())
    files = file_service({LIGHTHOUSE: big, HARBOUR: small, POSTER: poster}, estuary=frozenset({HARBOUR}))
    keys = [item["id"] for item in backend["items"]]
    bodies = backend["conversations"]
    pictures = {f"file-service://{LIGHTHOUSE}": big, f"sediment://{HARBOUR}": small}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with serving(tmp_path) as (api, intake):
        request = tmp_path / "script-input.json"
        request.write_text(json.dumps({
            "chromium": chromium, "extensionDir": str(EXTENSION), "userDataDir": str(tmp_path / "profile"),
            "screenshots": str(ARTIFACTS), "api": api, "chainId": CHAIN_ID, "walletKey": WALLET.key.hex(),
            "history": backend, "files": files}))
        with line_script(["node", str(SCRIPT), str(request)], timeout=300) as user:
            done = user.expect("done")

    # What the extension should have made of the first conversation: the reference's own reading.
    expected = normalise(redact_for_submission(normalise(bodies[keys[0]], images=pictures).to_canonical())[0])
    assert expected.image_cids == [cid_of(big), cid_of(small)] and cid_of(big).startswith("bafybei")
    text_only = normalise(redact_for_submission(bodies[keys[2]])[0])

    # The history's estimates are the server's scorer: quality-v3 with images.
    rows = {r["key"]: r for r in done["rows"]}
    assert int(rows[keys[0]]["points"]) == score(expected).points and score(expected).version == "quality-v3"
    assert int(rows[keys[2]]["points"]) == score(text_only).points
    assert rows[keys[1]]["shared"] == (f"cannot be shared: image 1 of 1 ({GONE}) is no longer stored by ChatGPT "
                                       "(deleted, or in another account)")
    # The limit the API publishes (GET /v1/config) is the page's, before anything is signed.
    assert rows[keys[3]]["shared"] == (f"cannot be shared: image 1 of 1 ({POSTER}) is larger than the 1.0 MB "
                                       "Tally takes for one image (limits.maxImageBytes)")

    # The review: each image beside its message, the one without its image left out in words.
    review = done["review"]
    assert review["title"] == "Share 2 conversations"
    assert [i["state"] for i in review["items"]] == ["ready", "unshareable", "ready", "unshareable"]
    first = review["items"][0]
    assert f"contentHash {content_hash(expected)}" in first["summary"] and "2 images" in first["summary"]
    assert f"{score(expected).points} points (estimate)" in first["summary"]
    assert [m["cids"] for m in first["messages"]] == [list(m.images) for m in expected.messages]
    shown = [t for m in first["messages"] for t in m["thumbnails"]]
    assert [(t["width"], t["height"]) for t in shown] == [(320, 320), (96, 64)]  # decoded: real images
    assert [m["text"] for m in first["messages"]] == [m.role + m.content for m in expected.messages]
    assert review["items"][1]["text"].endswith(f"cannot be shared: image 1 of 1 ({GONE}) is no longer stored by "
                                               "ChatGPT (deleted, or in another account)")
    assert review["total"].endswith("2 of the selection cannot be shared and is left out.")

    # One signature for both, and both accepted.
    assert done["walletCalls"].count("eth_signTypedData_v4") == 1
    assert done["shared"]["status"] == "2 of 2 accepted; 0 refused.", done["shared"]

    # What Tally holds: version 2 naming those CIDs, each image's bytes hashing to its CID, and the
    # points the Python scorer gives the same canonical bytes.
    with intake.sessions() as session:
        stored = session.scalar(select(Contribution).where(Contribution.content_hash == bytes.fromhex(
            content_hash(expected)[2:])))
        assert stored is not None
        images = session.scalars(select(ContributionImage).where(ContributionImage.contribution_id == stored.id)
                                 .order_by(ContributionImage.position)).all()
    canonical = intake.store.get(stored.cid)
    assert canonical == canonical_bytes(expected)
    assert json.loads(canonical)["v"] == 2 and image_cids(canonical) == [cid_of(big), cid_of(small)]
    assert [(i.cid, i.media_type, i.size) for i in images] == [
        (cid_of(big), "image/png", len(big)), (cid_of(small), "image/webp", len(small))]
    for row, data in zip(images, (big, small), strict=True):
        kept = intake.store.get(row.stored_cid)
        assert kept == data and cid_of(kept) == row.cid
    assert stored.points == score(normalise(json.loads(canonical))).points == score(expected).points
    assert stored.scorer_version == "quality-v3"

    # The poster was refused when fetched (by its Content-Length), and not fetched again.
    assert done["posterReads"] == 1
    # Only GETs to chatgpt.com and its file storage; the bearer token never left chatgpt.com.
    assert set(done["hosts"]) <= {"https://chatgpt.com", SIGNED_HOST, api}, done["hosts"]
    assert SIGNED_HOST in done["hosts"]
    assert done["readMethods"] == ["GET"]
    assert done["signedLinkAuthorizations"] == [""]
    assert done["pageErrors"] == []
