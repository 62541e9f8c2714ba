"""Balances from epoch to epoch (DESIGN.md §5, §6): the balances root, and an epoch's balances
rebuilt from public documents alone.

Since manifest version 3 an epoch publishes only the balances it changed, and every few epochs
(and on demand) a full snapshot (``ledger.formats.BalancesSnapshot``), so that sealing, proving
and auditing an epoch cost the epoch's own work plus one balances root, not a walk through every
account of every epoch before it. ``balances_at`` is how any reader, the operator's proof server
or an outsider, gets one epoch's full balances back: from the newest snapshot at or before it
(or a version 1-2 manifest, which lists every balance), forward through the changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from tiny_keccak import keccak256

from ledger.encoding import is_account_address
from ledger.errors import InvariantError
from ledger.formats import BalancesSnapshot, Manifest
from ledger.merkle.standard import StandardMerkleTree

EMPTY_BALANCES_ROOT = keccak256(b"")
"""OpenZeppelin's tree has no empty form; an epoch in which no account holds points (every
contribution scored zero) commits to keccak256 of nothing, which no leaf can prove against."""


class BalancesUnavailableError(InvariantError):
    """An epoch's balances cannot be rebuilt: a snapshot on the way back does not agree with the
    root its epoch published. Published documents never change, so this is the operator's fault."""


def balances_root(values: Iterable[tuple[str, int]]) -> bytes:
    """The root of the balances tree of ``values`` (``(account, balance)``, in any order: the
    tree sorts its leaves by hash), ``EMPTY_BALANCES_ROOT`` for none."""
    return columns_root(*balance_columns(values))


def balance_columns(values: Iterable[tuple[str, int]]) -> tuple[bytes, list[int]]:
    """``values`` as the tree's two columns: the 20-byte addresses end to end, and the amounts.
    About a third of the memory of a list of pairs at a million accounts, so a seal streams its
    rows straight into them."""
    accounts, amounts = bytearray(), []
    for account, balance in values:
        accounts += bytes.fromhex(account[2:])
        amounts.append(balance)
    return bytes(accounts), amounts


def columns_root(accounts: bytes, amounts: list[int]) -> bytes:
    """The root of the balances tree of two columns (``balance_columns``)."""
    if not amounts:
        return EMPTY_BALANCES_ROOT
    return bytes.fromhex(StandardMerkleTree.of_balances(accounts, amounts).root[2:])


def listed(balances: Mapping[str, int]) -> list[tuple[str, int]]:
    """The non-zero balances of contributor accounts (not the rewards pool), sorted by
    lower-cased address: the order every published list of balances uses."""
    return sorted(((account, balance) for account, balance in balances.items()
                   if balance and is_account_address(account)), key=lambda pair: pair[0].lower())


def apply_changes(balances: dict[str, int], changed: Iterable[tuple[str, int]]) -> None:
    """Set each changed balance; a balance that fell to zero leaves the mapping."""
    for account, balance in changed:
        key = account.lower()
        if balance:
            balances[key] = balance
        else:
            balances.pop(key, None)


def balances_at(manifest_cid: str, read_manifest: Callable[[str], Manifest],
                read_snapshot: Callable[[str], BalancesSnapshot],
                known: Callable[[str], Mapping[str, int] | None] = lambda _cid: None) -> dict[str, int]:
    """Every non-zero balance after the epoch whose manifest is ``manifest_cid``, keyed by
    lower-cased address.

    Walks back through ``previous.manifestCid`` to the newest epoch whose full balances are at
    hand: ``known(cid)`` (a caller's cache, preferred to fetching a snapshot), a snapshot the
    manifest names, a version 1-2 manifest's full list, or the first epoch (nothing before it);
    then applies each later epoch's changes. Each snapshot used is checked against the root its
    own manifest names."""
    chain: list[Manifest] = []
    base: dict[str, int] = {}
    cid = manifest_cid
    while True:
        cached = known(cid)
        if cached is not None:
            base = dict(cached)
            break
        manifest = read_manifest(cid)
        if manifest.balances.values is not None:  # versions 1-2 list every balance
            base = {account.lower(): balance for account, balance in manifest.balances.values}
            break
        previous = None if manifest.previous is None else manifest.previous.manifest_cid
        # A snapshot unless the epoch before is at hand: one epoch's changes cost less than it.
        if manifest.balances.snapshot is not None and (previous is None or known(previous) is None):
            base = _snapshot_balances(manifest, manifest.balances.snapshot, read_snapshot)
            break
        chain.append(manifest)
        if previous is None:  # the first epoch: its changes are every balance
            break
        cid = previous
    for manifest in reversed(chain):
        apply_changes(base, manifest.balances.changed or ())
    return base


def _snapshot_balances(manifest: Manifest, cid: str,
                       read_snapshot: Callable[[str], BalancesSnapshot]) -> dict[str, int]:
    snapshot = read_snapshot(cid)
    if snapshot.epoch != manifest.epoch or snapshot.root != manifest.balances.root:
        raise BalancesUnavailableError(f"snapshot {cid} is not epoch {manifest.epoch}'s")
    if balances_root(snapshot.values) != manifest.balances.root:
        raise BalancesUnavailableError(f"snapshot {cid} does not give epoch {manifest.epoch}'s root")
    return {account.lower(): balance for account, balance in snapshot.values}


def changed_balances(before: Mapping[str, int], after: Mapping[str, int]) -> list[tuple[str, int]]:
    """The contributor accounts of ``before`` (the balance before the epoch of every account its
    journal touched) whose balance in ``after`` differs, each with its balance after (0 once
    emptied), sorted by lower-cased address: a version 3 manifest's ``balances.changed``."""
    return sorted(((account, after.get(account, 0)) for account, balance in before.items()
                   if is_account_address(account) and after.get(account, 0) != balance),
                  key=lambda pair: pair[0].lower())
