"""WSGI entry point: ``gunicorn -w 2 -b 127.0.0.1:5000 wsgi:app``.

Each process that imports this module holds ``instance/serving.lock`` shared for its life, so
``flask restore`` refuses to run while any of them serves (see :mod:`workbench.serving`).
"""

from workbench import create_app, serving

app = create_app()
serving.hold(app)
