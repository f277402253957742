"""Pure calendar logic: timeline expansion and iCalendar building. No clock, network or database."""
