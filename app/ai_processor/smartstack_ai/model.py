"""The one interface the model sits behind, and its two implementations.

``ai-model`` in Parameter Store picks one: ``echo`` runs anywhere without a
model (local platform, tests); anything else is a Bedrock model id.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

ECHO = "echo"
MAX_TOKENS = 512


class ModelClient(Protocol):
    model_id: str

    def complete(self, prompt: str) -> str:
        """The model's answer to ``prompt``."""
        ...


class EchoModelClient:
    """Answers with the prompt itself: the pipeline around the model, without a model."""

    model_id = ECHO

    def complete(self, prompt: str) -> str:
        return f"echo: {prompt}"


class BedrockModelClient:
    """A Bedrock model through bedrock-runtime ``InvokeModel``.

    Anthropic models take the Messages body, Amazon Titan text models the
    ``inputText`` body; other families are refused when the client is made.
    """

    def __init__(self, model_id: str, client: Any | None = None) -> None:
        if not _family(model_id):
            raise ValueError(
                f"unsupported model {model_id!r}: use an anthropic.* or amazon.titan-text* id, "
                "or 'echo'"
            )
        self.model_id = model_id
        if client is None:
            import boto3  # provided by the Lambda runtime

            client = boto3.client("bedrock-runtime")
        self._client = client

    def complete(self, prompt: str) -> str:
        family = _family(self.model_id)
        if family == "anthropic":
            body: dict[str, Any] = {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": prompt}],
            }
        else:
            body = {"inputText": prompt, "textGenerationConfig": {"maxTokenCount": MAX_TOKENS}}
        response = self._client.invoke_model(
            modelId=self.model_id,
            body=json.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        payload = json.loads(response["body"].read())
        if family == "anthropic":
            return "".join(p.get("text", "") for p in payload.get("content", []))
        return "".join(r.get("outputText", "") for r in payload.get("results", []))


def _family(model_id: str) -> str | None:
    # Cross-region inference profiles prefix the id with a geography ("us.anthropic...").
    bare = (
        model_id.split(".", 1)[1] if model_id.split(".", 1)[0] in {"us", "eu", "apac"} else model_id
    )
    if bare.startswith("anthropic."):
        return "anthropic"
    if bare.startswith("amazon.titan-text"):
        return "titan"
    return None


def model_client(model: str | None) -> ModelClient:
    """The client for the ``ai-model`` setting (``echo`` when unset)."""
    if not model or model == ECHO:
        return EchoModelClient()
    return BedrockModelClient(model)
