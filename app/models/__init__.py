"""All of Touchpoint's data: people, where they work, the leads they pass on,
and the alerts those leads raise.

Named queries live on the models as classmethods and behaviour as methods, so
that the views stay thin. Everything is importable from `app.models`.
"""
from .base import (CATEGORIES, MAX_ID, ROLES, STATUSES, TEMPERATURES, BaseModel,
                   normalize_postcode, utcnow)
from .people import ApiToken, PostcodePrefix, Route, Territory, TerritoryRep, User
from .leads import DuplicateSubmission, Lead, LeadEvent, route_lead
from .alerts import Delivery, Heartbeat, Notification, PushServicePause, PushSubscription
from .depot import AuditEntry, Invite, Setting

MODELS = [Territory, PostcodePrefix, Route, User, TerritoryRep, ApiToken, Lead, LeadEvent,
          PushSubscription, Notification, Delivery, Setting, AuditEntry, Invite, Heartbeat,
          PushServicePause]
