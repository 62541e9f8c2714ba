"""The FastAPI app, HTTP and nothing else: routes get a typed ``api.services.Services`` through
``Depends``, call the core and raise ``ledger.errors.TallyError``; ``api.app``'s one handler
renders any error as problem+json. Depends on ``ledger`` only."""
