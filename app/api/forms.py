from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from app.api.models import ApiScope, LineStrategy, WebhookEvent


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)],
                       description=_l("Where the key is used, e.g. \"Website form\"."))
    scope = SelectField(_l("Scope"), choices=[SelectChoice(ApiScope.WRITE.value, _l("Read and write")),
                                              SelectChoice(ApiScope.READ.value, _l("Read only"))],
                        default=ApiScope.WRITE.value)


class LineForm(FlaskForm):
    extension = StringField(_l("Line (extension)"), validators=[InputRequired(), Length(max=32),
                                                                Regexp(r"^[A-Za-z0-9_.@+-]+$")])
    priority = IntegerField(_l("Priority"), default=0, validators=[Optional(), NumberRange(min=0, max=100)])


class PriorityForm(FlaskForm):
    priority = IntegerField(_l("Priority"), validators=[InputRequired(), NumberRange(min=0, max=100)])


class SettingsForm(FlaskForm):
    strategy = SelectField(_l("Allocation strategy"), choices=[
        SelectChoice(LineStrategy.ROUND_ROBIN.value, _l("Round robin (least recently used first)")),
        SelectChoice(LineStrategy.RANDOM.value, _l("Random")),
        SelectChoice(LineStrategy.LEAST_USED.value, _l("Least used")),
        SelectChoice(LineStrategy.PRIORITY.value, _l("Priority")),
    ])
    rate_limit_per_hour = IntegerField(_l("Calls per hour"), validators=[InputRequired(),
                                                                           NumberRange(min=1, max=1_000_000)])
    cors_origins = TextAreaField(_l("Allowed domains (CORS)"), validators=[Optional(), Length(max=4000)],
                                 description=_l("Comma-separated, e.g. example.com, app.example.com. "
                                                "Empty allows every domain."))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(FlaskForm):
    url = URLField(_l("URL"), validators=[InputRequired(), URL(require_tld=False), Length(max=2000)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    events = MultiCheckboxField(_l("Events"), choices=[SelectChoice(e.value, e.value) for e in WebhookEvent],
                                validators=[InputRequired()])
