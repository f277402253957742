"""Everything from an outbox row to an inbox: queueing, notices, rendering, MIME, dispatch, senders."""
