"""The command line an operator or script drives: migrate, users, tokens, demo."""
from app.models import ApiToken, Lead, PushSubscription, Route, Territory, TerritoryRep, User
from conftest import Auth, make_user


def test_migrate_reports_an_up_to_date_database(runner):
    result = runner.invoke(args=["migrate"])
    assert result.exit_code == 0
    assert "up to date" in result.output


def test_create_user_reads_the_password_from_stdin(runner, client, depot):
    result = runner.invoke(args=["create-user", "--email", "New.Courier@Depot.test", "--name",
                                 "Nia", "--role", "courier", "--route", "R1"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    user = User.by_email("new.courier@depot.test")
    assert user.route_id == depot.r1.id and user.role == "courier"
    assert "a long enough password" not in user.password_hash
    assert Auth(client).login(user, "a long enough password").status_code == 302


def test_create_user_refuses_bad_input(runner, depot):
    def create(email, password, *extra):
        return runner.invoke(args=["create-user", "--email", email, "--name", "X",
                                   "--role", "rep", *extra], input=password + "\n")

    assert "at least 10 characters" in create("a@depot.test", "short").output
    assert "already exists" in create("ANN@depot.test", "long enough pass").output
    assert "No route" in create("b@depot.test", "long enough pass", "--route", "NOPE").output
    assert create("c@depot.test", "long enough pass", "--role", "admin").exit_code != 0
    assert User.select().where(User.email.in_(["a@depot.test", "b@depot.test"])).count() == 0


def test_token_is_printed_once_and_works_until_revoked(runner, client, depot):
    result = runner.invoke(args=["token", depot.rep.email])
    assert result.exit_code == 0
    token = result.stdout.strip()
    headers = {"Authorization": "Bearer " + token}
    assert client.get("/api/v1/leads", headers=headers).status_code == 200
    row = ApiToken.get(ApiToken.user == depot.rep)
    assert runner.invoke(args=["revoke-token", str(row.id)]).exit_code == 0
    assert client.get("/api/v1/leads", headers=headers).status_code == 401


def test_token_for_unknown_user_is_refused(runner, depot):
    result = runner.invoke(args=["token", "nobody@depot.test"])
    assert result.exit_code != 0 and "No active user" in result.output
    assert ApiToken.select().count() == 0


def test_demo_creates_a_whole_depot_and_prints_the_logins(runner, app):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "manager@demo.touchpoint" in result.output
    assert Territory.select().count() == 2
    assert Route.select().count() == 4
    roles = [u.role for u in User.select()]
    assert (roles.count("courier"), roles.count("rep"), roles.count("manager")) == (3, 3, 1)
    assert TerritoryRep.select().where(TerritoryRep.membership == "backup").exists()
    assert 45 <= Lead.select().count() <= 60
    statuses = {lead.status for lead in Lead.select()}
    assert {"new", "acknowledged", "won", "lost", "declined"} <= statuses
    assert Lead.select().where(Lead.territory.is_null()).exists()
    # Its history reads like a real one: ids follow time (the feed pages by id),
    # every lead past "new" was picked up before it moved on, and closed leads say when.
    leads = list(Lead.select().order_by(Lead.id))
    assert [lead.created_at for lead in leads] == sorted(lead.created_at for lead in leads)
    for lead in leads:
        assert (lead.acknowledged_at is None) == (lead.status == "new")
        assert lead.acknowledged_at is None or lead.created_at < lead.acknowledged_at
        assert (lead.closed_at is not None) == (lead.status in ("won", "lost", "declined"))
        assert (lead.weekly_value is not None) == (lead.status == "won")


def test_demo_refuses_a_database_that_has_users(runner, app):
    make_user("manager")
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "already has users" in result.output
    assert Territory.select().count() == 0


def test_set_password_and_deactivate_end_sessions(runner, client, depot):
    auth = Auth(client)
    auth.login(depot.courier)
    result = runner.invoke(args=["set-password", "ann@depot.test"], input="brand new password\n")
    assert result.exit_code == 0, result.output
    assert client.get("/my-leads").status_code == 302
    assert auth.login(depot.courier, "brand new password").status_code == 302
    assert runner.invoke(args=["set-password", "ann@depot.test"], input="short\n").exit_code != 0
    PushSubscription.create(user=depot.courier, endpoint="https://fcm.googleapis.com/fcm/send/ann",
                            p256dh="p", auth="a")
    result = runner.invoke(args=["deactivate", "ann@depot.test"])
    assert result.exit_code == 0 and "1 device(s) removed" in result.output
    assert PushSubscription.select().where(PushSubscription.user == depot.courier).count() == 0
    assert client.get("/my-leads").status_code == 302
    assert auth.login(depot.courier, "brand new password").status_code == 401
    assert "No user" in runner.invoke(args=["deactivate", "x@depot.test"]).output
