import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tideover.core.models import ApiToken
from tideover.core.roles import Role, user_roles
from tideover.core.services import authenticate_token


def test_createtoken_prints_a_secret_that_works_once_stored_hashed(db, chain, capsys):
    call_command(
        "createtoken", "store S001 agent", scope=["sales:write", "heartbeats:write"], store="S001"
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert token.store.code == "S001" and token.scopes == ["heartbeats:write", "sales:write"]
    assert secret not in token.hashed_secret
    assert authenticate_token(secret) == token


def test_createtoken_refuses_unknown_scopes_and_stores(db, chain):
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("createtoken", "x", scope=["everything"])
    with pytest.raises(CommandError, match="S999"):
        call_command("createtoken", "x", scope=["sales:write"], store="S999")
    assert not ApiToken.objects.exists()


def test_createstaff_gives_roles_and_store(db, chain):
    call_command(
        "createstaff", "pat", role=["store_manager"], store="S002", password="a-long-passphrase"
    )
    pat = get_user_model().objects.get(username="pat")
    assert user_roles(pat) == {Role.STORE_MANAGER}
    assert pat.staff_profile.store.code == "S002" and pat.check_password("a-long-passphrase")


def test_createstaff_refuses_unknown_role(db):
    with pytest.raises(CommandError, match="Unknown role"):
        call_command("createstaff", "pat", role=["wizard"])


def test_later_starts_say_where_the_first_password_is_not_what_it_is(db, settings, tmp_path):
    import io

    from tideover.core.management.commands.up import ensure_first_admin

    settings.DATA_DIR = tmp_path
    first, later = io.StringIO(), io.StringIO()
    ensure_first_admin(first)
    ensure_first_admin(later)
    password = (tmp_path / "first-login.txt").read_text().strip()
    assert password in first.getvalue()
    assert password not in later.getvalue() and "first-login.txt" in later.getvalue()
