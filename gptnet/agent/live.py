"""A live LLM through the `openai` SDK: OpenAI itself or any OpenAI-compatible server (vLLM, llama.cpp's server,
Ollama). Errors become one clear line."""

from __future__ import annotations

from ..errors import DesignError
from .llm import Reply


class LiveLLM:
    def __init__(self, model: str, base_url: str | None, api_key: str | None, timeout: float = 120.0) -> None:
        import openai  # imported here: replaying never pays for it

        self._openai = openai
        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.description = f"live: {model} at {self.base_url}"
        # a local server needs no key, but the SDK insists on one
        self.client = openai.OpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout)

    def ask(self, stage: str, messages: list[dict[str, str]]) -> Reply:
        openai = self._openai
        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages)
        except openai.AuthenticationError:
            raise DesignError(f"API key rejected by {self.base_url}", "check OPENAI_API_KEY") from None
        except openai.NotFoundError:
            raise DesignError(f"model {self.model} not found on {self.base_url}",
                              "pass --model with a model the server serves") from None
        except openai.APIConnectionError as e:
            raise DesignError(f"cannot reach {self.base_url}: {e}", "check --base-url / OPENAI_BASE_URL") from None
        except openai.APIError as e:
            raise DesignError(f"{self.base_url} failed at stage {stage}: {e}", "try again later") from None
        if not response.choices or response.choices[0].message.content is None:
            raise DesignError(f"{self.base_url} returned no text at stage {stage}", "try again, or another model")
        usage = response.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}) \
            if response.usage else None
        return Reply(response.choices[0].message.content, usage)
