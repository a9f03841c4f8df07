"""The ``giamdinh`` command: its sub-commands, assembled (each lives in its module)."""

from __future__ import annotations

import typer

from claims.cli import run
from claims.cli.advance import advance_app
from claims.cli.anomalies import app as anomalies_app
from claims.cli.bench import app as bench_app
from claims.cli.catalogs import app as catalogs_app
from claims.cli.claims import app as claims_app
from claims.cli.common import Boundary
from claims.cli.review import app as review_app
from claims.cli.rules import app as rules_app
from claims.cli.sampling import extrapolate as extrapolate_command
from claims.cli.sampling import sample as sample_command
from claims.cli.serve import serve as serve_command
from claims.cli.settle import app as settle_app
from claims.cli.settle import audit as audit_command
from claims.cli.users import app as users_app
from claims.cli.users import events as events_command

app = typer.Typer(
    name="giamdinh",
    help="Assess Vietnamese social health insurance (BHYT) claims in the QĐ 130/4750 format.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Boundary,
)
app.add_typer(catalogs_app, name="catalogs")
app.add_typer(rules_app, name="rules")
app.add_typer(claims_app, name="claims")
settle_app.add_typer(advance_app, name="advance")
app.add_typer(settle_app, name="settle")
app.add_typer(bench_app, name="bench")
review_app.command("sample")(sample_command)
review_app.command("extrapolate")(extrapolate_command)
app.add_typer(review_app, name="review")
app.add_typer(anomalies_app, name="anomalies")
app.command("audit")(audit_command)
app.add_typer(users_app, name="users")
app.command("events")(events_command)
app.command()(run.generate)
app.command()(run.ingest)
app.command()(run.run)
app.command()(run.demo)
app.command()(run.check)
app.command("serve")(serve_command)


def main() -> None:
    """Console entry point (errors are told by ``Boundary``)."""
    app()
