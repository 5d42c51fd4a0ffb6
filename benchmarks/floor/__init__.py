"""The floor: the demo contract's human work done by a bare django-viewflow 2 flow.

A contract-level process with one review task per action and lead, one vote per committee
member (decided by a majority of the members), the council's deliberation, then one signature
per signatory: no Accord domain (no FSM, no history, no notifications, no contract lock), each
task completed the way viewflow's own task views do it (``flow/utils.py``'s ``wrap_view`` and
``UpdateProcessView.form_valid``). It runs on viewflow's own ``Process`` and ``Task`` tables,
so the app has no model and no migration; it is installed by ``benchmarks/settings.py`` only.
"""
