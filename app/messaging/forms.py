"""Message form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length


class MessageForm(FlaskForm):
    recipient_id = SelectField(_l("To"), coerce=int, default=0)
    body = TextAreaField(_l("Message"), validators=[InputRequired(), Length(max=2000)], render_kw={"rows": 2})

    def __init__(self, *args, recipients=(), allow_broadcast: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [SelectChoice(0, _l("Everyone"))] if allow_broadcast else []
        self.recipient_id.choices = choices + [SelectChoice(u.id, u.display_name) for u in recipients]
