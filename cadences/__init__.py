"""Multi-step outreach cadences: steps, enrolments, the step runner, mail."""
