"""What happened to leads, announced so higher packages can react without being imported here."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent after a captured lead is committed, with the list as sender and
# lead_id=, created= (False for a known person) and suppressed= (on the
# do-not-contact list). Rotation will listen here to hand new leads out.
lead_captured = _signals.signal("lead-captured")

# Sent after an import run has published its leads (status succeeded), with the
# ImportRun as sender. Rotation listens to hand the new, unowned leads out.
import_finished = _signals.signal("import-finished")

# Sent after a lead is marked qualified (a disposition or a rep's Promote button)
# and committed, with the Lead as sender and user_id= of who qualified it. The
# hand-off to the pipeline listens.
lead_qualified = _signals.signal("lead-qualified")

# Sent after a dial disposition is committed, with the Lead as sender and
# user_id=, outcome= (its key), category= and cadence_event= (None when the
# outcome names none). Cadences listen for their events; metrics read calls.
call_logged = _signals.signal("call-logged")

# Sent after leads changed owner and that was committed: a rotation batch (new leads
# handed out, or moved on past their SLA), a bulk reassignment or hand-over, or an owner
# changed on the lead form; with the workspace id as sender and owners= {lead_id: new
# owner id, or None when put back in the rotation}. Cadences listen so a running
# cadence's work goes to the lead's new owner, and to enrol by assignment rules.
leads_assigned = _signals.signal("leads-assigned")

# Sent inside an erasure's transaction, before the leads are deleted, with the
# workspace id as sender and lead_ids=, erasure_id= and needles= (the person's
# lower-cased emails, phones and names, to find copies in free text). Receivers
# remove their part of the person without committing and return {what: count}
# for the audit; an exception undoes the whole erasure.
lead_erased = _signals.signal("lead-erased")

# Sent after an erasure is committed, with the workspace id as sender and
# erasure_id=. Hand-off queues the deletes it owes external CRMs.
erasure_committed = _signals.signal("erasure-committed")
