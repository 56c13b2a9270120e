from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, EqualTo, InputRequired, Length, NumberRange, Optional, ValidationError

from app.auth.services import MIN_PASSWORD_LENGTH


def strong_password(form, field):
    value = field.data or ""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationError(_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if value.isdigit() or value.isalpha():
        raise ValidationError(_l("Mix letters with digits or symbols."))


class LoginForm(FlaskForm):
    # no format check here: a login is looked up, never created, from this form
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=200)])


class TotpForm(FlaskForm):
    code = StringField(_l("6-digit code"), validators=[InputRequired(), Length(min=6, max=8)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(), strong_password])
    confirm = PasswordField(_l("Confirm password"),
                            validators=[InputRequired(), EqualTo("password", _l("Passwords do not match."))])


COUNTRIES = [SelectChoice(code, name) for code, name in (
    ("FR", "France"), ("BE", "Belgique"), ("MA", "Maroc"), ("CH", "Suisse"), ("GP", "Guadeloupe"),
    ("MQ", "Martinique"), ("GF", "Guyane"), ("RE", "La Réunion"), ("YT", "Mayotte"))]
TIMEZONES = {"FR": "Europe/Paris", "BE": "Europe/Brussels", "MA": "Africa/Casablanca", "CH": "Europe/Zurich",
             "GP": "America/Guadeloupe", "MQ": "America/Martinique", "GF": "America/Cayenne",
             "RE": "Indian/Reunion", "YT": "Indian/Mayotte"}


class SignupForm(FlaskForm):
    company = StringField(_l("Company name"), validators=[InputRequired(), Length(min=2, max=120)])
    country = SelectField(_l("Country"), choices=COUNTRIES, default="FR")
    admin_name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=120)])
    email = EmailField(_l("Work email"), validators=[InputRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), strong_password])
    accept = BooleanField(_l("I accept the terms of service and the data processing agreement"),
                          validators=[InputRequired()])


ROLE_CHOICES = [SelectChoice("agent", _l("Agent")), SelectChoice("supervisor", _l("Supervisor")),
                SelectChoice("manager", _l("Manager")), SelectChoice("admin", _l("Administrator"))]


class UserForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[InputRequired(), Email(), Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    level = IntegerField(_l("Level"), validators=[InputRequired(), NumberRange(min=1, max=9)],
                         description=_l("1-6 agents, 7 supervisors, 8 managers, 9 administrators"))
    group_id = SelectField(_l("Group"), coerce=int, validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), strong_password],
                             description=_l("Leave empty to keep the current password."))

    def validate_level(self, field):
        minimum = {"agent": 1, "supervisor": 7, "manager": 8, "admin": 9}[self.role.data]
        maximum = {"agent": 6, "supervisor": 7, "manager": 8, "admin": 9}[self.role.data]
        if not minimum <= (field.data or 0) <= maximum:
            raise ValidationError(_l("Level %(a)d to %(b)d for this role.", a=minimum, b=maximum))


class GroupForm(FlaskForm):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(min=2, max=40)])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
