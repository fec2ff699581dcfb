"""The ceiling for ``bench/survey_load.py``: the least a Flask app can do for a respondent.

GET /s/<token> returns a tiny form (a hidden field and two radio buttons); POST /s/<token>
checks that ``q1`` was sent and answers 303 to /s/<token>/thanks. No session, no database, no
templates. Served by the same gunicorn settings as the workbench and driven by the same client
code, it is the most throughput this machine can give one respondent's GET + POST.

    gunicorn --chdir bench _ceiling_app:app
"""

from __future__ import annotations

from flask import Flask, abort, redirect, request

app = Flask(__name__)

FORM = (
    '<!doctype html><form method="post">'
    '<input type="hidden" name="csrf_token" value="ceiling">'
    '<input type="radio" name="q1" value="满意"><input type="radio" name="q1" value="一般">'
    '<input type="text" name="q2"></form>'
)


@app.get("/s/<token>")
def form(token: str) -> str:
    return FORM


@app.post("/s/<token>")
def submit(token: str):  # type: ignore[no-untyped-def]
    if not request.form.get("q1"):
        abort(422)
    return redirect(f"/s/{token}/thanks", 303)


@app.get("/login")
def login() -> str:  # the probe bench scripts use to see that a server is up
    return "up"
