"""EIP-712 typed data of DESIGN.md §3: the domain, the digests, and secp256k1 signatures.

The digests are computed by hand from the EIP-712 encoding rules (hashStruct of static fields
is one 32-byte word per field) because intake computes one per request; the tests check them
against eth-account's ``encode_typed_data`` and signatures made by ethers.js.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_keys.datatypes import PrivateKey, Signature
from eth_keys.exceptions import BadSignature
from tiny_keccak import keccak256 as keccak

from ledger.encoding import checksum, hex0x
from ledger.errors import InvalidInputError

DOMAIN_NAME = "Tally"
DOMAIN_VERSION = "1"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
CONTRIBUTION_FIELDS = [
    {"name": "contributor", "type": "address"},
    {"name": "contentHash", "type": "bytes32"},
    {"name": "termsHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"},
]
BATCH_FIELDS = [
    {"name": "contributor", "type": "address"},
    {"name": "contentsRoot", "type": "bytes32"},
    {"name": "count", "type": "uint32"},
    {"name": "termsHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"},
]
"""``ContributionBatch``: one signature for a selection; ``contentsRoot`` is the root of the
OpenZeppelin tree of the items' contentHashes (``ledger.batch_consent``, docs/formats.md)."""
RECEIPT_FIELDS = [
    {"name": "contentHash", "type": "bytes32"},
    {"name": "contributor", "type": "address"},
    {"name": "points", "type": "uint128"},
    {"name": "acceptedAt", "type": "uint64"},
]

ENROL_FIELDS = [
    {"name": "account", "type": "address"},
    {"name": "program", "type": "string"},
    {"name": "nonce", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"},
]
PUBLISH_FIELDS = [
    {"name": "contributor", "type": "address"},
    {"name": "contentHash", "type": "bytes32"},
    {"name": "visible", "type": "bool"},
    {"name": "nonce", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"},
]
"""``Publish``: the contributor shows (``visible``) or withdraws one contribution in the public
feed (``ledger.feed``, docs/formats.md)."""
ENGAGE_FIELDS = [
    {"name": "actor", "type": "address"},
    {"name": "contentHash", "type": "bytes32"},
    {"name": "kind", "type": "uint8"},
    {"name": "nonce", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"},
]
"""``Engage``: ``actor`` likes (kind 1) or remixes (kind 2) a published contribution (``ledger.feed``)."""

_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_CONTRIBUTION_TYPEHASH = keccak(
    b"Contribution(address contributor,bytes32 contentHash,bytes32 termsHash,uint256 nonce,uint64 issuedAt)"
)
_BATCH_TYPEHASH = keccak(
    b"ContributionBatch(address contributor,bytes32 contentsRoot,uint32 count,bytes32 termsHash,uint256 nonce,"
    b"uint64 issuedAt)"
)
_PUBLISH_TYPEHASH = keccak(
    b"Publish(address contributor,bytes32 contentHash,bool visible,uint256 nonce,uint64 issuedAt)"
)
_ENGAGE_TYPEHASH = keccak(
    b"Engage(address actor,bytes32 contentHash,uint8 kind,uint256 nonce,uint64 issuedAt)"
)
_RECEIPT_TYPEHASH = keccak(
    b"Receipt(bytes32 contentHash,address contributor,uint128 points,uint64 acceptedAt)"
)
_ENROL_TYPEHASH = keccak(b"Enrol(address account,string program,uint256 nonce,uint64 issuedAt)")


class SignatureError(InvalidInputError, ValueError):
    """A signature that cannot be parsed or does not recover to an address."""

    code = "invalid-signature"


def _uint(value: int, bits: int) -> bytes:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{value} does not fit uint{bits}")
    return value.to_bytes(32, "big")


def _address(value: str) -> bytes:
    return bytes(12) + bytes.fromhex(value[2:])


def _bytes32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError("bytes32 needs exactly 32 bytes")
    return value


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain: binds every signature to one chain and one TallyAnchor contract."""

    chain_id: int
    verifying_contract: str

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            _DOMAIN_TYPEHASH
            + keccak(DOMAIN_NAME.encode())
            + keccak(DOMAIN_VERSION.encode())
            + _uint(self.chain_id, 256)
            + _address(self.verifying_contract)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": checksum(self.verifying_contract),
        }

    def contribution_digest(
        self, contributor: str, content_hash: bytes, terms_hash: bytes, nonce: int, issued_at: int
    ) -> bytes:
        struct = keccak(
            _CONTRIBUTION_TYPEHASH
            + _address(contributor)
            + _bytes32(content_hash)
            + _bytes32(terms_hash)
            + _uint(nonce, 256)
            + _uint(issued_at, 64)
        )
        return keccak(b"\x19\x01" + self.separator + struct)

    def batch_digest(
        self, contributor: str, contents_root: bytes, count: int, terms_hash: bytes, nonce: int, issued_at: int
    ) -> bytes:
        struct = keccak(
            _BATCH_TYPEHASH
            + _address(contributor)
            + _bytes32(contents_root)
            + _uint(count, 32)
            + _bytes32(terms_hash)
            + _uint(nonce, 256)
            + _uint(issued_at, 64)
        )
        return keccak(b"\x19\x01" + self.separator + struct)

    def publish_digest(
        self, contributor: str, content_hash: bytes, visible: bool, nonce: int, issued_at: int
    ) -> bytes:
        struct = keccak(
            _PUBLISH_TYPEHASH
            + _address(contributor)
            + _bytes32(content_hash)
            + _uint(int(visible), 8)
            + _uint(nonce, 256)
            + _uint(issued_at, 64)
        )
        return keccak(b"\x19\x01" + self.separator + struct)

    def engage_digest(
        self, actor: str, content_hash: bytes, kind: int, nonce: int, issued_at: int
    ) -> bytes:
        struct = keccak(
            _ENGAGE_TYPEHASH
            + _address(actor)
            + _bytes32(content_hash)
            + _uint(kind, 8)
            + _uint(nonce, 256)
            + _uint(issued_at, 64)
        )
        return keccak(b"\x19\x01" + self.separator + struct)

    def receipt_digest(
        self, content_hash: bytes, contributor: str, points: int, accepted_at: int
    ) -> bytes:
        struct = keccak(
            _RECEIPT_TYPEHASH
            + _bytes32(content_hash)
            + _address(contributor)
            + _uint(points, 128)
            + _uint(accepted_at, 64)
        )
        return keccak(b"\x19\x01" + self.separator + struct)


    def enrol_digest(self, account: str, program: str, nonce: int, issued_at: int) -> bytes:
        """A contributor's consent to join ``program`` (docs/formats.md §3; a string field is
        encoded as the keccak of its UTF-8 bytes)."""
        struct = keccak(
            _ENROL_TYPEHASH
            + _address(account)
            + keccak(program.encode())
            + _uint(nonce, 256)
            + _uint(issued_at, 64)
        )
        return keccak(b"\x19\x01" + self.separator + struct)


def contribution_types() -> dict[str, list[dict[str, str]]]:
    # One primary type per types object: ethers and eth-account refuse ambiguous roots.
    return {"EIP712Domain": DOMAIN_FIELDS, "Contribution": CONTRIBUTION_FIELDS}


def batch_types() -> dict[str, list[dict[str, str]]]:
    return {"EIP712Domain": DOMAIN_FIELDS, "ContributionBatch": BATCH_FIELDS}


def enrol_types() -> dict[str, list[dict[str, str]]]:
    return {"EIP712Domain": DOMAIN_FIELDS, "Enrol": ENROL_FIELDS}


def publish_types() -> dict[str, list[dict[str, str]]]:
    return {"EIP712Domain": DOMAIN_FIELDS, "Publish": PUBLISH_FIELDS}


def engage_types() -> dict[str, list[dict[str, str]]]:
    return {"EIP712Domain": DOMAIN_FIELDS, "Engage": ENGAGE_FIELDS}


def receipt_types() -> dict[str, list[dict[str, str]]]:
    return {"EIP712Domain": DOMAIN_FIELDS, "Receipt": RECEIPT_FIELDS}


def parse_signature(signature: bytes) -> Signature:
    """A 65-byte r‖s‖v signature (v of 27/28 or 0/1), refusing the malleable high-s form."""
    if len(signature) != 65:
        raise SignatureError("a signature is 65 bytes: r, s and v")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise SignatureError("the signature's v must be 27 or 28")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        raise SignatureError("the signature's r or s is out of range (high-s signatures are refused)")
    return Signature(vrs=(v, r, s))


def recover(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest``."""
    return checksum(hex0x(recover_address(digest, signature)))


def recover_address(digest: bytes, signature: bytes) -> bytes:
    """The 20 bytes of the address that signed ``digest``: what intake compares, with no EIP-55."""
    try:
        return bytes(parse_signature(signature).recover_public_key_from_msg_hash(digest).to_canonical_address())
    except BadSignature as exc:
        raise SignatureError("the signature does not recover to a public key") from exc


def sign(digest: bytes, private_key: PrivateKey) -> bytes:
    """Sign ``digest`` as ethers and eth-account do: r‖s‖v with v of 27 or 28."""
    sig = private_key.sign_msg_hash(digest)
    r, s, v = int(sig.r), int(sig.s), int(sig.v)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])
