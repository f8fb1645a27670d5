"""Course of conduct: link incidents about the same victim and perpetrator into series (issue 14).

identifiers (people and identifiers of one incident) -> resolve (splink, across a batch) ->
series (same victim and perpetrator within a window) -> conduct (series-level offences);
``run.link_batch`` runs them all. See docs/course_of_conduct.md.
"""
