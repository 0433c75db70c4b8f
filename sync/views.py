"""Pages of the hand-off: promotion, the pipeline board, deals, the Sync page."""
