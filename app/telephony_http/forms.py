from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired

MAX_DECK_BYTES = 5 * 1024 * 1024


class RateDeckForm(FlaskForm):
    deck = FileField(_l("Rate deck (CSV)"), validators=[FileRequired(), FileAllowed(["csv", "txt"])])
