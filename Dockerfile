FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .

ENV OPENMSI_DATABASE_URL=sqlite:////data/openmsi.db
EXPOSE 8080
CMD ["openmsi", "serve", "--host", "0.0.0.0", "--port", "8080"]
