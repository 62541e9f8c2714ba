"""The one settings object of a Tally process, read once from ``TALLY_*`` variables.

An optional TOML file (``TALLY_CONFIG``, or ``$TALLY_HOME/tally.toml`` when it exists) supplies
defaults; environment variables win over it. With nothing configured at all, everything lives
under ``./.tally/``: the SQLite database, the local blockstore and the operator key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ledger.db import INTAKE_THREADS
from ledger.encoding import InvalidAddressError, parse_address
from ledger.quotas import Quotas
from ledger.sealing import DEV_CHAIN_SEAL_INTERVAL, PRODUCTION_SEAL_INTERVAL, SNAPSHOT_EVERY, SealSchedule


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_", extra="forbid")

    home: Path = Field(default=Path(".tally"), description="data folder (TALLY_HOME)")
    secrets_dir: Path | None = Field(
        default=None, description="a folder of secret files, one a setting, named like its variable "
                                  "(e.g. /run/secrets/tally_operator_key); the environment wins over it")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in home by default")

    # Chain: the EIP-712 domain binds signatures to one chain and one contract.
    chain_id: int = 31337
    contract_address: str | None = None
    rpc_url: str | None = None
    explorer_url: str | None = None
    explorer_kind: str = Field(default="etherscan", pattern="^(etherscan|blockscout)$")
    # The rewards contract (TallyRewards) that pays for anchored points, published at /v1/config:
    # all three, or none (then the data folder's rewards.json, which `tally deploy` writes, if any).
    rewards_address: str | None = Field(default=None, description="TallyRewards contract (TALLY_REWARDS_ADDRESS)")
    rewards_token: str | None = Field(default=None, description="the ERC-20 it pays in (TALLY_REWARDS_TOKEN)")
    rewards_units_per_point: int | None = Field(
        default=None, ge=1, lt=2**128, description="token units per point (TALLY_REWARDS_UNITS_PER_POINT)")

    # The operator key signs receipts (and, later, anchors). Either an encrypted keystore file
    # with its passphrase, or the raw key; never logged.
    operator_keyfile: Path | None = None
    operator_passphrase: SecretStr | None = None
    operator_key: SecretStr | None = None

    # The anchoring key sends anchor transactions (it holds ANCHOR_ROLE and pays gas); by
    # default the operator key. Same forms as the operator key.
    anchor_keyfile: Path | None = None
    anchor_passphrase: SecretStr | None = None
    anchor_key: SecretStr | None = None

    # Epochs and anchoring.
    jobs: bool = Field(default=True, description="run the sealing/anchoring jobs inside `tally serve`")
    seal_interval: float | None = Field(
        default=None, gt=0, description="seconds between seals; default 30 on the embedded dev chain, else 600")
    seal_threshold: int = Field(default=10_000, ge=1)
    snapshot_every: int = Field(default=SNAPSHOT_EVERY, ge=1,
                                description="epochs between full balances snapshots named by the manifest")
    anchor_interval: float = Field(default=3.0, gt=0)
    confirmations: int | None = Field(default=None, ge=0, description="None: the chain's finalized tag")
    max_fee_gwei: float = Field(default=200.0, gt=0)
    priority_fee_gwei: float = Field(default=1.0, ge=0)
    stuck_after: float = Field(default=120.0, gt=0)
    anvil_port: int = 8545
    admin_transfer_delay: int = Field(default=2 * 24 * 3600, ge=0)

    # Content storage. Privacy mode (the default) stores conversations encrypted under per-object
    # keys wrapped by the master key (TALLY_MASTER_KEY, 64 hex digits; on the embedded default a
    # generated key in TALLY_HOME/master.key: back it up, without it nothing stored can be read).
    privacy: bool = True
    master_key: SecretStr | None = None
    ipfs_url: str | None = Field(default=None, description="Kubo RPC API, e.g. http://127.0.0.1:5001")
    ipfs_username: str | None = None
    ipfs_password: SecretStr | None = None
    ipfs_token: SecretStr | None = None
    ipfs_timeout: float = Field(default=60.0, gt=0)
    anchor_unpinned: bool = Field(default=False, description="anchor epochs whose objects are not pinned yet")
    storage_interval: float = Field(default=5.0, gt=0)
    # Where objects live besides this host's cache (TALLY_HOME/blocks): the shared database keeps
    # every object's bytes until the IPFS node has held it for pinned_retention seconds (-1: for
    # ever); without IPFS, until a shared blockstore directory every host mounts holds it.
    shared_blocks_dir: Path | None = Field(
        default=None, description="a blockstore directory every host mounts (NFS, a volume); the store of record")
    pinned_retention: int = Field(
        default=7 * 24 * 3600, ge=-1,
        description="seconds pinned bytes stay in the database after pinning; -1 keeps them for ever")

    admin_api_key: SecretStr | None = Field(default=None, description="Bearer key of admin operations")
    usage_api_key: SecretStr | None = Field(default=None, description="Bearer key of data consumers (POST /v1/usage)")
    usage_points_per_unit: int = Field(default=1, ge=0, le=10**6,
                                       description="points per reported unit of use; 0 turns usage off")
    # The public feed (ledger.feed): what each like and remix of a published contribution credits its
    # creator (an engagement journal transfer; 0 credits nothing), and an actor's engagements a UTC day.
    engagement_points_like: int = Field(default=1, ge=0, le=10**6, description="points a like credits its creator")
    engagement_points_remix: int = Field(default=5, ge=0, le=10**6,
                                         description="points a remix credits its parent's creator")
    engagements_per_day: int = Field(default=100, ge=0,
                                     description="engagements an actor may make a UTC day; 0: no limit")
    # Failed authentications (a wrong or missing API key) allowed per client address and role in
    # any window; beyond them the client gets 429 until the window passes, right key or not.
    auth_failure_limit: int = Field(default=10, ge=1, description="failed authentications allowed per window")
    auth_failure_window: float = Field(default=60.0, gt=0, description="the window of auth_failure_limit, seconds")

    # A submission that still holds personal data (ledger.personal_data) is refused, unless this
    # is "accept": for a deployment that takes data whose personal parts it handles itself.
    pii: Literal["refuse", "accept"] = Field(default="refuse", description="TALLY_PII: refuse or accept")
    # A submission nearly the same as an accepted contribution (ledger.near_duplicates) is
    # refused, unless this is "accept"; what is accepted meanwhile is not indexed either.
    near_duplicates: Literal["refuse", "accept"] = Field(
        default="refuse", description="TALLY_NEAR_DUPLICATES: refuse or accept")
    # Limits per contributor and per client address, shared by every replica through the database
    # (ledger.quotas); 0 turns one off. Published at GET /v1/config (limits).
    limit_contributor_requests_per_minute: int = Field(default=20, ge=0)
    limit_contributions_per_hour: int = Field(default=200, ge=0)
    limit_points_per_day: int = Field(default=5_000, ge=0)
    limit_client_requests_per_minute: int = Field(default=120, ge=0)

    terms_file: Path | None = None
    issued_at_window: int = Field(default=600, ge=1, description="allowed clock skew of issuedAt, seconds")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_image_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_contribution_image_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=100, ge=1, le=1000)
    max_batch_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024,
                                      description="the most bytes of one batch body (TALLY_MAX_BATCH_BODY_BYTES)")
    cors_origins: list[str] = Field(default_factory=list)

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    request_threads: int = Field(
        default=20, ge=1, le=200,
        description="threads serving requests other than submissions in each worker")
    intake_threads: int = Field(
        default=INTAKE_THREADS, ge=1, le=200,
        description="threads running submissions (their checks and their transaction) in each worker: "
                    "few, because threads that all want the CPU spend it passing the interpreter lock "
                    "(bench/README-ingest.md); a request that waits on IPFS never holds one of these")
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or JSON lines with each request's or job pass's id (docs/operations.md)")

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("rewards_address", "rewards_token")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return parse_address(value, "address")
        except InvalidAddressError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _rewards_together(self) -> Settings:
        given = [self.rewards_address, self.rewards_token, self.rewards_units_per_point]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValueError("TALLY_REWARDS_ADDRESS, TALLY_REWARDS_TOKEN and TALLY_REWARDS_UNITS_PER_POINT go "
                             "together: set all three or none")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets = os.environ.get("TALLY_SECRETS_DIR")
        if secrets:
            # Docker and Kubernetes secrets: /run/secrets/tally_master_key holds TALLY_MASTER_KEY.
            if not Path(secrets).is_dir():
                raise FileNotFoundError(f"TALLY_SECRETS_DIR names {secrets}, which is not a folder")
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets))
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'tally.db'}"

    @property
    def database_threads(self) -> int:
        """The threads of a worker that may hold a database connection at once (its pool's size)."""
        return self.request_threads + self.intake_threads

    @property
    def sealing(self) -> SealSchedule:
        """The seal schedule: short on the embedded dev chain, so a first epoch comes in a minute."""
        default = DEV_CHAIN_SEAL_INTERVAL if not self.rpc_url else PRODUCTION_SEAL_INTERVAL
        return SealSchedule(self.seal_interval or default, self.seal_threshold)

    @property
    def quotas(self) -> Quotas:
        return Quotas(self.limit_contributor_requests_per_minute, self.limit_contributions_per_hour,
                      self.limit_points_per_day, self.limit_client_requests_per_minute)

    @property
    def blocks_dir(self) -> Path:
        return self.home / "blocks"

    @property
    def deployment_file(self) -> Path:
        return self.home / "deployment.json"

    @property
    def rewards_file(self) -> Path:
        return self.home / "rewards.json"

    def public(self) -> dict[str, Any]:
        """The settings with every secret blanked, safe to print or log."""
        data = self.model_dump()
        for name in ("operator_passphrase", "operator_key", "anchor_passphrase", "anchor_key", "master_key",
                     "ipfs_password", "ipfs_token", "admin_api_key", "usage_api_key"):
            if data.get(name) is not None:
                data[name] = "**********"
        if self.database_url and "@" in self.database_url:
            scheme, rest = self.database_url.split("://", 1)
            data["database_url"] = f"{scheme}://***@{rest.split('@', 1)[1]}"
        return data


def _config_file() -> Path | None:
    explicit = os.environ.get("TALLY_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"TALLY_CONFIG names {path}, which is not a file")
        return path
    home = Path(os.environ.get("TALLY_HOME", ".tally"))
    candidate = home / "tally.toml"
    return candidate if candidate.is_file() else None
