"""A live LLM through the `openai` SDK: OpenAI itself or any OpenAI-compatible server (vLLM, llama.cpp's server,
Ollama).

Transport faults (connection errors, timeouts, 429, 5xx, a malformed body) are retried here with tenacity:
exponential backoff with jitter, `Retry-After` honoured, bounded attempts and total time, each retry announced.
The SDK's own retries are off so attempts are not multiplied. 400/401/403/404 fail at once with one clear line.
Structured outputs are asked for where the server takes them; a 400 on `response_format`, or an answer that
ignores it, switches to plain text (read by the same parsers) for the rest of the run."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from ..errors import DesignError
from ..parse.jsonform import find_json
from ..units import plural
from ..untrusted import one_line
from .llm import Reply
from .schema import response_format

OPENAI_URL = "https://api.openai.com/v1"
_SECRET_NAME = re.compile(r"key|token|secret|pass|pwd|auth|sig|credential", re.I)


def redact_url(url: str) -> str:
    """`url` as gptnet shows or writes it: user and password, and query parameters named like a key, token,
    secret, password or signature, become ***. The request itself still goes to `url` as given."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [ in the host: show none of it
        return "(an unreadable URL)"
    netloc = "***@" + parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, _redact_query(parts.query), _redact_query(parts.fragment)))


def _redact_query(query: str) -> str:
    def pair(text: str) -> str:
        name, equals, _ = text.partition("=")
        return f"{name}=***" if equals and _SECRET_NAME.search(unquote(name)) else text

    return "&".join(pair(p) for p in query.split("&"))


class LiveLLM:
    def __init__(self, model: str, base_url: str | None, api_key: str | None, *, timeout: float = 60.0,
                 attempts: int = 5, max_seconds: float = 300.0, say: Callable[[str], None] = lambda s: None,
                 ) -> None:
        import openai  # imported here: replaying never pays for it

        self._openai = openai
        self.model = model
        self.base_url = (base_url or OPENAI_URL).rstrip("/")
        self.shown_url = redact_url(self.base_url)  # in every message and file: the URL may carry a key
        self.description = f"live: {model} at {self.shown_url}"
        self.attempts, self.max_seconds, self.say = attempts, max_seconds, say
        self.structured: bool | None = None  # None: not tried yet; then remembered for the run
        self.tried = 0  # attempts of the last request
        # a local server needs no key, but the SDK insists on one
        self.client = openai.OpenAI(api_key=api_key or "not-needed", base_url=self.base_url, timeout=timeout,
                                    max_retries=0)

    # ---- transport
    def _transient(self, e: BaseException) -> bool:
        o = self._openai
        if isinstance(e, (o.APIConnectionError, o.RateLimitError, o.InternalServerError,
                          o.APIResponseValidationError, json.JSONDecodeError)):
            return True
        return isinstance(e, o.APIStatusError) and e.status_code >= 500

    def _wait(self, state: RetryCallState) -> float:
        e = state.outcome.exception()
        asked = _server_wait(getattr(getattr(e, "response", None), "headers", {}))
        wait = wait_exponential_jitter(initial=1, max=20)(state) if asked is None else asked
        # the server's word is a request, not a promise to the user: every wait fits in what is left of max_seconds
        return max(0.0, min(wait, self.max_seconds - (state.seconds_since_start or 0.0)))

    def _describe(self, e: BaseException) -> str:
        o = self._openai
        if isinstance(e, o.APITimeoutError):
            return "no answer within the timeout"
        if isinstance(e, o.APIConnectionError):
            return "connection failed"
        if isinstance(e, o.APIStatusError):
            return f"HTTP {e.status_code}" + (" (rate limited)" if e.status_code == 429 else "")
        return "malformed response"

    def _announce(self, stage: str) -> Callable[[RetryCallState], None]:
        def announce(state: RetryCallState) -> None:
            e = state.outcome.exception()
            self.say(f"stage {stage}: {self._describe(e)} from {self.shown_url}; retrying in "
                     f"{state.next_action.sleep:.1f} s (attempt {state.attempt_number + 1} of {self.attempts})")
        return announce

    def _create(self, stage: str, params: dict[str, Any]):
        retrying = Retrying(retry=retry_if_exception(self._transient), wait=self._wait, reraise=True,
                            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_seconds),
                            before_sleep=self._announce(stage))
        try:
            return retrying(self.client.chat.completions.create, **params)
        finally:  # the time in all can stop the retries before --retries does: the failure names what was made
            self.tried = retrying.statistics.get("attempt_number", 1)

    # ---- the seam
    def ask(self, stage: str, messages: list[dict[str, str]]) -> Reply:
        o = self._openai
        params: dict[str, Any] = {"model": self.model, "messages": messages}
        schema = response_format(stage)
        if schema and self.structured is not False:
            params["response_format"] = schema
        try:
            try:
                response = self._create(stage, params)
            except o.BadRequestError:
                if "response_format" not in params:
                    raise
                self.structured = False
                self.say(f"stage {stage}: {self.shown_url} refuses structured outputs; asking for plain text from "
                         "now on")
                del params["response_format"]
                response = self._create(stage, params)
        except o.AuthenticationError:
            raise DesignError(f"API key rejected by {self.shown_url}", "check OPENAI_API_KEY") from None
        except o.PermissionDeniedError:
            raise DesignError(f"access denied by {self.shown_url} for model {self.model}",
                              "check the key's permissions, or pass another --model") from None
        except o.NotFoundError:
            raise DesignError(f"model {self.model} not found on {self.shown_url}",
                              "pass --model with a model the server serves (GET /v1/models lists them)") from None
        except o.BadRequestError as e:
            raise DesignError(f"{self.shown_url} rejected the request at stage {stage}: {_message(e)}",
                              "check --model and the server's limits") from None
        except (o.APIError, json.JSONDecodeError) as e:
            # a timeout is a server that is there but slow; a refused connection is likely no server at all
            hint = f"is a server running at {self.shown_url}? check --base-url (or OPENAI_BASE_URL)" if \
                isinstance(e, o.APIConnectionError) and not isinstance(e, o.APITimeoutError) else \
                "try again later, or raise --timeout"
            raise DesignError(f"{self.shown_url} failed at stage {stage} after {plural(self.tried, 'attempt')}: "
                              f"{self._describe(e)}", hint) from None
        choice = response.choices[0] if response.choices else None
        if choice is None or not choice.message.content:
            raise DesignError(f"{self.shown_url} returned no text at stage {stage}", "try again, or another model")
        text = choice.message.content
        if "response_format" in params and find_json(text) is None:
            self.structured = False  # the server took the schema but ignored it
        elif "response_format" in params:
            self.structured = True
        usage = response.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}) \
            if response.usage else None
        return Reply(text, usage, {k: v for k, v in params.items() if k not in ("model", "messages")})


def _server_wait(headers: Any) -> float | None:
    """The seconds a server asks to wait before retrying (`retry-after-ms`, or `Retry-After` in seconds or as an
    HTTP date), or None when it asks nothing readable: a missing, negative, infinite or garbled value, or a date
    no clock reaches."""
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000
    after = headers.get("retry-after")
    if not after:
        return None
    seconds = _seconds(after)
    if seconds is not None:
        return seconds
    try:
        return max(0.0, (parsedate_to_datetime(after) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError, OverflowError, IndexError):  # naive, garbled or out-of-range dates
        return None


def _seconds(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _message(e: Exception) -> str:
    """The server's words on a refused request, inert and short: the body is the server's, not gptnet's."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        return one_line(str(body.get("message") or body.get("error", {}).get("message") or e))
    return one_line(str(e))
