"""The HTTP edge: subscription feeds served by secret URL."""
