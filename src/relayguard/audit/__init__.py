"""`relayguard audit`: probe a router the way an attacker's triggers expect to be
probed, and report evidence, not a guess.

The package reads as the run:

    fingerprints.py  agent personas (auto-approve sessions) and project fingerprints
    battery.py       the seeded plan: warm-up, the task battery, model probes
    probes.py        known-answer and generic prompts for model substitution
    canaries.py      the canary credentials planted in requests
    shapes.py        the plan's steps as agent-shaped request bodies, per dialect
    transport.py     HTTP to the router and the reference, replies read as an agent would
    runner.py        calls in order under a hard budget, progress, resumable state (state.py)
    canary_listener.py  the local HTTP listener URL canaries point at
    checks/          pure functions from results to findings and coverage
    report.py        verdict, terminal and JSON report; html.py the HTML page
    command.py       the `relayguard audit` command
"""
