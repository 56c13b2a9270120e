"""Production entry point: ``gunicorn -k gevent 'app.wsgi:create()'``."""

from app import create_app


def create():
    return create_app()
