from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.reports.services import DIMENSIONS, MEASURES, PRESETS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CustomReportForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    dimensions = MultiCheckboxField(_l("Group by (up to 3)"), choices=[SelectChoice(k, v) for k, v in DIMENSIONS.items()],
                             validators=[InputRequired()])
    measures = MultiCheckboxField(_l("Measures"), choices=[SelectChoice(k, v) for k, v in MEASURES.items()],
                           validators=[InputRequired()])
    period = SelectField(_l("Default period"),
                         choices=[SelectChoice(k, v) for k, v in PRESETS.items() if k != "custom"], default="week")
    chart = SelectField(_l("Chart"), choices=[SelectChoice("bar", _l("Bars")), SelectChoice("line", _l("Line")),
                                              SelectChoice("none", _l("No chart"))], default="bar")
    on_dashboard = BooleanField(_l("Show on the interactive dashboard"), default=True)
