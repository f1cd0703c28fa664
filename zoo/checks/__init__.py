"""The plugin contract as checks, shipped with zoo: ``zoo plugins check`` runs them and prints a
table, ``zoo.api.parametrize_with_checks`` makes each one a pytest test (zoo's own contract tests
use it). One implementation, in the spirit of scikit-learn's ``check_estimator``.

- ``check``: a check, its outcome, and how a failure or a skip is said;
- ``subjects``: what the checks of one item share (the built model, the export), made once;
- ``architecture``, ``dataset``, ``exporter``: the checks of each kind of spec;
- ``plan``: which checks run for the names asked, and the report of a run;
- ``testing``: the pytest helper.
"""
