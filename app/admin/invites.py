"""The one-time invite link a manager gives a new user: it opens a page where
they choose their password and are then logged in.

The page is public, so it is rate-limited like the login page. A link works
once, until it expires or a newer one replaces it, and only for an active
account; every other link gets a page that says which of these it is.
"""
from flask import (Blueprint, current_app, flash, redirect, render_template, session)
from flask_login import login_user
from flask_wtf import FlaskForm

from ..auth import PasswordForm, home_for, set_password
from ..db import db
from ..models import Invite, User, utcnow
from ..security import limiter
from .base import no_store, record

bp = Blueprint("invites", __name__)


class InviteForm(FlaskForm):
    """A new user's first password, by the same rules as a changed one."""
    new = PasswordForm.new
    confirm = PasswordForm.confirm


def why_unusable(token):
    """(HTTP status, what to tell the visitor) for a link that cannot be used."""
    invite = Invite.get_or_none(Invite.token_hash == Invite.digest(token))
    if invite is None:
        return 404, ("This invite link is not valid. Check that you opened the whole link, "
                     "or ask your manager for a new one.")
    if invite.used_at is not None:
        return 410, ("This invite link has already been used. Log in with the password you "
                     "chose, or ask your manager for a new link.")
    if not invite.user.active:
        return 410, "This account is deactivated. Ask your manager if that is a mistake."
    return 410, ("This invite link has expired, or a newer one replaced it. Ask your manager "
                 "for a new one.")


def use(invite, password):
    """Spend the invite (once, however many tabs race) and set the password; the
    user, or None when it was spent meanwhile."""
    with db.atomic():
        claimed = (Invite.update(used_at=utcnow())
                   .where((Invite.id == invite.id) & Invite.used_at.is_null()
                          & (Invite.expires_at > utcnow()))
                   .execute())
        if not claimed:
            return None
        user = User.get_by_id(invite.user_id)
        set_password(user, password)
        record("invite.accept", user.email, actor=user)
    return user


def unusable_page(token):
    status, message = why_unusable(token)
    return no_store(render_template("auth/invite.html", form=None, message=message)), status


@bp.route("/invite/<token>", methods=("GET", "POST"))
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def accept(token):
    """Choose a password with a one-time link, and be logged in."""
    invite = Invite.usable(token)
    if invite is None or not invite.user.active:
        return unusable_page(token)
    form = InviteForm()
    if form.validate_on_submit():
        user = use(invite, form.new.data)
        if user is None:
            return unusable_page(token)
        session.clear()
        session.permanent = True
        login_user(user)
        flash("Welcome to Touchpoint, %s. Your password is set." % user.name)
        return redirect(home_for(user))
    page = render_template("auth/invite.html", form=form, user=invite.user)
    return no_store(page), 422 if form.errors else 200
