"""Fail fast when the address `make dev` would serve the Dagster UI on is taken.

`dagster dev` starts the daemon (and with it the schedules) beside the webserver: on a port in
use the webserver prints the bind error and exits while the daemon keeps running, schedule and
all, with no UI to see or stop it. So `make dev` checks the port first and starts nothing when it
is taken. The check binds the way the webserver will (SO_REUSEADDR, as uvicorn sets it): a port
that merely has closed connections lingering (TIME_WAIT) passes, one with a listener fails.

    python scripts/check_port_free.py 127.0.0.1 3000
"""

from __future__ import annotations

import socket
import sys


def port_problem(host: str, port: int) -> str | None:
    """Why the webserver could not listen on host:port; None when it could."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].isdigit():
        print("usage: check_port_free.py HOST PORT", file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    problem = port_problem(host, port)
    if problem is None:
        return 0
    print(f"make dev: cannot serve the Dagster UI on {host}:{port} ({problem}); nothing was started. "
          f"Stop whatever listens there, or choose another port: make dev DEV_PORT=3001", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
