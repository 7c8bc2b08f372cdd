"""Accounts: login and logout, who the current user is, and role guards.

A browser is authenticated by its session cookie; a script by a personal API
token in `Authorization: Bearer …`. A request carrying a Bearer header is
never authenticated by cookie, so the header alone decides who it is.
"""
import functools

from flask import (Blueprint, abort, current_app, flash, redirect, render_template,
                   request, session, url_for)
from flask_login import (LoginManager, current_user, login_required, login_user,
                         logout_user)
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from .models import ApiToken, PushSubscription, Territory, TerritoryRep, User
from .security import bearer_token, is_local_path, limiter

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

MIN_PASSWORD = 10
# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = None


def hash_password(password):
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def set_password(user, password):
    """Give user a new password, end every session they have and revoke their
    API tokens (a script holding one needs a new one); how many were revoked."""
    user.password_hash = hash_password(password)
    user.rotate_session_token()
    user.save()
    return ApiToken.revoke_all(user)


def deactivate(user):
    """Lock user out: no login, every session stops working now and every API
    token is revoked (reactivation does not bring them back), and their devices
    get no more alerts. Returns (devices removed, tokens revoked)."""
    user.active = False
    user.rotate_session_token()
    user.save()
    tokens = ApiToken.revoke_all(user)
    devices = PushSubscription.delete().where(PushSubscription.user == user).execute()
    return devices, tokens


def authenticate(email, password):
    """The active user with this email and password, or None (never saying which failed)."""
    global _DUMMY_HASH
    user = User.by_email(email)
    if user is None or not user.password_hash:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not a real password")
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def home_for(user):
    """Where each role lands after login."""
    if user.role == "courier":
        return url_for("capture.new_lead")
    if user.role == "manager":
        return url_for("feed.index")
    return url_for("views.leads")


def role_required(*roles):
    """Allow only logged-in users with one of roles; others get 403."""
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new = PasswordField("New password", validators=[
        DataRequired(), Length(min=MIN_PASSWORD, max=200,
                               message="Use %d to 200 characters." % MIN_PASSWORD)])
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new", message="The two new passwords differ.")])


def _login_key():
    return (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/login", methods=("GET", "POST"))
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=_login_key)
def login():
    """Log in by email and password."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user:
            session.clear()
            session.permanent = True
            login_user(user)
            return redirect(_safe_next() or home_for(user))
        error = "That email and password don't match an active account."
    return render_template("auth/login.html", form=form, error=error), 200 if not error else 401


def _safe_next():
    """The `next` page if it is a path on this site, else None."""
    target = request.args.get("next", "")
    return target if is_local_path(target) else None


@bp.route("/logout", methods=("POST",))
def logout():
    """Log out (a POST, so no other site can log a courier out)."""
    logout_user()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


ROLE_NAMES = {"courier": "Courier", "rep": "Sales rep", "manager": "Manager"}


@bp.route("/account")
@login_required
def account():
    """Who the user is, where they work, their settings, and logging out."""
    memberships = (TerritoryRep.select(TerritoryRep, Territory)
                   .join(Territory)
                   .where(TerritoryRep.rep == current_user.id)
                   .order_by(TerritoryRep.membership.desc(), Territory.name))
    return render_template("auth/account.html", role=ROLE_NAMES.get(current_user.role),
                           memberships=list(memberships) if current_user.role == "rep" else [])


@bp.route("/account/password", methods=("GET", "POST"))
@login_required
def change_password():
    """Change one's own password; every other session ends."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not check_password_hash(current_user.password_hash, form.current.data):
            form.current.errors.append("That is not your current password.")
        else:
            revoked = set_password(current_user, form.new.data)
            login_user(current_user._get_current_object())
            flash("Password changed. Your other devices have been logged out%s."
                  % (", and your API tokens no longer work" if revoked else ""))
            return redirect(url_for("auth.account"))
    return render_template("auth/password.html", form=form)


@login_manager.user_loader
def load_user(session_id):
    """The user of a session id `<id>:<session token>`, if still valid."""
    if bearer_token() is not None:
        return None
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = User.get_or_none(User.id == int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


@login_manager.request_loader
def load_user_from_token(request):
    token = bearer_token()
    return ApiToken.user_for(token) if token else None


def init_app(app):
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "basic"
