#!/usr/bin/env bash
# Start the local services integration tests use, if they are down. Tests that need one that
# still is not up skip with a loud reason rather than fail for the wrong cause.
set -u
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>&1 || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no 2>&1 || true
fi
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  # The UI tests drive Debian's Chromium with Playwright (its own browser download cannot work here).
  echo "services: installing Debian's chromium for the browser tests"
  (timeout 600 apt-get install -y -q chromium >/dev/null 2>&1 \
    || (timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 600 apt-get install -y -q chromium >/dev/null 2>&1)) \
    || echo "services: could not install chromium; the browser tests will be skipped"
fi
exit 0
