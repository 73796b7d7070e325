"""Enforcement of the catalog: the CI gate (:mod:`.check`) and admission review (:mod:`.admission`).

Both judge image references with the one verdict engine
(:func:`baseguard.catalog.verdicts.judge`), so that a pipeline and a cluster never disagree
about an image.
"""
