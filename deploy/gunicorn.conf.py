"""gunicorn settings for complaints: ``gunicorn --config deploy/gunicorn.conf.py wsgi:app``.

Run from the release directory (/srv/complaints), behind a reverse proxy on the same host
(deploy/nginx.conf). See docs/deployment.md. Everything here can be overridden on the command
line; the worker count also with the environment variable WEB_CONCURRENCY.
"""

import logging
import multiprocessing
import os

# Loopback only: the reverse proxy terminates TLS and is the only client. With a unix socket
# instead ("unix:/run/complaints/gunicorn.sock"), make sure only the proxy can open it.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]

# Sync workers: each request holds one worker. Logging in costs one argon2id hash of
# argon2_memory_kib (64 MiB by default) per worker at that moment; size memory accordingly.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "sync"
# The proxy buffers request bodies (uploads up to ~51 MiB) before it passes them on, so a slow
# client never holds a worker; a request that still takes this long is stuck.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that memory fragmentation cannot build up.
max_requests = 2000
max_requests_jitter = 200
# The heartbeat file on a memory file system (see gunicorn's "blocking os.fchmod" notes).
worker_tmp_dir = "/dev/shm"  # noqa: S108 - gunicorn makes a private mkstemp file there

# The proxy on this host is the only source of X-Forwarded-* headers that gunicorn believes
# (it sets wsgi.url_scheme from X-Forwarded-Proto). The application's own ProxyFix trusts the
# last COMPLAINTS_TRUSTED_PROXY_COUNT hops of X-Forwarded-For/-Proto/-Host: 1 for one nginx.
forwarded_allow_ips = "127.0.0.1,::1"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Privacy: no access log. gunicorn's access log would hold client addresses (%(h)s) and full
# request lines with query strings (%(r)s). The application writes its own request line
# (route pattern, status, duration, a random request id) to standard error; journald keeps it.
accesslog = None
errorlog = "-"
loglevel = "info"
capture_output = False


class _NoAddressesOrPaths(logging.Filter):
    """gunicorn's own error log names the peer address of a malformed request ("Invalid request
    from ip=...") and the request line of one that failed outside the application ("Error
    handling request /path?query"). Keep the event, drop the address and the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Invalid request from ip="):
            record.msg, record.args = "Invalid request (address not logged)", ()
        elif message.startswith("Error handling request"):
            record.msg, record.args = "Error handling request (request line not logged)", ()
        return True


def on_starting(server):
    """Before gunicorn binds or tells systemd it is ready: the application's own start-up
    checks (settings, policy files, key store). A refusal ends gunicorn here with one line and
    exit status 2, instead of workers failing to boot once a second behind a READY service.
    Also warns when Redis (the rate-limit counters) does not answer."""
    from complaints.web.startup import check_before_serving

    check_before_serving()


def post_fork(server, worker):
    # A worker that still cannot build the application stops the master (gunicorn's
    # WORKER_BOOT_ERROR) rather than being started again and again.
    from complaints.web.startup import mark_gunicorn_worker

    mark_gunicorn_worker()


def post_worker_init(worker):
    worker.log.error_log.addFilter(_NoAddressesOrPaths())


# gunicorn >= 25 opens a control socket under $HOME by default; the service has no writable
# home (ProtectHome, ProtectSystem=strict) and needs no run-time control beyond signals.
control_socket_disable = True

proc_name = "complaints"
umask = 0o077
