"""Request and response bodies as OpenAPI documents them. The checks themselves are the ledger's
(``ledger.consent``, ``ledger.intake``), so a refusal names the field the same way everywhere."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class SubmissionBody(BaseModel):
    """The body of POST /v1/contributions."""

    contributor: str = Field(description="the contributor's address, 0x-hex (EIP-55 if mixed case)")
    conversation: dict[str, Any] = Field(description="a ChatGPT, ShareGPT or plain conversation")
    nonce: str | int = Field(description="uint256, decimal string (or a JSON number below 2^53)")
    issuedAt: int = Field(description="Unix seconds when the consent was signed")
    termsHash: str = Field(description="0x-hex SHA-256 of GET /v1/terms")
    signature: str = Field(description="0x-hex 65-byte EIP-712 signature of Contribution")


class BatchBody(BaseModel):
    """The body of POST /v1/contributions:batch, each item signed on its own."""

    items: list[SubmissionBody]


class SignedBatchBody(BaseModel):
    """The body of POST /v1/contributions:batch under one EIP-712 ContributionBatch signature
    (docs/formats.md, "Batch consent")."""

    contributor: str = Field(description="the contributor's address, 0x-hex (EIP-55 if mixed case)")
    conversations: list[Any] = Field(
        description="up to limits.maxBatch canonical conversations, in the order their contentHashes were "
                    "put in contentsRoot; one that does not normalise is refused in its own result")
    count: int = Field(description="uint32: the number of conversations, signed")
    nonce: str | int = Field(description="uint256, decimal string (or a JSON number below 2^53); a batch nonce "
                                         "is used once per contributor")
    issuedAt: int = Field(description="Unix seconds when the consent was signed")
    termsHash: str = Field(description="0x-hex SHA-256 of GET /v1/terms")
    signature: str = Field(description="0x-hex 65-byte EIP-712 signature of ContributionBatch")


COMPONENT_REF = "#/components/schemas/{model}"


def batch_body_schema() -> dict[str, Any]:
    """The batch body's schema, either form, referring to ``SubmissionBody`` among the document's
    components (``api.openapi.complete`` puts it there): a ``$defs`` inlined in a request body
    would be resolved against the document's root, where it is not."""
    schema = BatchBody.model_json_schema(ref_template=COMPONENT_REF)
    schema.pop("$defs", None)
    # Each item is checked on its own, so even one that is no submission at all is refused in its
    # own result, never the whole batch: the document says so rather than promise a 422.
    schema["properties"]["items"]["items"] = {
        "anyOf": [{"$ref": COMPONENT_REF.format(model="SubmissionBody")}, {}],
        "description": "a submission; an item that is not a valid one is refused in its own result"}
    signed = SignedBatchBody.model_json_schema(ref_template=COMPONENT_REF)
    signed["examples"] = [SIGNED_BATCH_EXAMPLE]
    return {"oneOf": [schema, signed], "description": "each item signed on its own (items), or one "
            "ContributionBatch signature over them all (conversations)"}


SUBMISSION_EXAMPLE: dict[str, Any] = {
    "contributor": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
    "conversation": {"messages": [
        {"role": "user", "content": "How does an append-only Merkle log prove consistency?"},
        {"role": "assistant", "content": "It gives the hashes needed to rebuild both the old and the new root."},
    ]},
    "nonce": "1",
    "issuedAt": 1764590400,
    "termsHash": "0x" + "5e" * 32,
    "signature": "0x" + "1c" * 64 + "1b",
}
"""An example body (its hashes and signature are placeholders: sign your own, GET /v1/config)."""

BATCH_EXAMPLE: dict[str, Any] = {"items": [SUBMISSION_EXAMPLE]}
SIGNED_BATCH_EXAMPLE: dict[str, Any] = {
    "contributor": SUBMISSION_EXAMPLE["contributor"],
    "conversations": [SUBMISSION_EXAMPLE["conversation"]],
    "count": 1,
    "nonce": "2",
    "issuedAt": SUBMISSION_EXAMPLE["issuedAt"],
    "termsHash": SUBMISSION_EXAMPLE["termsHash"],
    "signature": SUBMISSION_EXAMPLE["signature"],
}
"""A ContributionBatch body (placeholders again: signBatch in clients/js, or tally submit, signs one)."""


# Response bodies. The routes build their JSON themselves (api.views, ledger.proofs,
# ledger.adjustments); these classes only describe it in the OpenAPI document, and no route
# validates or filters its answer through them (api.openapi.answers).

Points = Annotated[str, Field(pattern="^[0-9]+$", description="points, a decimal string")]
Hex = Annotated[str, Field(pattern="^0x[0-9a-fA-F]*$", description="0x-hex bytes")]
Address = Annotated[str, Field(pattern="^0x[0-9a-fA-F]{40}$", description="an EIP-55 checksummed address")]
UnixTime = Annotated[int, Field(description="Unix seconds")]
Cursor = Annotated[int | None, Field(description="pass as the cursor for the next page; null on the last page")]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class Problem(BaseModel):
    """An RFC 9457 problem: every error the API answers (application/problem+json). Clients
    match on `type`; extension members (`errors`, `existing`, `findings`, `limit`, `epoch`...) say more."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="/problems/<slug>: a GET there describes the problem type")
    title: str
    status: int
    detail: str
    # Absent rather than null when there is none (a batch item's problem has none).
    instance: str | SkipJsonSchema[None] = Field(None, description="the path of the request that failed",
                                                 json_schema_extra=_no_default)


class Score(BaseModel):
    """How the points were computed (docs/scoring.md): the scorer version and the features its
    points are computed from, the same counts the contribution's manifest leaf publishes."""

    version: str = Field(description="the scorer that gave the points: quality-v2, quality-v3 for a conversation "
                                     "with images, or quality-v1 for older contributions")
    points: int
    features: dict[str, int] = Field(description="the integer features of docs/scoring.md for this version: "
                                                 "points_from_features(version, features) == points")


class BatchConsentView(BaseModel):
    """The rest of the ContributionBatch the contribution was consented in (docs/formats.md)."""

    primaryType: Literal["ContributionBatch"]
    contentsRoot: Hex
    count: int
    proof: list[Hex] = Field(description="this item's OpenZeppelin Merkle proof from its contentHash to contentsRoot")


class Consent(BaseModel):
    """The consent's fields; with `batch`, those of the ContributionBatch signature covering it."""

    nonce: str = Field(description="uint256, a decimal string")
    issuedAt: UnixTime
    termsHash: Hex
    signature: Hex
    batch: BatchConsentView | SkipJsonSchema[None] = Field(
        None, description="present when one ContributionBatch signature covered this contribution",
        json_schema_extra=_no_default)


class ReceiptMessage(BaseModel):
    contentHash: Hex
    contributor: Address
    points: Points
    acceptedAt: UnixTime


class Receipt(BaseModel):
    """The operator's EIP-712 `Receipt` over `message` (types at GET /v1/config, eip712.receipt)."""

    message: ReceiptMessage
    signature: Hex


class ContributionView(BaseModel):
    """A contribution, its consent, its receipt and its position in the log."""

    id: int
    contentHash: Hex
    cid: str = Field(description="the IPFS CID of the stored conversation")
    contributor: Address
    points: Points
    score: Score
    status: Literal["pending", "sealed", "anchored"]
    epochState: str | None = Field(description="the state of the epoch that sealed it, if any")
    acceptedAt: UnixTime
    size: int = Field(description="bytes of the canonical conversation")
    model: str | None
    messages: int
    epoch: int | None
    logIndex: int | None
    storage: Literal["local", "pinned"]
    encrypted: bool
    erased: bool
    consent: Consent
    receipt: Receipt


class BatchItemAccepted(BaseModel):
    status: Literal[201]
    contribution: ContributionView


class BatchItemRefused(BaseModel):
    status: int = Field(description="the status this item alone would have been answered with")
    problem: Problem


class BatchResult(BaseModel):
    """One result per item of the batch, in order."""

    accepted: int
    refused: int
    results: list[BatchItemAccepted | BatchItemRefused]


class Erasure(BaseModel):
    id: int
    erased: Literal[True]
    alreadyErased: bool = Field(description="true when the content had been erased before")


class JournalEntryView(BaseModel):
    id: int
    transfer: int
    amount: str = Field(description="signed points, a decimal string", pattern="^-?[0-9]+$")
    kind: str = Field(description="accrual, grant, usage or clawback")
    ref: str | None
    createdAt: UnixTime
    epoch: int | None


class JournalPage(BaseModel):
    items: list[JournalEntryView]
    next: Cursor


class Account(BaseModel):
    address: Address
    balance: Points = Field(description="all points credited to the account")
    pending: Points = Field(description="the part of the balance not sealed into an epoch yet")
    claimed: Points | None = Field(
        description="the balance up to which the rewards contract has paid the account (its claimed(account)); "
                    "null when no rewards contract is configured or the chain cannot be read")
    claimable: Points | None = Field(
        description="the balance of the latest anchored epoch minus claimed, never negative: what a claim "
                    "would be paid for, in points (times rewards.unitsPerPoint in token units); null when "
                    "claimed is")
    history: JournalPage


class AccountContribution(ContributionView):
    """One of an account's contributions, and whether it is in the public feed."""

    published: bool = Field(description="in the public feed now (its contributor's Publish, not withdrawn)")


class AccountContributions(BaseModel):
    address: Address
    items: list[AccountContribution]
    next: Cursor


class AdjustmentView(BaseModel):
    """A grant or a clawback."""

    ref: str
    kind: Literal["grant", "clawback"]
    account: Address
    points: Points
    transfer: int
    createdAt: UnixTime


class UsageReportView(BaseModel):
    ref: str
    items: int = Field(description="how many items the report held")
    points: Points = Field(description="the points the report credited in all")
    createdAt: UnixTime


class ProgramView(BaseModel):
    """A program with a guaranteed minimum per period (docs/rewards.md, "Programs")."""

    id: str
    period: Literal["day", "week", "month"] | int = Field(description='"day", "week", "month" or seconds')
    minimum: Points = Field(description="the points a member is brought up to in each period")
    start: str = Field(description="UTC date (YYYY-MM-DD) or instant (YYYY-MM-DDTHH:MM:SSZ) the first period starts")
    retroactiveFrom: str | None = Field(description="usage recorded unpaid from this date is paid at the first close")
    retroRate: Points | None = Field(description="points per unit of that usage")
    definedAt: UnixTime
    periodsClosed: int = Field(description="periods closed so far: their top-ups are in the journal")
    members: list[Address] | None = Field(default=None, description="the members now (GET of one program)")


class ProgramList(BaseModel):
    programs: list[ProgramView]


class MembershipView(BaseModel):
    program: str
    account: Address
    action: Literal["enrol", "leave"]
    at: UnixTime
    change: int | None = Field(description="the change's id (published in the manifest of the epoch that seals "
                               "it), or null when nothing changed (already a member)")


class EpochHeader(BaseModel):
    """What the contract stores of an epoch, and where its manifest lives."""

    epoch: int
    state: str = Field(description="sealed, submitted, mined or final")
    logSize: int
    logRoot: Hex
    balancesRoot: Hex
    totalPoints: Points
    manifestCid: str
    sealedAt: UnixTime


class Transaction(BaseModel):
    """The anchoring transaction (null until it is mined)."""

    hash: Hex | None
    blockNumber: int | None
    blockHash: Hex | None


class ExplorerLinks(BaseModel):
    """Links to a block explorer (null on a chain without one)."""

    contract: str
    readContract: str
    transaction: str | None = Field(None, description="present once the anchoring transaction is mined")


class EpochView(EpochHeader):
    firstIndex: int
    contributions: int
    journalEntries: int
    accounts: int
    transaction: Transaction | None
    gasUsed: int | None
    finalizedAt: UnixTime | None
    explorer: ExplorerLinks | None
    storage: Literal["local", "pinned"]


class EpochPage(BaseModel):
    items: list[EpochView]
    next: Cursor


class ConsistencyProof(BaseModel):
    """An RFC 9162 §2.1.4 consistency proof between two sizes of the contribution log."""

    first: int
    second: int
    firstRoot: Hex
    secondRoot: Hex
    proof: list[Hex]


class ContributionLeaf(BaseModel):
    id: int
    index: int
    contributor: Address
    contentHash: Hex
    acceptedAt: UnixTime
    points: Points
    cid: str
    leafHash: Hex


class BalanceLeaf(BaseModel):
    account: Address
    balance: Points
    leafHash: Hex


class VerifyCall(BaseModel):
    """The arguments of the contract's verify view, as JSON values and as one text box each."""

    function: str = Field(description="the Solidity signature of the view")
    args: list[Any]
    fields: dict[str, str]


class _Bundle(BaseModel):
    format: Literal["tally-proof-v1"]
    chainId: int
    contract: Address
    rpcUrl: str | None = Field(description="a suggestion; any node of that chain will do")
    header: EpochHeader
    transaction: Transaction | None
    explorer: ExplorerLinks | None
    proof: list[Hex]
    verify: VerifyCall


class BatchMessageView(BaseModel):
    contributor: Address
    contentsRoot: Hex
    count: int
    termsHash: Hex
    nonce: str = Field(description="uint256, a decimal string")
    issuedAt: UnixTime


class BundleBatchConsent(BaseModel):
    """The ContributionBatch consent covering the contribution: the signed message, its signature
    (domain: the bundle's chainId and contract) and the item's proof to contentsRoot."""

    primaryType: Literal["ContributionBatch"]
    message: BatchMessageView
    signature: Hex
    proof: list[Hex]


class ContributionProofBundle(_Bundle):
    """A contribution's RFC 9162 inclusion proof in an anchored epoch (docs/proofs.md)."""

    kind: Literal["contribution"]
    leaf: ContributionLeaf
    consent: BundleBatchConsent | SkipJsonSchema[None] = Field(
        None, description="present when one ContributionBatch signature covered this contribution "
                          "(docs/formats.md)", json_schema_extra=_no_default)


class BalanceProofBundle(_Bundle):
    """An account's OpenZeppelin Merkle proof of balance in an anchored epoch (docs/proofs.md)."""

    kind: Literal["balance"]
    leaf: BalanceLeaf


class Eip712Field(BaseModel):
    name: str
    type: str


class Eip712Domain(BaseModel):
    name: str
    version: str
    chainId: int
    verifyingContract: Address


class ReceiptTypes(BaseModel):
    types: dict[str, list[Eip712Field]]
    primaryType: Literal["Receipt"]


class BatchTypes(BaseModel):
    """The ContributionBatch type: one signature for a selection (docs/formats.md)."""

    types: dict[str, list[Eip712Field]]
    primaryType: Literal["ContributionBatch"]


class EnrolTypes(BaseModel):
    types: dict[str, list[Eip712Field]]
    primaryType: Literal["Enrol"]


class PublishTypes(BaseModel):
    """The contributor's Publish: shows or withdraws one contribution in the public feed."""

    types: dict[str, list[Eip712Field]]
    primaryType: Literal["Publish"]


class EngageTypes(BaseModel):
    """An actor's Engage with a published contribution: a like (kind 1) or a remix (kind 2)."""

    types: dict[str, list[Eip712Field]]
    primaryType: Literal["Engage"]


class FeedTerms(BaseModel):
    """What engagement in the public feed earns its creator, and how much an actor may engage."""

    pointsPerLike: Points
    pointsPerRemix: Points
    engagementsPerDay: int = Field(description="engagements an actor may make per UTC day (0: no limit)")


class Eip712(BaseModel):
    """What a wallet needs for `eth_signTypedData_v4`."""

    domain: Eip712Domain
    types: dict[str, list[Eip712Field]]
    primaryType: Literal["Contribution"]
    receipt: ReceiptTypes
    batch: BatchTypes
    enrol: EnrolTypes = Field(description="a contributor's consent to join a program (POST /v1/programs/{id}/members)")
    publish: PublishTypes
    engage: EngageTypes


class ContributorLimits(BaseModel):
    """Shared by every replica (0: no limit); past one, 429 rate-limited with Retry-After."""

    requestsPerMinute: int = Field(description="submission requests a minute; a batch counts once")
    contributionsPerHour: int = Field(description="accepted contributions in any hour")
    pointsPerDay: int = Field(description="points earned by contributions accepted in a UTC day")


class ClientLimits(BaseModel):
    requestsPerMinute: int = Field(description="submission requests a minute from one client address")


class Limits(BaseModel):
    maxBodyBytes: int
    maxBatch: int
    maxBatchBodyBytes: int = Field(description="the most bytes a whole batch body may have")
    issuedAtWindow: int = Field(description="seconds issuedAt may be off the server's clock")
    maxImageBytes: int = Field(description="the most bytes one attached image may have")
    maxContributionImageBytes: int = Field(description="the most bytes a contribution's distinct images may have "
                                           "together")
    maxAttachmentBodyBytes: int = Field(description="the most bytes a single submission carrying attachments may "
                                        "have (any other is held to maxBodyBytes)")
    perContributor: ContributorLimits
    perClient: ClientLimits


class UsageTerms(BaseModel):
    pointsPerUnit: Points


class Sealing(BaseModel):
    """When the next epoch is sealed (ledger.sealing): after ``intervalSeconds`` since the last
    seal, at once after a quiet period or once ``threshold`` contributions are pending."""

    intervalSeconds: float
    threshold: int
    pendingContributions: int
    lastSealedAt: UnixTime | None
    nextSealAt: UnixTime | None = Field(description="when the next seal is due; null while nothing is pending")


class StorageTerms(BaseModel):
    ipfsPinning: bool = Field(description="objects are pinned to an IPFS node; if false they stay in the "
                                          "operator's blockstore, served at /ipfs/{cid}")


class ScorerTerms(BaseModel):
    """The scorer new contributions get (docs/scoring.md)."""

    version: str
    rulesHash: Hex = Field(description="SHA-256 of the RFC 8785 form of the version's rules file, as every "
                                       "manifest names it (scorer.rulesHash)")


class RewardsTerms(BaseModel):
    """The TallyRewards contract that pays for anchored points (docs/contract.md)."""

    contract: Address
    token: Address = Field(description="the ERC-20 it pays in")
    unitsPerPoint: Points = Field(description="the token's smallest units paid per point, a decimal string")


class Config(BaseModel):
    chainId: int
    contract: Address
    operator: Address = Field(description="the address that signs receipts")
    termsHash: Hex
    rpcUrl: str | None
    explorerUrl: str | None
    eip712: Eip712
    limits: Limits
    usage: UsageTerms
    feed: FeedTerms
    sealing: Sealing | None = Field(description="null while the database cannot be read")
    storage: StorageTerms
    personalData: Literal["refuse", "accept"] = Field(
        description="refuse: a submission that still holds personal data is a 422 contains-personal-data "
                    "(clients redact before signing); accept: this server takes it as it is")
    nearDuplicates: Literal["refuse", "accept"] = Field(
        description="refuse: a submission nearly the same as an accepted contribution is a 409 near-duplicate; "
                    "accept: this server takes it (and does not index it)")
    scorer: ScorerTerms
    imageScorer: ScorerTerms = Field(description="the scorer new contributions with images (canonical version 2) "
                                     "get; scorer is the one for every other")
    rewards: RewardsTerms | None = Field(description="null when no rewards contract pays for the points")


class AccrualClient(BaseModel):
    address: str = Field(description='the client address as the API saw it ("unknown" if none was recorded)')
    contributions: int


class AccrualAccount(BaseModel):
    account: Address
    contributions: int
    points: Points
    clients: list[AccrualClient]


class DataExportView(BaseModel):
    id: int
    consumer: str = Field(description='who received it: "data-consumer", the deployment\'s data-consumer key')
    after: int = Field(description="the export covered contribution ids after this one...")
    last: int = Field(description="...up to this one")
    count: int = Field(description="contributions sent (erased ones are never sent)")
    createdAt: UnixTime


class ExportList(BaseModel):
    items: list[DataExportView]


class AccrualReport(BaseModel):
    since: UnixTime
    accounts: list[AccrualAccount]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str] = Field(description='per dependency (database, content): "ok" or "error: <kind>"')


_FEED_STATEMENT = {"nonce": "1", "issuedAt": 1764640800, "signature": "0x" + "11" * 64 + "1b"}
PUBLISH_EXAMPLE: dict[str, Any] = {"visible": True, **_FEED_STATEMENT}
ENGAGE_EXAMPLE: dict[str, Any] = {"actor": "0x" + "ab" * 20, "kind": 1, **_FEED_STATEMENT}


class PublishBody(BaseModel):
    """The body of POST /v1/contributions/{key}:publish: the contributor's EIP-712 Publish."""

    model_config = ConfigDict(extra="forbid")
    visible: bool = Field(description="true publishes the contribution in the feed, false withdraws it")
    nonce: str | int = Field(description="uint256, used once per contributor for a Publish")
    issuedAt: int = Field(description="Unix seconds when it was signed (as fresh as a contribution's consent)")
    signature: str = Field(description="0x-hex 65-byte EIP-712 signature of Publish by the contributor")


class EngageBody(BaseModel):
    """The body of POST /v1/contributions/{key}:engage: the actor's EIP-712 Engage."""

    model_config = ConfigDict(extra="forbid")
    actor: str = Field(description="who engages, 0x-hex (EIP-55 if mixed case); never the contributor")
    kind: Literal[1, 2] = Field(description="1 like, 2 remix")
    nonce: str | int = Field(description="uint256, used once per actor for an Engage")
    issuedAt: int = Field(description="Unix seconds when it was signed")
    signature: str = Field(description="0x-hex 65-byte EIP-712 signature of Engage by the actor")
    remix: str | None = Field(default=None, description="kind 2 only: the contentHash of the actor's own new "
                                                         "contribution that remixes this one")


class FeedItemView(BaseModel):
    id: int
    contentHash: str
    contributor: str
    points: str = Field(description="the contribution's points, a decimal string")
    images: list[str] = Field(description="the image CIDs of the contribution, in order (GET /ipfs/{cid})")
    preview: str = Field(description="the start of the conversation's first message")
    likes: int
    remixes: int
    publishedAt: int
    proof: str = Field(description="the contribution's inclusion proof")


class FeedPageView(BaseModel):
    items: list[FeedItemView] = Field(description="newest published first")
    next: str | None = Field(description="the cursor of the next page; null on the last")


class FeedCard(FeedItemView):
    conversation: dict[str, Any] = Field(description="the canonical conversation, in the clear")


class PublicationView(BaseModel):
    id: int
    visible: bool
    publishedAt: int | None = Field(description="when it entered the feed; null when withdrawn")


class EngagementView(BaseModel):
    id: int = Field(description="the engagement's id")
    contribution: int
    actor: str
    kind: int
    points: str = Field(description="what the creator was credited (an engagement journal transfer)")
