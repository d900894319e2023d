"""The ground floor: settings, data-dir layout, atomic files and locks, crash points,
calendar and time zone, value coercion, lake schemas.  No Dagster, no HTTP; imports
nothing from the rest of liveclass."""
