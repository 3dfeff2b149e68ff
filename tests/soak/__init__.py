"""The soak suite (`make soak`, `python -m tests.soak`): the project's own model-based oracle.

A whole stack on fresh PostgreSQL databases and a Redis the soak owns (gunicorn with two
workers, two Celery workers, beat, `run_projector`, a separate read database) takes a
random mix of every command from N client threads while a fault injector kills and
restarts its processes on a schedule. The clients keep an independent model of what
every view must show; at the end the views and the event log are compared with it.

Nothing here is a pytest test (no module is named test_*.py), and importing the package
starts nothing. The modules:

- `stack`: the databases, Redis and processes, and the primitives the faults use;
- `model`: the oracle's model (orders, products, sales), which imports no project code;
- `clients`: the client threads, the command mix and the retry-until-answered protocol;
- `faults`: the fault schedule;
- `oracle`: the final comparison of the log and the views with the model;
- `__main__`: configuration from the environment, the run, the report and the exit code.
"""
