#!/usr/bin/env bash
# Shared by scripts/start, scripts/test and scripts/bench: install dependencies, make sure MariaDB and Redis answer.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

log() { printf '\033[1;34m[gridflow]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[gridflow] %s\033[0m\n' "$*" >&2; exit 1; }

# Loads .env into the environment (values already set in the environment win).
load_env() {
  if [ -f .env ]; then
    while IFS='=' read -r key value; do
      [[ -z "$key" || "$key" == \#* ]] && continue
      [ -z "${!key:-}" ] && export "$key=$value"
    done < .env
  fi
  return 0
}

ensure_node() {
  command -v node >/dev/null || die "Node.js 20.11+ is required: install it (e.g. apt-get install nodejs) and rerun."
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js 20.11+ is required (found $(node -v))."
}

# npm ci when node_modules is missing or older than the lockfile. Install scripts of dependencies stay off
# unless approved in package.json (allowScripts); none is needed.
ensure_deps() {
  ensure_node
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing dependencies (npm ci)"
    # the lockfile lists every platform's optional binaries (msgpackr-extract, unrs-resolver), so npm ci takes it
    # on any machine; should a later install leave some out again, npm install resolves the same locked versions
    if ! npm ci --no-audit --no-fund --loglevel=error; then
      log "npm ci refused the lockfile; installing with npm install (lockfile left unchanged)"
      npm install --no-save --no-audit --no-fund --loglevel=error
    fi
  fi
}

url_host() { node -e 'const u=new URL(process.argv[1]);console.log(u.hostname)' "$1"; }
url_port() { node -e 'const u=new URL(process.argv[1]);console.log(u.port||process.argv[2])' "$1" "$2"; }

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

is_local() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # host port seconds what
  local i
  for ((i = 0; i < $3 * 5; i++)); do tcp_open "$1" "$2" && return 0; sleep 0.2; done
  return 1
}

ensure_mariadb() {
  local url="${DATABASE_URL:-mariadb://root@127.0.0.1:3306/gridflow}"
  local host port; host=$(url_host "$url"); port=$(url_port "$url" 3306)
  tcp_open "$host" "$port" && return 0
  is_local "$host" || die "MariaDB/MySQL at $host:$port does not answer. Start it, or set DATABASE_URL to one that does."
  if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
    can_install || die "MariaDB is not installed. Install it (Debian: sudo apt-get install mariadb-server) or set DATABASE_URL."
    apt_install mariadb-server
  fi
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 2>/dev/null || (/usr/sbin/mariadbd --user=mysql >/dev/null 2>&1 &)
  else
    (/usr/sbin/mysqld --user=mysql >/dev/null 2>&1 &)
  fi
  wait_for "$host" "$port" 60 || die "MariaDB did not come up on $host:$port within 60 s; see its error log (/var/log/mysql)."
}

ensure_redis() {
  local url="${REDIS_URL:-redis://127.0.0.1:6379}"
  local host port; host=$(url_host "$url"); port=$(url_port "$url" 6379)
  tcp_open "$host" "$port" && return 0
  is_local "$host" || die "Redis at $host:$port does not answer. Start it, or set REDIS_URL to one that does."
  if ! command -v redis-server >/dev/null; then
    can_install || die "Redis is not installed. Install it (Debian: sudo apt-get install redis-server) or set REDIS_URL."
    apt_install redis-server
  fi
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null
  wait_for "$host" "$port" 30 || die "Redis did not come up on $host:$port within 30 s; see /var/log/redis/ci.log."
}

ensure_services() {
  ensure_mariadb
  ensure_redis
}

# A JWT secret for this checkout, generated once into .env (never committed).
ensure_secret() {
  if [ -z "${JWT_SECRET:-}" ]; then
    touch .env
    if ! grep -q '^JWT_SECRET=' .env; then
      echo "JWT_SECRET=$(node -e 'console.log(require("crypto").randomBytes(48).toString("base64url"))')" >> .env
      log "generated JWT_SECRET into .env"
    fi
    load_env
  fi
}
