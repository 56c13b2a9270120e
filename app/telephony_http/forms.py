from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from app.api.forms import MultiCheckboxField
from telephony.routing.models import CODECS, TRANSPORTS

MAX_DECK_BYTES = 5 * 1024 * 1024


class RateDeckForm(FlaskForm):
    deck = FileField(_l("Rate deck (CSV)"), validators=[FileRequired(), FileAllowed(["csv", "txt"])])


# -- carriers, trunks, media nodes (the rules are checked by telephony.routing.admin) --------


class CarrierForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=80)])
    enabled = BooleanField(_l("Enabled"), default=True,
                           description=_l("A disabled carrier takes no call; its trunks leave Kamailio's tables."))


class TrunkForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=80)])
    host = StringField(_l("Host"), validators=[InputRequired(), Length(max=64)],
                       description=_l("IP address or host name of the carrier's SIP server."))
    port = IntegerField(_l("Port"), default=5060, validators=[InputRequired()])
    transport = SelectField(_l("Transport"), choices=[SelectChoice(t, t.upper()) for t in TRANSPORTS], default="udp")
    codecs = MultiCheckboxField(_l("Codecs"), choices=[SelectChoice(c, c) for c in CODECS], default=["PCMA", "PCMU"])
    channel_limit = IntegerField(_l("Channel limit"), validators=[Optional()],
                                 description=_l("Simultaneous calls on this trunk; empty for unlimited."))
    full_cli = BooleanField(_l("FullCLI"), description=_l("The carrier accepts any presented number."))
    enabled = BooleanField(_l("Enabled"), default=True)
    weight = IntegerField(_l("Weight"), default=1, validators=[InputRequired()],
                          description=_l("Load share between this carrier's trunks (1-254)."))
    strip_digits = IntegerField(_l("Digits stripped"), default=0, validators=[InputRequired()])
    tech_prefix = StringField(_l("Technical prefix"), validators=[Optional(), Length(max=16)])
    username = StringField(_l("Digest user name"), validators=[Optional(), Length(max=64)])
    password = PasswordField(_l("Digest password"), validators=[Optional(), Length(max=128)],
                             description=_l("Never shown again; leave empty to keep the current one."))
    clear_credentials = BooleanField(_l("Remove the credentials"))


class MediaNodeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=64)])
    host = StringField(_l("Host"), validators=[InputRequired(), Length(max=64)],
                       description=_l("Address of the FreeSWITCH node's SIP profile, as Kamailio reaches it."))
    sip_port = IntegerField(_l("SIP port"), default=5080, validators=[InputRequired()])
    transport = SelectField(_l("Transport"), choices=[SelectChoice(t, t.upper()) for t in TRANSPORTS], default="udp")
    weight = IntegerField(_l("Weight"), default=1, validators=[InputRequired()],
                          description=_l("Share of the calls dispatched to this node (1-100)."))
    enabled = BooleanField(_l("Enabled"), default=True)
