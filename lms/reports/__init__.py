"""Progress toward the training target: unit figures as SQL aggregates, weekly snapshots,
forecasts, dashboards, exports and the JSON API's figures."""
