"""Fixtures: a moto server for the session, the functions' code in its S3,
one stack per ApiAuth value, and the adder binary."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from deployment import CODE_BUCKET, CODE_KEY, Clients, Deployed, api_auth_values, deploy, free_port, moto_server_path
from stack_template import ROOT


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen([moto_server_path(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not listen on port {port} (log: {log.name})")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def aws(endpoint: str) -> Clients:
    clients = Clients(endpoint)
    # What `sam package` does: the functions' code as a zip in S3. moto stores
    # it and creates the functions without running anything (it would start
    # Docker only when a function is invoked).
    clients.s3.create_bucket(Bucket=CODE_BUCKET)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    clients.s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=zipped.getvalue())
    return clients


@pytest.fixture(scope="module", params=api_auth_values())
def deployed(request: pytest.FixtureRequest, aws: Clients) -> Deployed:
    auth = request.param
    return deploy(aws, f"adder-{auth.lower().replace('_', '-')}", {"ApiAuth": auth})


@pytest.fixture(scope="session")
def adder_bin() -> str:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = Path(os.environ.get("ADDER_BIN", target / "debug" / "adder"))
    if not path.is_file():
        pytest.fail(f"the adder binary is missing at {path}: build it with `cargo build -p adder` (or set ADDER_BIN)")
    return str(path)
