"""The planning timeline: milestones relative to the event date, each city's checklist, and the
scheduled reminders for what is due. No Flask here (the scheduler wiring takes the app)."""
