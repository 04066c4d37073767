"""Governing the consortium: the ``client.administrations`` and ``client.governance_keys`` groups of
:class:`sdk.Client`. The governance key, except where a method says otherwise.
"""

from __future__ import annotations

import builtins  # the group has a method named `list`
from collections.abc import Mapping
from typing import Any

from ._convert import items
from ._transport import Transport, segment
from .models import Administration, AdmittedAdministration, ApiKeyInfo, IssuedApiKey, Language

__all__ = ["Administrations", "GovernanceKeys"]


class Administrations:
    """``client.administrations``: admitting, suspending and reinstating administrations, and their API keys."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def admit(self, code: str, name: str, *, language: Language = "ca") -> AdmittedAdministration:
        """Admit an administration to the consortium and issue its first API key. Governance only.

        Arguments:
            code: the administration's public code, e.g. ``"L01080193"``.
            name: its display name, e.g. ``"Ajuntament de Barcelona"``.
            language: the language of its citizens' SMS: ``"ca"`` (the default), ``"es"`` or ``"en"``.

        The returned ``api_key.key`` is shown only once.

        Raises:
            ConflictError: an administration with this code already exists.
            ValidationError: the code or name is not acceptable; see ``details``.
        """
        return self._transport.call(
            "POST",
            "/v1/administrations",
            AdmittedAdministration._from_json,
            json={"code": code, "name": name, "language": language},
        )

    def list(self) -> list[Administration]:
        """List every administration, active or suspended. Governance only."""
        return self._transport.call("GET", "/v1/administrations", items(Administration._from_json))

    def get(self, code: str) -> Administration:
        """Fetch one administration by code. Governance, or that administration's own key.

        Raises:
            NotFoundError: no administration has this code.
        """
        return self._transport.call("GET", f"/v1/administrations/{segment(code)}", Administration._from_json)

    def update(
        self,
        code: str,
        *,
        language: Language | None = None,
        sms_templates: Mapping[Language, str | None] | None = None,
    ) -> Administration:
        """Change what an administration's citizens read. Governance, or that administration's own key.

        Arguments:
            language: the language of its citizens' SMS, unless an app asks for another; ``None`` leaves it.
            sms_templates: its own SMS text by language, with ``{code}`` (required) and ``{administration}``
                (its name) to fill in, at most 160 characters; ``None`` for a language gives it Segell's default
                text again; a language left out is unchanged.

        Example::

            segell.administrations.update(
                "L01170792",
                language="es",
                sms_templates={"es": "{code} es tu código para la sede electrónica de {administration}."},
            )

        Raises:
            NotFoundError: no administration has this code (or it is another administration's).
            ValidationError: a text without ``{code}``, with another placeholder or brace, or too long.
        """
        body: dict[str, Any] = {}
        if language is not None:
            body["language"] = language
        if sms_templates is not None:
            body["sms_templates"] = dict(sms_templates)
        path = f"/v1/administrations/{segment(code)}"
        return self._transport.call("PATCH", path, Administration._from_json, json=body)

    def suspend(self, code: str) -> Administration:
        """Suspend an administration: its accounts can no longer anchor. Governance only."""
        path = f"/v1/administrations/{segment(code)}/suspend"
        return self._transport.call("POST", path, Administration._from_json)

    def reinstate(self, code: str) -> Administration:
        """Reinstate a suspended administration. Governance only."""
        path = f"/v1/administrations/{segment(code)}/reinstate"
        return self._transport.call("POST", path, Administration._from_json)

    def issue_api_key(self, code: str) -> IssuedApiKey:
        """Issue another API key for an administration. Governance only.

        The returned ``key`` is shown only once::

            issued = client.administrations.issue_api_key("L01080193")
            store_secret(issued.key)
        """
        path = f"/v1/administrations/{segment(code)}/api-keys"
        return self._transport.call("POST", path, IssuedApiKey._from_json)

    def list_api_keys(self, code: str) -> builtins.list[ApiKeyInfo]:
        """List an administration's API keys, revoked ones included, without secrets. Governance only."""
        path = f"/v1/administrations/{segment(code)}/api-keys"
        return self._transport.call("GET", path, items(ApiKeyInfo._from_json))

    def revoke_api_key(self, code: str, key_id: str) -> ApiKeyInfo:
        """Revoke one of an administration's API keys; it stops working at once. Governance only.

        Raises:
            NotFoundError: the administration has no key with this id.
        """
        path = f"/v1/administrations/{segment(code)}/api-keys/{segment(key_id)}"
        return self._transport.call("DELETE", path, ApiKeyInfo._from_json)


class GovernanceKeys:
    """``client.governance_keys``: the consortium's own API keys."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self) -> list[ApiKeyInfo]:
        """List the governance API keys, revoked ones included, without secrets. Governance only."""
        return self._transport.call("GET", "/v1/governance/api-keys", items(ApiKeyInfo._from_json))

    def rotate(self, key_id: str) -> IssuedApiKey:
        """Replace a governance key: a new one is issued and ``key_id`` stops working at once. Governance only.

        The returned ``key`` is shown only once. To rotate the key this client uses::

            issued = client.governance_keys.rotate(client.me().key_id)
            Path(".segell/governance.key").write_text(issued.key + "\n")

        Raises:
            NotFoundError: no governance key has this id.
            ConflictError: with ``code == "api_key_revoked"``, the key is already revoked.
        """
        path = f"/v1/governance/api-keys/{segment(key_id)}/rotate"
        return self._transport.call("POST", path, IssuedApiKey._from_json)

    def revoke(self, key_id: str) -> ApiKeyInfo:
        """Revoke a governance key; it stops working at once. Governance only.

        Raises:
            NotFoundError: no governance key has this id.
            ConflictError: with ``code == "last_governance_key"``, it is the last active one (rotate it instead).
        """
        return self._transport.call("DELETE", f"/v1/governance/api-keys/{segment(key_id)}", ApiKeyInfo._from_json)
