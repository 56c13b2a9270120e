"""Forms of the campaigns feature. Choices are filled by the views (they depend on the
tenant's rows); every label goes through the catalogue."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    IntegerRangeField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.list import FieldList
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.campaigns.models import DialMode, DialOrder, PauseMode, StatusCategory

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
            _l("Sunday"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def dial_mode_choices() -> list[SelectChoice]:
    descriptions = {
        DialMode.MANUEL: _l("the agent dials"),
        DialMode.PREVIEW: _l("the agent sees the lead, then dials"),
        DialMode.PROGRESSIF: _l("one line per free agent"),
        DialMode.TURBO: _l("fast dialling, answered call presented at once"),
        DialMode.AUTOMATIQUE1: _l("predictive, moderate"),
        DialMode.AUTOMATIQUE2: _l("predictive, balanced"),
        DialMode.AUTOMATIQUE3: _l("predictive, most aggressive"),
        DialMode.RECEPTION: _l("inbound calls only"),
    }
    return [SelectChoice(mode.value, f"{mode.label} — {descriptions[mode]}") for mode in DialMode]


DIAL_ORDER_LABELS = {
    DialOrder.LIST_ORDER: _l("List order"),
    DialOrder.RANDOM: _l("Random"),
    DialOrder.OLDEST_ATTEMPT: _l("Oldest attempt first"),
    DialOrder.NEWEST_LEAD: _l("Newest lead first"),
    DialOrder.POSTAL_CODE: _l("By postal code"),
}
PAUSE_MODE_LABELS = {
    PauseMode.DISABLED: _l("Disabled: no pause codes"),
    PauseMode.OPTIONAL: _l("Optional: agents may pick a code"),
    PauseMode.MANDATORY: _l("Mandatory: agents must pick a code"),
}
CATEGORY_LABELS = {
    StatusCategory.COMMERCIAL: _l("Commercial"),
    StatusCategory.ADMINISTRATIVE: _l("Administrative"),
    StatusCategory.TECHNICAL: _l("Technical"),
    StatusCategory.SYSTEM: _l("System"),
}
FLAG_LABELS = {
    "sale": _l("Sale"),
    "answering_machine": _l("Answering machine"),
    "callback": _l("Callback"),
    "not_interested": _l("Not interested"),
    "final": _l("Final"),
    "not_treatable": _l("Not treatable"),
}


class DayHoursForm(Form):
    """Up to two ranges per weekday; an empty day is closed."""

    start1 = TimeField(_l("From"), validators=[Optional()])
    end1 = TimeField(_l("to"), validators=[Optional()])
    start2 = TimeField(_l("then from"), validators=[Optional()])
    end2 = TimeField(_l("to"), validators=[Optional()])


class CampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[InputRequired(), Length(max=120)])
    dial_mode = SelectField(_l("Dial mode"), default=DialMode.PROGRESSIF.value)
    trunk_id = SelectField(_l("VoIP line (trunk)"), coerce=int, default=0)
    caller_id = StringField(_l("Presented number (caller ID)"), validators=[Optional(), Length(max=30)],
                            render_kw={"inputmode": "tel", "placeholder": "+33162000000"})
    local_presence = BooleanField(_l("Local presence"),
                                  description=_l("Present the campaign's number of the lead's region "
                                                 "(01 to 05) when it has one."))
    dids = TextAreaField(_l("Campaign numbers (DIDs)"), validators=[Optional()],
                         description=_l("One number per line; used for local presence."),
                         render_kw={"rows": 4})
    recording = BooleanField(_l("Record calls"))
    dial_order = SelectField(_l("Dial order"), choices=[SelectChoice(k.value, v) for k, v in DIAL_ORDER_LABELS.items()])
    attempt_limit = IntegerField(_l("Attempt limit (LimiteNum)"), validators=[Optional(), NumberRange(0, 99)],
                                 description=_l("Attempts per lead over 30 days. French law allows 4 at most "
                                                "for prospecting."))
    min_spacing_minutes = IntegerField(_l("Minimum time between two attempts (minutes)"),
                                       validators=[Optional(), NumberRange(0, 60 * 24 * 30)])
    refusal_delay_days = IntegerField(_l("Wait after a refusal (days)"),
                                      validators=[Optional(), NumberRange(0, 3650)])
    hours = FieldList(FormField(DayHoursForm), min_entries=7, max_entries=7)
    amd = BooleanField(_l("Answering-machine detection"))
    voicemail = FileField(_l("Voicemail drop audio"),
                          validators=[FileAllowed(["wav", "mp3"], _l("A WAV or MP3 file."))],
                          description=_l("Optional: played to answering machines when detection is on."))
    dial_speed = IntegerRangeField(_l("Dial speed"), validators=[NumberRange(0, 10)], default=3)
    abandon_target_pct = DecimalField(_l("Target abandon rate (%)"), places=1, default=3,
                                      validators=[InputRequired(), NumberRange(0.1, 3)],
                                      description=_l("3% is the legal ceiling; the predictive modes stay under it."))
    lists = MultiCheckboxField(_l("Active lists"), coerce=int)
    script_id = SelectField(_l("Script"), coerce=int, default=0)
    pause_mode = RadioField(_l("Pause codes"), default=PauseMode.OPTIONAL.value,
                            choices=[SelectChoice(k.value, v) for k, v in PAUSE_MODE_LABELS.items()])
    wrapup_s = IntegerField(_l("Wrap-up time (seconds)"), default=30, validators=[Optional(), NumberRange(5, 900)],
                            description=_l("The countdown agents see after each call."))
    wrapup_status = SelectField(_l("When the wrap-up time runs out"), default="",
                                description=_l("The next call always waits for the disposition; with a status, "
                                               "the dialer sets it when the time runs out."))
    agents = MultiCheckboxField(_l("Assigned agents"), coerce=int)
    groups = MultiCheckboxField(_l("Assigned groups"), coerce=int)
    prospecting = BooleanField(_l("Prospecting campaign"), default=True,
                               description=_l("Leads are dialled only with a recorded, provable consent "
                                              "(opt-in since 11 August 2026)."))
    existing_contract = BooleanField(_l("Calls about an existing contract"),
                                     description=_l("The leads are customers called about their contract: "
                                                    "exempt from opt-in, legal hours and limits still apply."))
    active = BooleanField(_l("Active"), description=_l("Needs at least one active list."))


class CloneForm(FlaskForm):
    name = StringField(_l("Name of the copy"), validators=[InputRequired(), Length(max=120)])


class StatusForm(FlaskForm):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(min=2, max=3)],
                       render_kw={"maxlength": 3, "autocapitalize": "characters"})
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=80)])
    category = SelectField(_l("Category"), default=StatusCategory.COMMERCIAL.value,
                           choices=[SelectChoice(k.value, v) for k, v in CATEGORY_LABELS.items()
                                    if k is not StatusCategory.SYSTEM])
    sale = BooleanField(FLAG_LABELS["sale"])
    answering_machine = BooleanField(FLAG_LABELS["answering_machine"])
    callback = BooleanField(FLAG_LABELS["callback"], description=_l("Schedules a callback automatically."))
    not_interested = BooleanField(FLAG_LABELS["not_interested"],
                                  description=_l("Starts the legal delay after a refusal."))
    final = BooleanField(FLAG_LABELS["final"], description=_l("The lead is not called again."))
    not_treatable = BooleanField(FLAG_LABELS["not_treatable"])

    def flags(self) -> list[str]:
        return [flag for flag in FLAG_LABELS if getattr(self, flag).data]


class PauseCodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(min=2, max=12)])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=80)])


class PauseModeForm(FlaskForm):
    pause_mode = RadioField(_l("Pause codes"), choices=[SelectChoice(k.value, v) for k, v in PAUSE_MODE_LABELS.items()])


class ScriptForm(FlaskForm):
    name = StringField(_l("Script name"), validators=[InputRequired(), Length(max=120)])
    content = TextAreaField(_l("Content (JSON)"), render_kw={"rows": 12, "spellcheck": "false"})


class CallbackForm(FlaskForm):
    lead = StringField(_l("Lead (ID or phone number)"), validators=[InputRequired(), Length(max=30)])
    campaign_id = SelectField(_l("Call it in campaign"), coerce=int,
                              description=_l("Another campaign makes it a cross-campaign follow-up."))
    day = DateField(_l("Date"), validators=[InputRequired()])
    time = TimeField(_l("Time (lead's time zone)"), validators=[InputRequired()])
    agent_id = SelectField(_l("For"), coerce=int, default=0)
    priority = IntegerField(_l("Priority"), default=0, validators=[Optional(), NumberRange(0, 9)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})


class TransferForm(FlaskForm):
    agent_id = SelectField(_l("Transfer to"), coerce=int)
    next = HiddenField()
