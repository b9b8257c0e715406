# openmsi on SQLite: `docker run -p 8080:8080 IMAGE` needs nothing else. The database lives in the
# /data volume; create an admin user with `docker exec CONTAINER openmsi admin create ...`.
# docker-compose.yml runs the same image on PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin openmsi \
    && mkdir -p /data \
    && chown openmsi:openmsi /data

# The SQLite file; `openmsi serve` creates and migrates it on its first start. /data is made and
# handed to the openmsi user above, before VOLUME: a new volume starts as a copy of it.
ENV OPENMSI_DATABASE_URL=sqlite:////data/openmsi.db
VOLUME /data
USER openmsi
EXPOSE 8080

# Ready: the database answers and its schema is at the latest migration. Python's urllib, as the
# slim image has no curl; an answer other than 200 raises, and the exit code is 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=4)"]

CMD ["openmsi", "serve", "--host", "0.0.0.0", "--port", "8080"]
