# The Segell API. Contract artifacts are committed, so the image needs no Solidity compiler.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chain ./chain
COPY services ./services
COPY sdk ./sdk
COPY segell ./segell
COPY contracts/artifacts ./contracts/artifacts
# A regular install: the artifacts, pages and migrations are package data; the SDK is its own distribution.
RUN pip install --no-cache-dir ./sdk .
ENV SEGELL_HOME=/data SEGELL_HOST=0.0.0.0
VOLUME /data
EXPOSE 8000
CMD ["segell", "up"]
