"""Helpers of the seed-era SDK suite.

letta-client 0.1.x builds its models without validating them (Fern's ``UncheckedBaseModel``):
a response with a missing field or a wrong type does not raise, it quietly becomes a half-built
object or the wrong member of a union. ``checked`` closes that gap by validating the raw body
against the type the SDK declares for the call.
"""

from __future__ import annotations

import re
import time
import typing

import letta_client
import pydantic
from letta_client.core.http_response import HttpResponse

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
MODEL = "openai/gpt-4o-mini"
LOCAL_EMBEDDING = "local/all-MiniLM-L6-v2"

T = typing.TypeVar("T")


def checked(resp: HttpResponse[T], type_: typing.Any) -> T:
    """The SDK's result of a ``with_raw_response`` call, once its body validates as ``type_``."""
    body = resp._response.json()
    try:
        pydantic.TypeAdapter(type_).validate_python(body)
    except pydantic.ValidationError as err:
        raise AssertionError(f"the seed SDK's {type_} does not accept the body: {err}\n{body!r}") from err
    return resp.data


def assert_id(value: typing.Any, prefix: str) -> None:
    assert isinstance(value, str) and re.fullmatch(f"{prefix}-{UUID4}", value), (value, prefix)


def assert_api_error(exc: letta_client.core.ApiError, status: int) -> None:
    """The seed SDK raised ``ApiError`` for ``status`` with the server's JSON error body."""
    assert isinstance(exc, letta_client.core.ApiError), type(exc)
    assert exc.status_code == status, f"expected {status}, got {exc.status_code}: {exc.body!r}"
    assert isinstance(exc.body, dict) and "detail" in exc.body, exc.body


def user(text: str) -> list[letta_client.MessageCreate]:
    return [letta_client.MessageCreate(role="user", content=text)]


def text_of(message) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def wait_for_job(client: letta_client.Letta, job_id: str, timeout: float = 60.0) -> letta_client.Job:
    """Polls ``jobs.retrieve`` until the job has ended, as seed-era applications did."""
    deadline = time.monotonic() + timeout
    while True:
        job = checked(client.jobs.with_raw_response.retrieve(job_id), letta_client.Job)
        if job.status in ("completed", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status} after {timeout}s"
        time.sleep(0.1)
