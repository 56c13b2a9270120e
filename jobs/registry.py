import importlib

# Every feature module that declares actors; kept explicit so a worker loads the same
# set whatever was imported before.
ACTOR_MODULES = [
    "app.core.tasks",
    "app.leads.tasks",
    "app.api.tasks",
    "app.reports.tasks",
    "app.supervision.tasks",
    "app.recordings.tasks",
    "app.telephony_http.tasks",
]


def import_all_actors() -> None:
    for name in ACTOR_MODULES:
        importlib.import_module(name)
