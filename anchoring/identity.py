"""Whether the code at an address answers as TallyAnchor does, asked before anything is audited.

An audit that scanned a mistyped address would find no ``EpochAnchored`` event and pass over
zero epochs; so the audit first asks the chain what is there. No code: ``NoContractError``.
Code that does not answer these calls as TallyAnchor does: ``NotTallyAnchorError`` naming the
call.

1. ``supportsInterface`` as EIP-165 detects it: true for ERC-165 itself (``0x01ffc9a7``), false
   for ``0xffffffff`` (a contract answering "yes" to everything is not one), then true for
   OpenZeppelin's ``IAccessControl`` (who may anchor is a role) and for ``ITallyAnchor`` (its ids
   computed from the committed ABI).
2. ``latestEpoch()``, one uint64: the contract's own count of anchored epochs, which the events
   the audit scans must match.
3. ``headerHash(n)`` for the latest epoch (or epoch 1 when none is anchored): one word, not zero
   exactly when ``n`` is at most ``latestEpoch()``.

Answers must be exactly as long as TallyAnchor's; every call is made at one block, the one the
audit scans events up to. The bytecode is not compared: the same source deployed with other
constructor arguments or another compiler run must pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any, cast

from eth_abi.abi import encode as abi_encode
from eth_typing import ABIFunction
from eth_utils.abi import function_abi_to_4byte_selector, function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from anchoring.artifact import load_artifact
from anchoring.audit_failures import NoContractError, NotTallyAnchorError
from anchoring.chain import ChainUnavailableError, call
from anchoring.contract import decode_error, revert_data
from ledger.encoding import hex0x

__all__ = [
    "ERC165_ID",
    "IACCESS_CONTROL_ID",
    "ITALLY_ANCHOR_ID",
    "check_tally_anchor",
    "interface_id",
    "latest_epoch",
]

ITALLY_ANCHOR_FUNCTIONS = ("anchor", "latestEpoch", "headerHash", "verifyContribution", "verifyBalance",
                           "verifyConsistency")
"""The functions of ``contracts/ITallyAnchor.sol``, whose selectors make its ERC-165 id."""

IACCESS_CONTROL_FUNCTIONS = ("hasRole", "getRoleAdmin", "grantRole", "revokeRole", "renounceRole")

_WORD = 32
_LIMIT_EXCEEDED = -32005
"""EIP-1474's "limit exceeded": a node refusing work for now, not a contract's answer."""


def interface_id(functions: Iterable[str]) -> bytes:
    """The ERC-165 id of an interface: the XOR of its functions' selectors (as in TallyAnchor's ABI)."""
    by_name = {item["name"]: item for item in load_artifact().abi if item.get("type") == "function"}
    selectors = [int.from_bytes(function_abi_to_4byte_selector(cast(ABIFunction, by_name[name]))) for name in functions]
    return reduce(lambda a, b: a ^ b, selectors).to_bytes(4)


ERC165_ID = bytes.fromhex("01ffc9a7")
IACCESS_CONTROL_ID = interface_id(IACCESS_CONTROL_FUNCTIONS)
ITALLY_ANCHOR_ID = interface_id(ITALLY_ANCHOR_FUNCTIONS)


@dataclass(frozen=True)
class _Target:
    """The address and the block every call is made at, and how a failure names them."""

    w3: Web3
    contract: str
    chain_id: int
    block: int

    def refuse(self, label: str, how: str) -> NotTallyAnchorError:
        return NotTallyAnchorError(self.contract, self.chain_id, label, how)

    def words(self, label: str, signature: str, types: list[str], args: list[object], count: int) -> list[int]:
        """The answer to one call, as ``count`` 32-byte words; anything else is a refusal."""
        data = function_signature_to_4byte_selector(signature) + abi_encode(types, args)
        try:
            answer = bytes(call(self.w3.eth.call, {"to": self.contract, "data": hex0x(data)}, self.block))
        except ContractLogicError as exc:
            error = decode_error(revert_data(exc) or b"")
            raise self.refuse(label, "reverted" + (f" with {error.name}" if error else "")) from None
        except Web3RPCError as exc:
            rpc_error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
            details: dict[str, Any] = dict(rpc_error) if isinstance(rpc_error, dict) else {}
            if details.get("code") == _LIMIT_EXCEEDED:
                raise ChainUnavailableError(f"the chain node refused the call to {label}: limit exceeded") from None
            raise self.refuse(label, f"failed on the node ({details.get('message') or exc.message})") from None
        if len(answer) != count * _WORD:
            raise self.refuse(label, f"answered {len(answer)} bytes, where TallyAnchor answers {count * _WORD}")
        return [int.from_bytes(answer[i:i + _WORD]) for i in range(0, len(answer), _WORD)]


def _supports(target: _Target, interface: bytes, name: str, expected: bool) -> None:
    label = f"supportsInterface(0x{interface.hex()}) ({name})"
    (answer,) = target.words(label, "supportsInterface(bytes4)", ["bytes4"], [interface], 1)
    if answer not in (0, 1):
        raise target.refuse(label, f"answered {answer}, which is not a bool")
    if bool(answer) != expected:
        raise target.refuse(label, f"answered {str(bool(answer)).lower()}; TallyAnchor answers {str(expected).lower()}")


def _latest(target: _Target) -> int:
    (latest,) = target.words("latestEpoch()", "latestEpoch()", [], [], 1)
    if latest >= 2**64:
        raise target.refuse("latestEpoch()", f"answered {latest}, which is not a uint64")
    return latest


def latest_epoch(w3: Web3, contract: str, chain_id: int, block: int) -> int:
    """``latestEpoch()`` at ``block``, checked to be a uint64."""
    return _latest(_Target(w3, contract, chain_id, block))


def _header_hash(target: _Target, epoch: int, latest: int) -> bytes:
    label = f"headerHash({epoch})"
    (word,) = target.words(label, "headerHash(uint64)", ["uint64"], [epoch], 1)
    if bool(word) != (1 <= epoch <= latest):
        state = "the hash of an anchored header" if word else "no header hash"
        raise target.refuse(label, f"answered {state} while latestEpoch() is {latest}")
    return word.to_bytes(_WORD)


def check_tally_anchor(w3: Web3, contract: str, chain_id: int, block: int) -> tuple[int, bytes | None]:
    """``latestEpoch()`` and its ``headerHash`` (None when nothing is anchored), once the code at
    ``contract`` answered every call above as TallyAnchor does; else the failure naming the call."""
    if not bytes(call(w3.eth.get_code, contract, block)):
        raise NoContractError(contract, chain_id)
    target = _Target(w3, contract, chain_id, block)
    _supports(target, ERC165_ID, "ERC-165", True)
    _supports(target, b"\xff" * 4, "ERC-165's invalid id", False)
    _supports(target, IACCESS_CONTROL_ID, "IAccessControl", True)
    _supports(target, ITALLY_ANCHOR_ID, "ITallyAnchor", True)
    latest = _latest(target)
    header_hash = _header_hash(target, max(latest, 1), latest)
    return latest, header_hash if latest else None
