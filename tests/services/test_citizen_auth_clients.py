"""Citizen authentication through the SDK and `segell otp` against a real Segell server (tests/conftest.py)."""

import json
import re
import secrets

import pyotp
import pytest
from typer.testing import CliRunner

from segell.sdk import Citizen, CitizenToken, Client, NotFoundError, RateLimitError, SmsMessage, ValidationError
from segell.services.cli import app
from tests.helpers import CODE_IN_MESSAGE, RunningServer, new_phone


@pytest.fixture
def administration(segell_server: RunningServer) -> tuple[str, str]:
    code = f"CL{secrets.token_hex(4).upper()}"
    return code, segell_server.admit(code)


def last_code(client: Client, phone: str) -> str:
    match = CODE_IN_MESSAGE.search(client.auth.otp_outbox(phone=phone, limit=1)[0].message)
    assert match is not None
    return match.group(1)


def test_sdk_logs_a_citizen_in_by_sms_then_enrols_and_uses_totp(
    segell_server: RunningServer, administration: tuple[str, str]
) -> None:
    code, key = administration
    phone = new_phone()
    with Client(segell_server.url, key) as segell:
        challenge = segell.auth.request_otp(phone, client_address="192.0.2.10")
        sms_token = segell.auth.verify_otp(phone, last_code(segell, phone))
        me = segell.citizens.me(sms_token.access_token)
        enrolment = segell.citizens.enrol_totp(sms_token.access_token)
        totp = pyotp.TOTP(enrolment.secret)
        confirmed_at = segell.citizens.confirm_totp(sms_token.access_token, totp.now())
        keys = segell.auth.json_web_keys()

    assert challenge.gateway == "outbox" and challenge.phone.endswith(phone[-3:])
    assert isinstance(sms_token, CitizenToken) and sms_token.amr == ("sms", "otp")
    assert isinstance(me, Citizen)
    assert (me.administration, me.citizen_id, me.totp) == (code, sms_token.citizen_id, "none")
    assert enrolment.otpauth_uri.startswith("otpauth://totp/")
    assert confirmed_at.tzinfo is not None
    assert [k["alg"] for k in keys] and all(k["alg"] == "ES256" for k in keys)


def test_sdk_raises_the_documented_errors(segell_server: RunningServer, administration: tuple[str, str]) -> None:
    _, key = administration
    phone = new_phone()
    with Client(segell_server.url, key) as segell:
        with pytest.raises(ValidationError):
            segell.auth.request_otp("600 12 34 56")
        with pytest.raises(NotFoundError) as no_code:
            segell.auth.verify_otp(phone, "123456")
        for _ in range(3):
            segell.auth.request_otp(phone)
        with pytest.raises(RateLimitError) as limited:
            segell.auth.request_otp(phone)

    assert no_code.value.code == "no_pending_code"
    assert limited.value.status_code == 429 and limited.value.code == "rate_limited"
    assert limited.value.retry_after is not None and limited.value.retry_after > 0


def test_sdk_outbox_is_scoped_to_the_key(segell_server: RunningServer, administration: tuple[str, str]) -> None:
    code, key = administration
    other_code = f"CL{secrets.token_hex(4).upper()}"
    other_key = segell_server.admit(other_code)
    phone, other_phone = new_phone(), new_phone()
    with Client(segell_server.url, key) as ours, Client(segell_server.url, other_key) as theirs:
        ours.auth.request_otp(phone)
        theirs.auth.request_otp(other_phone)
        own = ours.auth.otp_outbox()
        with pytest.raises(NotFoundError):
            ours.auth.otp_outbox(administration=other_code)
    with Client(segell_server.url, segell_server.governance_key) as governance:
        all_of_theirs = governance.auth.otp_outbox(administration=other_code)

    assert all(isinstance(m, SmsMessage) for m in own)
    assert [(m.administration, m.phone) for m in own] == [(code, phone)]
    assert [(m.administration, m.phone) for m in all_of_theirs] == [(other_code, other_phone)]


def test_cli_otp_outbox_reads_every_message_with_the_governance_key(
    segell_server: RunningServer, administration: tuple[str, str], runner: CliRunner
) -> None:
    code, key = administration
    phone = new_phone()
    env = {"SEGELL_URL": segell_server.url, "SEGELL_HOME": str(segell_server.home), "SEGELL_API_KEY": None}
    with Client(segell_server.url, key) as segell:
        segell.auth.request_otp(phone)
        expected = last_code(segell, phone)

    table = runner.invoke(app, ["otp", "outbox", "--administration", code], env=env)
    as_json = runner.invoke(app, ["otp", "outbox", "--phone", phone, "--json"], env=env)

    assert table.exit_code == 0, table.output
    assert phone in table.output and expected in table.output and code in table.output
    assert as_json.exit_code == 0, as_json.output
    messages = json.loads(as_json.stdout)
    assert [(m["administration"], m["phone"]) for m in messages] == [(code, phone)]
    assert expected in messages[0]["message"]


def test_cli_otp_send_and_verify_with_an_administrations_key(
    segell_server: RunningServer, administration: tuple[str, str], runner: CliRunner
) -> None:
    _, key = administration
    phone = new_phone()
    env = {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": key}

    sent = runner.invoke(app, ["otp", "send", phone], env=env)
    outbox = runner.invoke(app, ["otp", "outbox", "--json"], env=env)
    code = CODE_IN_MESSAGE.search(json.loads(outbox.stdout)[0]["message"])
    assert code is not None
    wrong = runner.invoke(app, ["otp", "verify", phone, f"{(int(code.group(1)) + 1) % 10**6:06d}"], env=env)
    right = runner.invoke(app, ["otp", "verify", phone, code.group(1), "--json"], env=env)

    assert sent.exit_code == 0, sent.output
    assert "outbox" in sent.output
    assert wrong.exit_code == 1 and "Wrong code" in wrong.output
    assert right.exit_code == 0, right.output
    assert json.loads(right.stdout)["amr"] == ["sms", "otp"]


def test_cli_otp_send_without_a_key_says_how_to_get_one(segell_server: RunningServer, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["otp", "send", new_phone()], env={"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": None}
    )

    assert result.exit_code == 1
    assert "SEGELL_API_KEY" in result.output


def test_sdk_sets_the_sms_language_and_text_and_asks_for_a_language(
    segell_server: RunningServer, administration: tuple[str, str]
) -> None:
    code, key = administration
    own = "{code}: tu código para la sede electrónica de {administration}."
    english, spanish = new_phone(), new_phone()
    with Client(segell_server.url, key) as segell:
        updated = segell.administrations.update(code, language="en", sms_templates={"es": own})
        segell.auth.request_otp(english)
        segell.auth.request_otp(spanish, lang="es")
        sent = {phone: segell.auth.otp_outbox(phone=phone, limit=1)[0].message for phone in (english, spanish)}
        with pytest.raises(ValidationError) as no_code:
            segell.administrations.update(code, sms_templates={"ca": "El teu codi"})
        reset = segell.administrations.update(code, sms_templates={"es": None})

    assert (updated.language, dict(updated.sms_templates)) == ("en", {"ca": None, "es": own, "en": None})
    assert sent[english].endswith(f" is your Ajuntament {code} code. It expires in 5 minutes. Never share it: "
                                  "nobody from the administration will ask for it.")  # fmt: skip
    assert sent[spanish] == f"{last_code_in(sent[spanish])}: tu código para la sede electrónica de Ajuntament {code}."
    assert "{code}" in no_code.value.message
    assert reset.sms_templates["es"] is None and reset.language == "en"


def last_code_in(message: str) -> str:
    match = CODE_IN_MESSAGE.search(message)
    assert match is not None
    return match.group(1)


def test_cli_admin_set_changes_the_sms_language_and_text_and_otp_send_asks_for_one(
    segell_server: RunningServer, administration: tuple[str, str], runner: CliRunner
) -> None:
    code, key = administration
    phone = new_phone()
    env = {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": key}

    changed = runner.invoke(
        app,
        ["admin", "set", code, "--language", "es", "--sms-template", "en=Code {code} from {administration}"],
        env=env,
    )
    sent = runner.invoke(app, ["otp", "send", phone, "--lang", "en"], env=env)
    outbox = runner.invoke(app, ["otp", "outbox", "--phone", phone, "--json"], env=env)
    refused = runner.invoke(app, ["admin", "set", code, "--sms-template", "en=Code {codi}"], env=env)
    unknown_language = runner.invoke(app, ["admin", "set", code, "--sms-template", "fr=Code {code}"], env=env)
    reset = runner.invoke(app, ["admin", "set", code, "--default-sms", "en", "--json"], env=env)
    nothing = runner.invoke(app, ["admin", "set", code], env=env)

    assert changed.exit_code == 0, changed.output
    assert re.search(r"language\s+es\b", changed.output)
    assert re.search(r"SMS text en\s+Code \{code\} from \{administration\}", changed.output)
    assert sent.exit_code == 0, sent.output
    message = json.loads(outbox.stdout)[0]["message"]
    assert message == f"Code {last_code_in(message)} from Ajuntament {code}"
    assert refused.exit_code == 1 and "'{codi}' at position 5 is not a placeholder" in refused.output
    assert unknown_language.exit_code == 2 and "LANG=TEXT" in unknown_language.output
    assert reset.exit_code == 0, reset.output
    assert json.loads(reset.stdout)["sms_templates"] == {"ca": None, "es": None, "en": None}
    assert nothing.exit_code == 1 and "Nothing to change" in nothing.output


def test_cli_admin_add_admits_with_a_language(segell_server: RunningServer, runner: CliRunner) -> None:
    code = f"CL{secrets.token_hex(4).upper()}"
    env = {"SEGELL_URL": segell_server.url, "SEGELL_HOME": str(segell_server.home), "SEGELL_API_KEY": None}

    admitted = runner.invoke(
        app, ["admin", "add", "Ayuntamiento de Prueba", "--code", code, "--language", "es"], env=env
    )
    shown = runner.invoke(app, ["admin", "show", code], env=env)

    assert admitted.exit_code == 0, admitted.output
    assert shown.exit_code == 0, shown.output
    assert re.search(r"language\s+es\b", shown.output)
    assert re.search(r"SMS text es\s+Segell's default", shown.output)
