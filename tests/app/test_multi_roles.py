"""A user may hold several roles; every one of them counts on every request."""

from app.models import Role


def test_a_user_with_several_roles_keeps_them_all(client, make_user, login):
    login(make_user(Role.CALLER, Role.MARKETER, Role.MANAGER))
    assert client.get("/admin/teams").status_code == 200  # manager
    assert client.get("/lists/new").status_code == 200  # marketer
    assert client.get("/admin/users").status_code == 403  # not an admin
