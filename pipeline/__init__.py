"""The Kubeflow (kfp v2) retraining pipeline: `maldoc pipeline compile | run | schedule`.

    steps       what each step does, as plain functions over `maldoc.training`
    gate        promotion: beat the rules and the current (or shipped) bundle out of collection; record; publish
    components  one kfp component per step, each a thin wrapper over `steps` / `gate`
    pipeline    the wiring (ParallelFor over shards, Collected, If promoted)
    compile     YAML (golden file: maldoc_pipeline.yaml), local (kfp.local), client (KFP REST, one-line errors)
    cli         the `pipeline` command

kfp is an optional extra (`maldoc[pipeline]`): `components` imports it, the other modules only
inside their functions, so `maldoc` registers the `pipeline` command without it.
"""
