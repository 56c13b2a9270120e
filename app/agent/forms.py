"""Agent workspace forms (validated on the server)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp

from app.agent.services import PHONE_SIP, PHONE_WEBRTC


def phone_choices() -> list[SelectChoice]:
    return [SelectChoice(PHONE_WEBRTC, _l("Softphone in this browser (WebRTC)")),
            SelectChoice(PHONE_SIP, _l("My own SIP phone (desk phone or softphone)"))]


class AgentLoginForm(FlaskForm):
    campaign_id = SelectField(_l("Campaign"), coerce=int, validators=[InputRequired()])
    phone = SelectField(_l("Phone"), default=PHONE_WEBRTC, validators=[InputRequired()])

    def __init__(self, *args, campaigns=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.campaign_id.choices = [SelectChoice(c.id, c.name) for c in campaigns]
        self.phone.choices = phone_choices()


class LeadCardForm(FlaskForm):
    """The lead card's standard fields; custom fields travel as ``custom-<key>``."""

    call_id = HiddenField(validators=[InputRequired()])
    version = HiddenField(validators=[InputRequired()])
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=120)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=120)])
    company = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    address1 = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Regexp(r"^[0-9A-Za-z \-]{2,10}$"),
                                                              Length(max=10)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=120)])
    comments = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 3})


class CallbackScheduleForm(FlaskForm):
    call_id = HiddenField(validators=[InputRequired()])
    day = DateField(_l("Date"), validators=[InputRequired()])
    time = TimeField(_l("Time (lead's time zone)"), validators=[InputRequired()])
    owner = SelectField(_l("For"), default="me")
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner.choices = [SelectChoice("me", _l("Me")), SelectChoice("anyone", _l("Anyone"))]

