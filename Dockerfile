# The lab's image for docker-compose.yml: what `make setup` installs on a Debian machine
# (Chromium, nginx, Redis, Node and npm from Debian; the Python and npm packages from the
# project's own files). It runs as root, as the lab's own CI machine does: the harness
# drops nothing it needs (nginx keeps its workers under the same user) and the reports
# folder bind-mounted from the host is writable whoever created it.
FROM debian:bookworm-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv make ca-certificates procps \
      chromium fonts-liberation nginx redis-server nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /lab
ENV PATH=/lab/.venv/bin:$PATH PYTHONUNBUFFERED=1

COPY . .
RUN make setup

CMD ["siolab", "run", "--all"]
