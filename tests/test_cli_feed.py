"""`tally publish` and `tally engage` against a real `tally serve` on PostgreSQL: a contribution
published by its contributor, liked and remixed by others, withdrawn; each refusal of the API
(not found, not in the feed, not the contributor's signature, already liked, one's own, a remix of
someone else's contribution, over the day's limit with its Retry-After) one `tally: error:` line
with exit code 2 that changed nothing, and an unreachable API exit code 3."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from eth_keys.datatypes import PrivateKey

from ledger.errors import ExitCode
from tally.client import sign_submission
from tally.keys import write_keystore
from tests.api.conftest import OPERATOR_KEY, contributor_key, sample_conversation
from tests.support.server import API_ONLY, free_port, tally_server
from tests.test_cli import one_line_error, tally


def _submit(url: str, key: PrivateKey, tag: str) -> dict[str, Any]:
    config = httpx.get(f"{url}/v1/config").json()
    body = sign_submission(config, sample_conversation(tag), key, nonce=1, issued_at=int(time.time()))
    answer = httpx.post(f"{url}/v1/contributions", json=body, timeout=30)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _feed(url: str) -> dict[int, dict[str, Any]]:
    return {item["id"]: item for item in httpx.get(f"{url}/v1/feed").json()["items"]}


def test_publish_like_remix_and_withdraw_from_the_command_line(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_DATABASE_URL": pg_url, "TALLY_ENGAGEMENTS_PER_DAY": "2", "TALLY_KEY_PASSPHRASE": "pass"}
    creator, fan, other = (contributor_key(n) for n in (0, 1, 2))
    files = {}
    for name, key in (("creator", creator), ("fan", fan), ("other", other)):
        files[name] = str(tmp_path / f"{name}.json")
        write_keystore(Path(files[name]), key.to_bytes(), "pass")
    with tally_server(home, env=env) as url:
        mine, remix, theirs = (_submit(url, key, tag) for key, tag in
                               ((creator, "creator"), (fan, "fan's remix"), (other, "other")))
        api = ("--api", url)

        # Not in the feed yet: nothing to like. A key that is not the contributor's cannot publish.
        unpublished = one_line_error(tally("engage", str(mine["id"]), "--like", "--key", files["fan"], *api, env=env))
        assert "404" in unpublished and "not in the feed" in unpublished
        stolen = one_line_error(tally("publish", str(mine["id"]), "--key", files["fan"], *api, env=env))
        assert "signer-mismatch" in stolen and "only the contributor publishes" in stolen
        missing = one_line_error(tally("publish", "999999", "--key", files["creator"], *api, env=env))
        assert "404" in missing and "not-found" in missing
        assert _feed(url) == {}

        # Published by its contentHash, as `tally submit` printed it.
        published = tally("publish", mine["contentHash"], "--key", files["creator"], *api, env=env)
        assert published.returncode == 0, published.stderr
        assert published.stdout.startswith(f"contribution {mine['id']} is in the public feed")
        assert list(_feed(url)) == [mine["id"]]

        liked = tally("engage", str(mine["id"]), "--like", "--key", files["fan"], "--json", *api, env=env)
        assert liked.returncode == 0, liked.stderr
        answer = json.loads(liked.stdout)
        assert (answer["actor"], answer["kind"], answer["points"]) == (fan.public_key.to_checksum_address(), 1, "1")
        again = one_line_error(tally("engage", str(mine["id"]), "--like", "--key", files["fan"], *api, env=env))
        assert "409" in again and "already-engaged" in again
        own = one_line_error(tally("engage", str(mine["id"]), "--like", "--key", files["creator"], *api, env=env))
        assert "403" in own and "self-engagement" in own
        assert _feed(url)[mine["id"]]["likes"] == 1

        # A remix names the actor's own new contribution; someone else's is refused.
        borrowed = one_line_error(tally("engage", str(mine["id"]), "--remix", remix["contentHash"],
                                        "--key", files["other"], *api, env=env))
        assert "actor's own" in borrowed
        remixed = tally("engage", str(mine["id"]), "--remix", remix["contentHash"], "--key", files["fan"],
                        *api, env=env)
        assert remixed.returncode == 0, remixed.stderr
        assert remixed.stdout.strip() == (f"{fan.public_key.to_checksum_address()} remixed (with "
                                          f"{remix['contentHash']}) contribution {mine['id']}: its creator "
                                          f"{mine['contributor']} earned 5 points")
        assert (_feed(url)[mine["id"]]["likes"], _feed(url)[mine["id"]]["remixes"]) == (1, 1)

        # The fan's third engagement today is over TALLY_ENGAGEMENTS_PER_DAY (2): 429, retry tomorrow.
        assert tally("publish", str(theirs["id"]), "--key", files["other"], *api, env=env).returncode == 0
        limited = one_line_error(tally("engage", str(theirs["id"]), "--like", "--key", files["fan"], *api, env=env))
        assert "429" in limited and "rate-limited" in limited
        retry = int(limited.rsplit("retry after ", 1)[1].removesuffix(" s"))
        assert 0 < retry <= 86400
        assert _feed(url)[theirs["id"]]["likes"] == 0
        history = httpx.get(f"{url}/v1/accounts/{mine['contributor']}?limit=100").json()["history"]["items"]
        assert sorted(entry["amount"] for entry in history if entry["kind"] == "engagement") == ["1", "5"]

        # Usage errors: one line, exit 2, before anything is signed.
        neither = one_line_error(tally("engage", str(mine["id"]), "--key", files["fan"], *api, env=env))
        assert "--like or --remix" in neither
        assert "contentHash" in one_line_error(tally("engage", str(mine["id"]), "--remix", "0x12",
                                                     "--key", files["fan"], *api, env=env))
        assert "keystore" in one_line_error(tally("publish", str(mine["id"]), "--key", str(tmp_path / "none.json"),
                                                  *api, env=env))

        withdrawn = tally("publish", str(mine["id"]), "--withdraw", "--key", files["creator"], "--json", *api, env=env)
        assert withdrawn.returncode == 0, withdrawn.stderr
        assert json.loads(withdrawn.stdout) == {"id": mine["id"], "visible": False, "publishedAt": None}
        assert list(_feed(url)) == [theirs["id"]]
        assert httpx.get(f"{url}/v1/feed/{mine['id']}").status_code == 404
    gone = one_line_error(tally("publish", str(mine["id"]), "--key", files["creator"], "--api",
                                f"http://127.0.0.1:{free_port()}", env=env), ExitCode.UNAVAILABLE)
    assert "cannot reach" in gone
