"""Tool-call screening: what a tool call will do, and whether the conversation asked for it.

The modules read as the data flow of one screened tool call:

    extract     ToolCall -> shell scripts and file writes (path, content)
    normalise   undo obfuscation: invisible characters, homoglyphs, ``${X:-d}``
                defaults, brace expansion, base64 / hex / rot13 payloads
    (relayguard.shell parses each script into simple commands)
    installs    package-manager commands -> package specs (name, version, source, index)
    inline      code given to interpreters (python -c, node -e, heredocs) and written files
    flow        data flow between commands: pipes, substitutions, variables, files
    actions     commands -> Actions (install, download-exec, exfiltration, persistence, ...)
    typosquat   lookalikes of popular package names
    grounding   what the conversation names (URLs, hosts, owners, packages), per request
    policy      the TOML policy: trusted hosts, indexes, owners, package lists, rule actions

``relayguard.inspectors.screening`` puts them together and decides.
"""
