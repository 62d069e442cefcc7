"""Decisions from the error budget: the review log (``reviewlog``), the weekly report from it
or from Prometheus (``report``: a module per source and one for rendering), the status engine
both judge with (``policy``), the deploy gate (``gate``), the autonomy earned by days inside
the budget (``autonomy``), history for backfilling (``backfill``) and the Prometheus client
they share (``promapi``). They read the spec model; they render no rule."""
