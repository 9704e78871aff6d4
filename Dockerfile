# The seqmask image used by docker-compose.yml for the Prefect worker and the Dask scheduler/workers.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng libsndfile1 make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/seqmask
COPY pyproject.toml README.md ./
COPY seqmask ./seqmask
COPY flows ./flows
COPY configs ./configs
COPY data ./data
RUN pip install --no-cache-dir -e .
ENV SEQMASK_HOME=/artifacts
