# Two images from one build: the scanning service (the default target) and the pipeline's.
#
#   docker build -t maldoc .                                 # the service: maldoc[serve] only
#   docker build --target pipeline -t maldoc-pipeline .      # kfp components: maldoc[pipeline]
#   docker run -p 8080:8080 maldoc                           # the REST service on :8080
#   docker run --rm -v "$PWD:/data:ro" maldoc scan /data/x.docm   # the CLI (ENTRYPOINT is `maldoc`)
#   maldoc pipeline compile --image maldoc-pipeline:TAG      # kfp runs its `python -m ...` in it
#
# Every dependency is installed at the version pinned in constraints.txt (pip freeze of the
# development venv; scripts/update-constraints.sh), so a rebuild installs the same packages.
# The service image holds no kfp, pandas, pyarrow or matplotlib.
#
# The shipped model bundle is part of the package (maldoc/models/default); a build whose bundle
# fails to load or to pass the service's self-check fails here, not in production. Mount another
# bundle and set MALDOC_MODEL to serve it; SIGHUP or POST /v1/admin/model/reload swaps it live
# (reloads read only from MALDOC_MODELS_DIR).
# The service listens on 0.0.0.0 inside the container so that a published port reaches it, and
# `maldoc serve` refuses a non-loopback address without API keys unless --allow-anonymous says
# so. The default command says so explicitly: set MALDOC_API_KEYS (then keys are required) or put
# the container on a network only the gateways reach.
# tests/serving/test_dockerfile.py runs these install steps in fresh venvs so they cannot rot.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY core core
COPY extractors extractors
COPY training training
COPY pipeline pipeline
COPY serving serving
COPY samples samples
# Wheels for maldoc and every dependency of both images (the milter's extra needs libmilter-dev
# and is installed on the mail host: deploy/systemd).
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt ".[serve,pipeline]"

# -- the retraining pipeline's components ----------------------------------------------------
FROM ${PYTHON_IMAGE} AS pipeline
# libgomp1: LightGBM's OpenMP runtime, absent from slim images. libarchive13: the C library
# libarchive-c reads 7z, RAR, CAB, TAR, ISO and gz/xz/bz2 with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 libarchive13 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin maldoc
COPY --from=build /wheels /wheels
COPY --from=build /src/constraints.txt /constraints.txt
RUN pip install --no-cache-dir --no-index --find-links /wheels -c /constraints.txt "maldoc[pipeline]" && rm -rf /wheels
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["maldoc"]
CMD ["pipeline", "--help"]

# -- the scanning service (default target) ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS service
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 libarchive13 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin maldoc
COPY --from=build /wheels /wheels
COPY --from=build /src/constraints.txt /constraints.txt
RUN pip install --no-cache-dir --no-index --find-links /wheels -c /constraints.txt "maldoc[serve]" && rm -rf /wheels
RUN python -m maldoc.serving.modelstore
ENV MALDOC_HOST=0.0.0.0 \
    MALDOC_PORT=8080 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('MALDOC_PORT', '8080'), timeout=4)"
ENTRYPOINT ["maldoc"]
CMD ["serve", "--allow-anonymous"]
