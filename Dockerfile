FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/carillon
COPY pyproject.toml README.md ./
COPY app app
COPY tenants tenants
COPY telephony telephony
COPY kamailio kamailio
COPY billing billing
COPY jobs jobs
COPY migrations migrations
COPY templates templates
COPY static static
COPY translations translations
COPY alembic.ini ./
RUN pip install --no-cache-dir -e .
USER nobody
EXPOSE 8000
