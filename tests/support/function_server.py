"""The real functions-framework server running ``function/main.py`` against the GCS emulator,
and a stand-in for Eventarc that POSTs Cloud Storage CloudEvents to it over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

from tests.support import process
from tests.support.tools import free_port, require_tool

REPO = Path(__file__).resolve().parents[2]
EVENT_TYPE = "google.cloud.storage.object.v1."
Mode = Literal["binary", "structured"]


class FunctionServer:
    """``functions-framework --signature-type=cloudevent`` on a loopback port, stopped by PID."""

    def __init__(
        self,
        emulator_url: str,
        bucket: str,
        log_path: Path,
        prefix: str = "",
        public_url: str | None = None,
    ) -> None:
        self.public_url = public_url
        self.emulator_url = emulator_url.rstrip("/")
        self.bucket = bucket
        self.log_path = log_path
        self.prefix = prefix
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 30) -> FunctionServer:
        binary = require_tool("functions-framework")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "PYPAPO_"))}
        env.update(
            {
                "STORAGE_EMULATOR_HOST": self.emulator_url,
                "PYPAPO_BUCKET": self.bucket,
                "PYPAPO_PREFIX": self.prefix,
                "PYPAPO_LOG_LEVEL": "DEBUG",
                "PYPAPO_RETRY_TIMEOUT": "2",
                "GOOGLE_CLOUD_PROJECT": "test",
                "PYTHONPATH": str(REPO / "generator"),
            }
        )
        if self.public_url is not None:
            env["PYPAPO_PUBLIC_URL"] = self.public_url
        self.process = process.start(
            [
                binary,
                "--target=on_storage_event",
                "--signature-type=cloudevent",
                f"--source={REPO / 'function' / 'main.py'}",
                "--host=127.0.0.1",
                f"--port={self.port}",
            ],
            self.log_path,
            env=env,
            cwd=REPO / "function",
        )
        # GET / answers 405 once the framework serves
        process.wait_ready(
            self.process,
            self.url,
            self.log_path,
            name="functions-framework",
            timeout=timeout,
            any_status=True,
        )
        return self

    def stop(self) -> None:
        process.stop(self.process)

    def __enter__(self) -> FunctionServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def object_resource(self, name: str) -> dict[str, Any]:
        """What Eventarc puts in the event's data: the object's resource, or a stub once gone."""
        url = f"{self.emulator_url}/storage/v1/b/{self.bucket}/o/{quote(name, safe='')}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                resource: dict[str, Any] = json.loads(response.read())
                return resource
        except urllib.error.HTTPError as e:
            e.close()
            return {"bucket": self.bucket, "name": name, "kind": "storage#object"}

    def post_event(
        self, kind: str, name: str, mode: Mode = "binary", data: dict[str, Any] | None = None
    ) -> int:
        """Deliver one CloudEvent the way Eventarc does; returns the HTTP status."""
        data = data if data is not None else self.object_resource(name)
        attributes = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": EVENT_TYPE + kind,
            "source": f"//storage.googleapis.com/projects/_/buckets/{self.bucket}",
            "subject": f"objects/{name}",
            "time": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
        if mode == "binary":
            headers = {f"ce-{k}": v for k, v in attributes.items()}
            headers["Content-Type"] = "application/json"
            body = json.dumps(data).encode()
        else:
            headers = {"Content-Type": "application/cloudevents+json"}
            body = json.dumps(
                {**attributes, "datacontenttype": "application/json", "data": data}
            ).encode()
        return post(self.url, headers, body)

    def log_lines(self) -> list[dict[str, Any]]:
        """The function's structured log lines (JSON), skipping the server's own output."""
        lines = []
        for raw in self.log_path.read_text().splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        return lines


def post(url: str, headers: dict[str, str], body: bytes) -> int:
    """POST ``body`` to the function; its HTTP status, error statuses included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code
