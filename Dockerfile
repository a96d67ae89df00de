# ff, first version: the ff_core CLI and library against a real DynamoDB.
# (The API and dashboard images come with their issues; `ff serve`'s embedded store
# listens on loopback only and is meant for a laptop, not a container.)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY ff_core ff_core
COPY ff_api ff_api
COPY ff_admin ff_admin
RUN python -m venv /opt/ff \
 && /opt/ff/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 ff
COPY --from=build /opt/ff /opt/ff
ENV PATH=/opt/ff/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER ff
WORKDIR /home/ff
ENTRYPOINT ["ff"]
CMD ["--help"]
