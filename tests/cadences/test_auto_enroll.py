"""Auto-enrolment: leads an import adds to a list join the list's cadence when it finishes."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from cadences.models import Enrollment
from leads.models import LeadList
from leads.signals import import_finished
from tests.leads.test_imports import ROWS, make_run


def test_an_import_into_a_list_enrols_its_new_leads(app, workspace, make_cadence, rep):
    from leads.imports import run_import

    lead_list = LeadList(workspace_id=workspace.id, name="Webinar")
    db.session.add(lead_list)
    db.session.commit()
    cadence = make_cadence(("task", {}))
    cadence.auto_enroll_list_id, cadence.created_by_id = lead_list.id, rep.id
    db.session.commit()
    seen = []
    with import_finished.connected_to(lambda run, **_: seen.append(run.id)):
        run = run_import(make_run(workspace, ROWS, list_id=lead_list.id).id)
    assert seen == [run.id]
    enrolled = db.session.scalars(sa.select(Enrollment.lead_id)).all()
    assert len(enrolled) == run.created > 0
