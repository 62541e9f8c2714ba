"""One identity for a deployment: the keys every host must share (docs/architecture.md, "Several
hosts").

Receipts are signed with the operator key, anchors sent with the anchor key and envelopes opened
with the master key; a replica holding other keys would sign receipts no client can tie to the
deployment, or fail to read what another replica stored. So the first process to start records
the operator address, the anchor address and a fingerprint of the master key in the shared
database (``deployment_identity``), and every later process checks its own against them before
serving: a host whose keys differ refuses to start, saying which key, never printing a secret.

The fingerprint is ``sha256("tally master key fingerprint v1" || key)``: it tells two keys apart
and reveals nothing of either.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.errors import InvalidInputError
from ledger.models import DeploymentIdentity

FINGERPRINT_LABEL = b"tally master key fingerprint v1"

OPERATOR = "operator_address"
ANCHOR = "anchor_address"
MASTER_KEY = "master_key_fingerprint"

KEY_NAMES = {OPERATOR: "operator key (TALLY_OPERATOR_KEY or TALLY_OPERATOR_KEYFILE)",
             ANCHOR: "anchor key (TALLY_ANCHOR_KEY or TALLY_ANCHOR_KEYFILE)",
             MASTER_KEY: "master key (TALLY_MASTER_KEY)"}


class IdentityMismatchError(InvalidInputError):
    """This host's keys are not the deployment's: it must not serve or anchor (a setting to fix)."""


def master_key_fingerprint(key: bytes | None) -> str:
    """The recorded form of the master key: a hash that tells keys apart, or ``none`` (public mode)."""
    if key is None:
        return "none"
    return hashlib.sha256(FINGERPRINT_LABEL + key).hexdigest()


def check_identity(session: Session, values: dict[str, str], *, now: int, record: bool = True) -> dict[str, str]:
    """Record each of ``values`` (``OPERATOR``, ``ANCHOR``, ``MASTER_KEY``) the deployment has no
    record of yet (unless ``record`` is false: ``tally doctor`` writes nothing), and refuse any
    that differs from its record; the deployment's identity after.

    Addresses compare case-insensitively. Two first starts racing insert the same primary key:
    the loser's insert fails, and it compares against the winner's record instead.
    """
    recorded = {name: value for name, value in session.execute(
        select(DeploymentIdentity.name, DeploymentIdentity.value))}
    for name, value in values.items():
        if name not in recorded and not record:
            continue
        if name not in recorded:
            try:
                with session.begin_nested():
                    session.add(DeploymentIdentity(name=name, value=value, recorded_at=now))
                recorded[name] = value
                continue
            except IntegrityError:
                recorded[name] = str(session.scalar(
                    select(DeploymentIdentity.value).where(DeploymentIdentity.name == name)))
        if recorded[name].lower() != value.lower():
            what = KEY_NAMES[name]
            detail = "" if name == MASTER_KEY else f" (the deployment's is {recorded[name]}, this host's {value})"
            raise IdentityMismatchError(
                f"this host's {what} differs from the one the deployment recorded{detail}: give every host the "
                "deployment's keys", key=name)
    return recorded
