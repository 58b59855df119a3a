"""The detection benchmark's labelled data set: benign agent sessions built from
the shared corpus of real agent commands, and attacks in the paper's classes
(AC-1, AC-1.a, AC-1.b) and their adaptive variants, all as `relayguard check`
input lines in the three API dialects.

    from detection.attackset import generate
    records = generate(seed=1)

See README.md in this directory for what is generated and how.
"""
