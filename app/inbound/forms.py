"""Forms of the inbound pages. Destination choices (``queue:5``, ``ivr:3``,
``agent:7``, ``external``, ``message``) are filled by the views from the tenant's rows."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.list import FieldList
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.inbound.services import DIGITS

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
            _l("Sunday"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def destination_field(label, required: bool = True) -> SelectField:
    return SelectField(label, choices=[], validate_choice=False,
                       validators=[InputRequired(message=_l("Choose a destination."))] if required else [Optional()])


class DidForm(FlaskForm):
    number = StringField(_l("Number (DID)"), validators=[InputRequired(), Length(max=30)],
                         description=_l("International or French format, for example +33 1 70 00 00 01."))
    label = StringField(_l("Label"), validators=[Optional(), Length(max=120)])
    active = BooleanField(_l("Active"), default=True)
    dest = destination_field(_l("Destination"))
    dest_value = StringField(_l("Number or audio file"), validators=[Optional(), Length(max=255)],
                             description=_l("For an external number or a message only."))
    time_zone = StringField(_l("Time zone"), default="Europe/Paris", validators=[InputRequired(), Length(max=64)])
    hours = FieldList(StringField(validators=[Optional(), Length(max=120)]), min_entries=7, max_entries=7)
    holiday_country = StringField(_l("Public holidays of"), default="FR", validators=[Optional(), Length(max=8)],
                                  description=_l("Country code (FR, BE, CH…): closed on its public holidays."))
    closed_dates = TextAreaField(_l("Other closed days"), validators=[Optional(), Length(max=4000)],
                                 description=_l("One date a line, as 2026-12-24."))
    closed = destination_field(_l("When closed"), required=False)
    closed_value = StringField(_l("Number or audio file when closed"), validators=[Optional(), Length(max=255)])


class OptionForm(Form):
    caption = StringField(_l("Label"), validators=[Optional(), Length(max=120)])
    dest = destination_field(_l("Destination"), required=False)
    value = StringField(_l("Number or audio file"), validators=[Optional(), Length(max=255)])


class IvrForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    greeting_audio = StringField(_l("Greeting (audio file)"), validators=[InputRequired(), Length(max=255)],
                                 description=_l("Played while the caller chooses, for example carillon/accueil.wav."))
    invalid_audio = StringField(_l("Wrong key message (audio file)"), validators=[Optional(), Length(max=255)])
    timeout_s = IntegerField(_l("Seconds to press a key"), default=5, validators=[InputRequired(), NumberRange(1, 60)])
    max_retries = IntegerField(_l("Tries"), default=3, validators=[InputRequired(), NumberRange(1, 9)],
                               description=_l("The greeting is played again after no key or a wrong key."))
    timeout = destination_field(_l("After the last try"), required=False)
    timeout_value = StringField(_l("Number or audio file"), validators=[Optional(), Length(max=255)])
    options = FieldList(FormField(OptionForm), min_entries=len(DIGITS), max_entries=len(DIGITS))


class QueueForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    active = BooleanField(_l("Active"), default=True)
    campaigns = MultiCheckboxField(_l("Campaigns whose agents take the calls"), coerce=int, choices=[],
                                   validate_choice=False)
    groups = MultiCheckboxField(_l("Only these groups (optional)"), coerce=int, choices=[], validate_choice=False)
    priority = IntegerField(_l("Priority"), default=5, validators=[InputRequired(), NumberRange(0, 9)],
                            description=_l("0 to 9: a free agent takes the highest-priority queue first."))
    max_wait_s = IntegerField(_l("Maximum wait (seconds)"), default=120, validators=[InputRequired(),
                                                                                    NumberRange(10, 3600)])
    overflow = destination_field(_l("Overflow after the maximum wait"), required=False)
    overflow_value = StringField(_l("Number or audio file"), validators=[Optional(), Length(max=255)])
    hold_music = StringField(_l("Hold music"), default="local_stream://moh", validators=[InputRequired(),
                                                                                       Length(max=255)])
    announce_position = BooleanField(_l("Announce the caller's position"))
    service_level_s = IntegerField(_l("Service level threshold (seconds)"), default=20,
                                   validators=[InputRequired(), NumberRange(1, 600)],
                                   description=_l("Calls answered within this time count as within the service level."))
    recording = BooleanField(_l("Record the calls"))
    wrapup_s = IntegerField(_l("Wrap-up (seconds)"), default=30, validators=[InputRequired(), NumberRange(0, 600)])
    simulated_per_hour = IntegerField(_l("Simulated calls per hour"), default=0,
                                      validators=[InputRequired(), NumberRange(0, 3600)],
                                      description=_l("Demonstration backend only: callers arriving at random."))
