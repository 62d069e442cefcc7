"""The status page: every SLO worst first, and a page per SLO, read from the specs and the
recorded series in Prometheus."""
