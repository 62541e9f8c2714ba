"""Wiring the web layer: settings and a ledger in, the API's ``Services`` and FastAPI app out.

Kept apart from ``tally.wiring`` so that what runs without HTTP (the demo, the jobs, the client)
never imports the web layer.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.services import ApiKeys, FailureLimiter, Services, UsagePolicy
from tally.chain import ChainRuntime
from tally.settings import Settings
from tally.wiring import Ledger, build_intake, chain_info


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
                       ipfs_pinning=settings.ipfs_url is not None)


def build_app(settings: Settings, ledger: Ledger, chain: ChainRuntime | None = None) -> FastAPI:
    return create_app(build_services(settings, ledger, chain), cors_origins=settings.cors_origins,
                      request_threads=settings.request_threads)
