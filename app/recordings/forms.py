from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange


class RetentionForm(FlaskForm):
    retention_days = IntegerField(_l("Keep recordings (days)"), validators=[InputRequired(), NumberRange(1, 3650)])
