from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange


class RetentionForm(FlaskForm):
    retention_days = IntegerField(_l("Keep recordings (days)"), validators=[InputRequired(), NumberRange(1, 3650)])
    max_part_minutes = IntegerField(
        _l("Split recordings longer than (minutes)"),
        description=_l("Each part becomes its own file; 0 never splits on length (transfers still do)."),
        validators=[InputRequired(), NumberRange(0, 600)])
