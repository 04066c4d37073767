"""Keys: sealed at rest under a master key, master key files kept private, development keys kept local."""

import base64
import json
import stat
import threading
from pathlib import Path

import pytest
from eth_account import Account

from segell.chain.keys import (
    DEVELOPMENT_KEYS,
    DevelopmentKeyRefused,
    KeySealError,
    MasterKeyError,
    generate_account,
    is_development_key,
    load_or_create_master_key,
    load_sealed_account,
    open_private_key,
    refuse_development_key,
    save_sealed_account,
    seal_private_key,
)

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))


def test_sealed_key_opens_with_the_same_master_key_and_label() -> None:
    account = generate_account()
    sealed = seal_private_key(account.key, MASTER, label=account.address)
    assert account.key.hex() not in sealed
    assert open_private_key(sealed, MASTER, label=account.address) == account.key
    assert seal_private_key(account.key, MASTER, label=account.address) != sealed  # a fresh nonce each time


def test_sealed_key_under_another_master_key_names_the_problem() -> None:
    account = generate_account()
    sealed = seal_private_key(account.key, MASTER, label="a")
    with pytest.raises(KeySealError, match="sealed under master key [0-9a-f]{16}, but the master key in use"):
        open_private_key(sealed, OTHER_MASTER, label="a")


def test_sealed_key_does_not_open_under_another_label_or_when_altered() -> None:
    sealed = seal_private_key(generate_account().key, MASTER, label="city")
    with pytest.raises(KeySealError, match="sealed for another label, or was altered"):
        open_private_key(sealed, MASTER, label="town")
    envelope = json.loads(sealed)
    ciphertext = bytearray(base64.b64decode(envelope["ct"]))
    ciphertext[0] ^= 1
    altered = json.dumps({**envelope, "ct": base64.b64encode(bytes(ciphertext)).decode()})
    with pytest.raises(KeySealError, match="or was altered"):
        open_private_key(altered, MASTER, label="city")
    with pytest.raises(KeySealError, match="not a sealed key"):
        open_private_key("not json", MASTER, label="city")


@pytest.mark.parametrize(
    "written",
    [
        MASTER.hex(),
        "0x" + MASTER.hex(),
        base64.b64encode(MASTER).decode(),
        base64.urlsafe_b64encode(MASTER).decode(),
    ],
)
def test_master_key_from_the_environment_in_hex_or_base64(tmp_path: Path, written: str) -> None:
    assert load_or_create_master_key(tmp_path / "master.key", written) == MASTER
    assert not (tmp_path / "master.key").exists()


def test_master_key_from_the_environment_must_be_32_bytes(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="must be 32 bytes"):
        load_or_create_master_key(tmp_path / "master.key", "abcd")


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "home" / "master.key"
    key = load_or_create_master_key(path, None)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(path, None) == key
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temporary file left


def test_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(path, None)
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match=f"chmod 600 {path}"):
        load_or_create_master_key(path, None)


def test_processes_creating_the_master_key_together_get_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_create_master_key(path, None))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_sealed_account_file_round_trip_is_private(tmp_path: Path) -> None:
    account = generate_account()
    path = tmp_path / "keys" / "governance.json"
    save_sealed_account(path, account, MASTER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert account.key.hex() not in path.read_text()
    assert load_sealed_account(path, MASTER).key == account.key
    with pytest.raises(KeySealError, match=str(path)):
        load_sealed_account(path, OTHER_MASTER)


def test_generated_accounts_are_distinct_and_not_development_keys() -> None:
    accounts = [generate_account() for _ in range(5)]
    assert len({a.address for a in accounts}) == 5
    assert not any(is_development_key(a) for a in accounts)


def test_development_keys_are_the_anvil_mnemonic_accounts() -> None:
    assert len(DEVELOPMENT_KEYS) == 10
    assert Account.from_key(DEVELOPMENT_KEYS[0]).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert DEVELOPMENT_KEYS[0].hex() == "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    for index, key in enumerate(DEVELOPMENT_KEYS):
        assert Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}").key == key


@pytest.mark.parametrize(
    "offered",
    [
        DEVELOPMENT_KEYS[3],
        "0x" + DEVELOPMENT_KEYS[3].hex(),
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906".lower(),
    ],
)
def test_development_key_is_refused_on_a_shared_chain(offered: bytes | str) -> None:
    with pytest.raises(DevelopmentKeyRefused, match="anvil default account #3: its private key is public"):
        refuse_development_key(offered, is_local_dev=False)


def test_development_and_tester_keys_are_allowed_on_a_local_chain() -> None:
    refuse_development_key(DEVELOPMENT_KEYS[0], is_local_dev=True)
    refuse_development_key((1).to_bytes(32, "big"), is_local_dev=True)
    with pytest.raises(DevelopmentKeyRefused, match="eth-tester default account #0"):
        refuse_development_key((1).to_bytes(32, "big"), is_local_dev=False)


def test_a_generated_key_is_allowed_on_a_shared_chain() -> None:
    account = generate_account()
    refuse_development_key(account.key, is_local_dev=False)
    refuse_development_key(account, is_local_dev=False)
    assert is_development_key(account) is False
