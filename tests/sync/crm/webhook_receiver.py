"""A local webhook receiver that checks Leadline's signature as a real receiver would."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from werkzeug import Request, Response

SECRET = "s3cret-of-the-receiver-0123"


class Receiver:
    """Checks the signature as a receiver would; ``answers`` scripts the next replies."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, dict]] = []
        self.answers: list[tuple[int, str] | str] = []

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        timestamp = request.headers.get("X-Leadline-Timestamp", "")
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        signed = request.headers.get("X-Leadline-Signature") == f"sha256={expected.hexdigest()}"
        if not signed or abs(time.time() - int(timestamp or 0)) > 300:
            return Response(
                json.dumps({"error": "bad signature"}), 401, content_type="application/json"
            )
        answer = self.answers.pop(0) if self.answers else (200, "OK")
        if answer == "slow":
            time.sleep(1.0)
            answer = (200, "OK")
        self.received.append((json.loads(body), dict(request.headers)))
        status, text = answer
        return Response(text, status, {"Retry-After": "1"} if status == 429 else None)
