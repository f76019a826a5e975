"""The stage kit: how a stage is declared, keyed, cached, leased and run, knowing no stage of the study.

``stage`` (the definition and ``Stage.run``), ``store`` (content-addressed outputs on a local path or an fsspec
URL), ``lease`` (one writer per key), ``code_version`` (a stage's import closure as a digest), ``prefect_stage``
(the Prefect task derived from a stage) and ``progress`` (progress artifacts). The study's stages live in
``tasks``; the kit never imports them.
"""
