# Tally's image: the API replicas (`tally serve --no-jobs`), the workers (`tally worker`) and the
# one-shot schema upgrade (`tally db upgrade`) all run it (deploy/compose.yaml, deploy/README.md).
#
# Two stages: the first builds the virtual environment, with a C compiler for the one compiled
# part (ledger/scoring/_features.c, setup.py; the compiler, pip and the sources stay behind); the
# second is the slim Python runtime, the environment and nothing else, run as an unprivileged user. The contract artifacts (ABI, bytecode) are committed
# in anchoring/artifacts/ and installed as package data: no Node and no Hardhat, at build or at
# run time.
#
#   docker build -t tally:0.1.0 .

ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/tally
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY ledger ledger
COPY anchoring anchoring
COPY api api
COPY tally tally
RUN /opt/tally/bin/pip install . \
 && /opt/tally/bin/python -c "from anchoring.artifact import load_artifact; load_artifact()" \
 && /opt/tally/bin/python -c "from ledger.scoring import v2; assert v2.COMPILED, 'the compiled features did not build'"

FROM ${PYTHON} AS runtime
RUN groupadd --system --gid 10001 tally \
 && useradd --system --uid 10001 --gid tally --home-dir /var/lib/tally --create-home --shell /usr/sbin/nologin tally
COPY --from=build /opt/tally /opt/tally
ENV PATH=/opt/tally/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TALLY_HOME=/var/lib/tally \
    TALLY_HOST=0.0.0.0 \
    TALLY_LOG_FORMAT=json
USER tally:tally
WORKDIR /var/lib/tally
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["tally"]
CMD ["serve", "--no-jobs", "--no-migrate"]
