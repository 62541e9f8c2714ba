"""Wiring the web layer: settings and a ledger in, the API's ``Services`` and FastAPI app out.

Kept apart from ``tally.wiring`` so that what runs without HTTP (the demo, the jobs, the client)
never imports the web layer.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.services import ApiKeys, ClaimsReader, FailureLimiter, Services, UsagePolicy
from ledger.deployment import ChainInfo
from tally.chain import ChainRuntime
from tally.settings import Settings
from tally.wiring import Ledger, build_intake, chain_info, engagement_policy


def claims_reader(info: ChainInfo, chain: ChainRuntime | None) -> ClaimsReader | None:
    """The rewards contract's ``claimed`` over the open chain, else over the configured node (a
    short timeout: an account's page must not wait on a slow node); None without rewards or a node."""
    if info.rewards is None:
        return None
    from anchoring.chain import connect
    from anchoring.rewards import TallyRewards

    if chain is not None:
        return TallyRewards(chain.w3, info.rewards.contract)
    if info.rpc_url is None:
        return None
    return TallyRewards(connect(info.rpc_url, timeout=5.0), info.rewards.contract)


def build_services(settings: Settings, ledger: Ledger, chain: ChainRuntime | None = None) -> Services:
    info = chain_info(settings, chain)
    # The keys leave the settings only as digests: the running app never holds one in the clear.
    keys = ApiKeys.of(
        admin=settings.admin_api_key.get_secret_value() if settings.admin_api_key else None,
        data_consumer=settings.usage_api_key.get_secret_value() if settings.usage_api_key else None,
    )
    return Services.of(build_intake(settings, ledger, info), info, keys=keys,
                       auth_failures=FailureLimiter(settings.auth_failure_limit, settings.auth_failure_window),
                       usage=UsagePolicy(settings.usage_points_per_unit), sealing=settings.sealing,
                       ipfs_pinning=settings.ipfs_url is not None, claims=claims_reader(info, chain),
                       engagement=engagement_policy(settings),
                       intake_threads=settings.intake_threads)


def build_app(settings: Settings, ledger: Ledger, chain: ChainRuntime | None = None) -> FastAPI:
    return create_app(build_services(settings, ledger, chain), cors_origins=settings.cors_origins,
                      request_threads=settings.request_threads)
