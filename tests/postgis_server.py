"""A throw-away PostgreSQL + PostGIS server on loopback, for the PostGIS tests.

``CPTS_GEO_TEST_POSTGIS`` (a ``postgresql://`` URL, exported by ``.ci/run``) is used when set;
otherwise, when Debian's ``postgresql`` and ``postgresql-*-postgis-*`` are installed, a cluster
is created in a temporary folder, started on 127.0.0.1 on a free port, and removed at the end.
Without a server the tests skip with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _binaries() -> Path | None:
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        version = Path(initdb).parents[1].name
        if glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> tuple[str, callable] | str:
    """Start a server; return ``(url, stop)``, or the reason why there is none."""
    bindir = _binaries()
    if bindir is None:
        return ("PostgreSQL avec PostGIS absent (paquets Debian postgresql et "
                "postgresql-15-postgis-3) et CPTS_GEO_TEST_POSTGIS non défini")
    root = Path(tempfile.mkdtemp(prefix="cpts_geo_pg_"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    log = root / "log.txt"
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                        "-t", "60", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c full_page_writes=off", "start"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.SubprocessError, OSError) as err:
        shutil.rmtree(root, ignore_errors=True)
        return f"serveur PostgreSQL de test non démarré : {err}"

    def stop() -> None:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop
