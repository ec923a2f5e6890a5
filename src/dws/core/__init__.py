"""Use cases: workspace open/init, snapshot, restore, status, history, results, maintenance."""
