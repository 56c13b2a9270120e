from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from app.auth.forms import COUNTRIES

TIMEZONE_CHOICES = [
    "Europe/Paris", "Europe/Brussels", "Europe/Zurich", "Europe/Luxembourg", "Africa/Casablanca",
    "America/Guadeloupe", "America/Martinique", "America/Cayenne", "Indian/Reunion", "Indian/Mayotte",
    "America/Miquelon", "Pacific/Noumea", "Pacific/Tahiti", "Europe/London",
]


class TenantSettingsForm(FlaskForm):
    name = StringField(_l("Company name"), validators=[InputRequired(), Length(min=2, max=120)])
    country = SelectField(_l("Country"), choices=COUNTRIES)
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(z) for z in TIMEZONE_CHOICES])
    currency = SelectField(_l("Currency"), choices=[SelectChoice("EUR"), SelectChoice("MAD"), SelectChoice("CHF")])
    require_2fa = BooleanField(_l("Require two-factor authentication for every user"))
    brand_color = StringField(_l("Brand colour"), validators=[Optional(), Regexp(r"^#[0-9a-fA-F]{6}$",
                              message=_l("A colour like #2453a6."))])

    def validate_timezone(self, field):
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(field.data)
        except (KeyError, ValueError) as error:
            raise ValidationError(_l("Unknown time zone.")) from error
