"""``tally doctor``: is this host ready to run its part of the deployment?

One check a line: configuration, database (reachable, schema at the newest revision), keys (they
load, and they are the deployment's: ``ledger.identity``, read only), chain (reachable, the chain
id the settings sign for), contract (a TallyAnchor answers at the address, and the anchor key holds
ANCHOR_ROLE and has gas money), IPFS (the node answers) and the blockstores (writable). Nothing is
created or recorded; no secret is printed (URLs lose their credentials). A check that cannot run
because an earlier one failed, or that does not apply (no IPFS configured), is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ledger.errors import ExitCode, TallyError

OK, FAIL, SKIP = "ok", "FAIL", "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str
    exit_code: ExitCode = ExitCode.OK

    def line(self) -> str:
        return f"{self.status:<5} {self.name}: {self.detail}"


def safe_url(url: str) -> str:
    """``url`` without its user, password, query and fragment (where API keys live)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _failure(name: str, exc: BaseException) -> Check:
    """A failed check from an exception, its message only where Tally wrote it (others may hold
    a URL with a password: their type is named instead)."""
    if isinstance(exc, TallyError):
        return Check(name, FAIL, str(exc), exc.exit_code)
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return Check(name, FAIL, f"unreachable ({type(exc).__name__})", ExitCode.UNAVAILABLE)
    return Check(name, FAIL, f"{type(exc).__name__}", ExitCode.UNAVAILABLE)


def run_checks(load: Callable[[], object]) -> Iterator[Check]:
    """Every check, in order; ``load`` reads the settings (a failure there is the first check's)."""
    from pydantic import ValidationError

    from tally.settings import Settings

    try:
        settings = load()
        assert isinstance(settings, Settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        yield Check("configuration", FAIL, f"invalid setting {'.'.join(str(p) for p in first['loc'])}: "
                                           f"{first['msg']}", ExitCode.BAD_INPUT)
        return
    except (FileNotFoundError, ValueError) as exc:
        yield Check("configuration", FAIL, str(exc), ExitCode.BAD_INPUT)
        return
    source = "defaults" if not settings.database_url and not settings.rpc_url else "settings"
    yield Check("configuration", OK, f"data folder {settings.home}, from {source}")
    database = _database(settings)
    yield database
    yield from _keys(settings, database.status == OK)
    chain = _chain(settings)
    yield chain.check
    yield _contract(settings, chain)
    yield _ipfs(settings)
    yield from _blockstores(settings)
    yield _scorer()


def _scorer() -> Check:
    """Whether quality-v2's features are counted in C: the same points either way, the Python
    reference about nine times the CPU (bench/scoring.py --speed)."""
    from ledger.scoring import v2

    if v2.COMPILED:
        return Check("scorer", OK, f"{v2.VERSION} features counted in C (ledger/scoring/_features.c)")
    return Check("scorer", SKIP, f"{v2.VERSION} features counted by the Python reference, the same points at about"
                                 " nine times the CPU: ledger/scoring/_features.c was not built (install with a C"
                                 " compiler)")


def _database(settings: object) -> Check:
    from sqlalchemy import inspect, text

    from ledger.db import make_engine
    from ledger.migrate import current_heads
    from tally.settings import Settings

    assert isinstance(settings, Settings)
    url = settings.db_url
    if url == f"sqlite:///{settings.home / 'tally.db'}" and not (settings.home / "tally.db").is_file():
        return Check("database", FAIL, f"no SQLite ledger at {settings.home / 'tally.db'}: run `tally db upgrade` "
                                       "(or set TALLY_DATABASE_URL)", ExitCode.BAD_INPUT)
    try:
        engine = make_engine(url)
        shown = engine.url.render_as_string(hide_password=True)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                if not inspect(conn).has_table("alembic_version"):
                    return Check("database", FAIL, f"{shown} has no Tally schema: run `tally db upgrade`",
                                 ExitCode.BAD_INPUT)
                revisions = {str(r) for r in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()}
        finally:
            engine.dispose()
    except Exception as exc:  # an unreachable server, refused credentials: named, never the URL
        return Check("database", FAIL, f"cannot be reached ({type(getattr(exc, 'orig', exc)).__name__})",
                     ExitCode.UNAVAILABLE)
    heads = set(current_heads(url))
    if revisions != heads:
        return Check("database", FAIL, f"{shown}: schema at {', '.join(sorted(revisions))}, this version needs "
                                       f"{', '.join(sorted(heads))}: run `tally db upgrade`", ExitCode.BAD_INPUT)
    return Check("database", OK, f"{shown}, schema at {', '.join(sorted(heads))}")


def _keys(settings: object, database_ok: bool) -> Iterator[Check]:
    from ledger.identity import ANCHOR, MASTER_KEY, OPERATOR, check_identity, master_key_fingerprint
    from tally.keys import anchor_key, master_key, operator_key
    from tally.settings import Settings

    assert isinstance(settings, Settings)
    # The embedded default generates missing keys on first use; the doctor generates nothing.
    missing = [what for what, configured, generated in [
        ("operator key", settings.operator_key or settings.operator_keyfile, "operator-key.json"),
        ("master key", settings.master_key or not settings.privacy, "master.key"),
    ] if not configured and not (settings.home / generated).exists()]
    if missing:
        yield Check("keys", SKIP, f"no {' and no '.join(missing)} configured or generated yet (`tally serve` "
                                  "generates them for a single host; every host of a deployment needs the same)")
        return
    try:
        values = {OPERATOR: operator_key(settings).public_key.to_checksum_address(),
                  ANCHOR: anchor_key(settings).public_key.to_checksum_address(),
                  MASTER_KEY: master_key_fingerprint(master_key(settings))}
    except TallyError as exc:
        yield Check("keys", FAIL, str(exc), exc.exit_code)
        return
    what = f"operator {values[OPERATOR]}, anchor {values[ANCHOR]}, " + (
        "public mode (no master key)" if values[MASTER_KEY] == "none" else "master key loaded")
    if not database_ok:
        yield Check("keys", OK, what + "; not compared with the deployment's (no database)")
        return
    from sqlalchemy import inspect

    from ledger.db import make_engine, make_sessionmaker

    engine = make_engine(settings.db_url)
    try:
        if not inspect(engine).has_table("deployment_identity"):
            yield Check("keys", OK, what + "; the deployment has recorded none yet")
            return
        with make_sessionmaker(engine)() as session:
            recorded = check_identity(session, values, now=int(time.time()), record=False)
    except TallyError as exc:
        yield Check("keys", FAIL, str(exc), exc.exit_code)
        return
    finally:
        engine.dispose()
    same = "the deployment's" if recorded else "the deployment has recorded none yet"
    yield Check("keys", OK, f"{what}; {same}")


@dataclass
class _Chain:
    check: Check
    w3: object | None = None
    chain_id: int | None = None


def _chain(settings: object) -> _Chain:
    from anchoring.chain import connect
    from anchoring.devchain import rpc_ready
    from tally.settings import Settings

    assert isinstance(settings, Settings)
    url = settings.rpc_url or f"http://127.0.0.1:{settings.anvil_port}"
    if not settings.rpc_url and not rpc_ready(url):
        return _Chain(Check("chain", SKIP, f"the embedded dev chain is not running at {url} (`tally serve` "
                                           "starts it)"))
    try:
        w3 = connect(url, timeout=5.0)
        chain_id, block = int(w3.eth.chain_id), int(w3.eth.block_number)
    except Exception as exc:
        return _Chain(Check("chain", FAIL, f"{safe_url(url)} does not answer ({type(exc).__name__})",
                            ExitCode.UNAVAILABLE))
    if settings.rpc_url and settings.contract_address and chain_id != settings.chain_id:
        return _Chain(Check("chain", FAIL, f"{safe_url(url)} is chain {chain_id}, but TALLY_CHAIN_ID is "
                                           f"{settings.chain_id} (receipts would be signed for another chain)",
                            ExitCode.BAD_INPUT), w3, chain_id)
    return _Chain(Check("chain", OK, f"chain {chain_id} at {safe_url(url)}, block {block}"), w3, chain_id)


def _contract(settings: object, chain: _Chain) -> Check:
    from web3 import Web3

    from anchoring.contract import TallyAnchor
    from anchoring.identity import check_tally_anchor
    from tally.home import recorded_chain
    from tally.keys import anchor_key
    from tally.settings import Settings

    assert isinstance(settings, Settings)
    if chain.w3 is None or chain.chain_id is None:
        return Check("contract", SKIP, "no chain to ask")
    w3 = chain.w3
    assert isinstance(w3, Web3)
    try:
        info = recorded_chain(settings)
    except TallyError as exc:
        return Check("contract", FAIL, str(exc), exc.exit_code)
    if info is None:
        if not settings.rpc_url:
            return Check("contract", SKIP, "none deployed yet (`tally serve` deploys one on the dev chain)")
        return Check("contract", FAIL, "no TallyAnchor configured: set TALLY_CONTRACT_ADDRESS or run `tally deploy`",
                     ExitCode.BAD_INPUT)
    try:
        latest, _ = check_tally_anchor(w3, info.contract, chain.chain_id, int(w3.eth.block_number))
        anchorer = anchor_key(settings).public_key.to_checksum_address()
        role = TallyAnchor(w3, info.contract).has_anchor_role(anchorer)
        balance = int(w3.eth.get_balance(Web3.to_checksum_address(anchorer)))
    except Exception as exc:
        return _failure("contract", exc)
    if not role:
        return Check("contract", FAIL, f"TallyAnchor at {info.contract} (latest epoch {latest}), but the anchor key "
                                       f"{anchorer} does not hold ANCHOR_ROLE", ExitCode.BAD_INPUT)
    if balance == 0:
        return Check("contract", FAIL, f"TallyAnchor at {info.contract}, but the anchor key {anchorer} has no funds "
                                       "for gas", ExitCode.BAD_INPUT)
    return Check("contract", OK, f"TallyAnchor at {info.contract}, latest epoch {latest}; the anchor key holds "
                                 f"ANCHOR_ROLE and {balance / 10**18:.4f} ETH")


def _ipfs(settings: object) -> Check:
    from tally.settings import Settings
    from tally.wiring import open_ipfs

    assert isinstance(settings, Settings)
    if not settings.ipfs_url:
        return Check("ipfs", SKIP, "not configured: objects stay in the database"
                     + (" and the shared blockstore" if settings.shared_blocks_dir else ""))
    try:
        store = open_ipfs(settings)
        assert store is not None
        with store:
            version = store.version()
    except Exception as exc:
        return _failure("ipfs", exc) if isinstance(exc, TallyError) else Check(
            "ipfs", FAIL, f"{safe_url(settings.ipfs_url)} does not answer ({type(exc).__name__})",
            ExitCode.UNAVAILABLE)
    return Check("ipfs", OK, f"{safe_url(settings.ipfs_url)} answers, version {version.get('Version', '?')}")


def _blockstores(settings: object) -> Iterator[Check]:
    from ledger.content import LocalBlockStore
    from tally.settings import Settings

    assert isinstance(settings, Settings)
    places: list[tuple[str, Path]] = [("cache", settings.blocks_dir)]
    if settings.shared_blocks_dir:
        places.append(("shared blockstore", settings.shared_blocks_dir))
    for name, path in places:
        if name == "cache" and not path.exists():
            yield Check(name, OK, f"{path} (created on first use)")
            continue
        try:
            store = LocalBlockStore(path)
            store.get(store.put(b""))
        except Exception as exc:
            yield Check(name, FAIL, f"{path} is not writable ({type(exc).__name__})", ExitCode.BAD_INPUT)
            continue
        yield Check(name, OK, f"{path} is writable")
