"""Tool-call screening: what a tool call will do, and whether the conversation asked for it.

The modules read as the data flow of one screened tool call:

    extract     ToolCall -> shell scripts and file writes (path, content)
    normalise   undo obfuscation: invisible characters, homoglyphs, ``${X:-d}``
                defaults, brace expansion, base64 / hex / rot13 payloads
    (relayguard.shell parses each script into simple commands)
    actions     commands -> Actions, using:
      installs    package-manager commands -> packages (name, source, index)
      payloads    decoder commands and their payloads, echo/printf text
      inline      code given to interpreters (python -c, node -e, heredocs, code files)
      network     secret reads, uploads, destinations, reverse shells
      files       how a command writes, unpacks, runs or uploads files
      flow        data flow between commands: pipes, substitutions, variables, files
      persist     writes that outlive the command: persistence, package-manager
                  configuration, dependency manifests; configuration commands
      later       files other tools run later (package.json scripts, Makefiles, CI, ...)
      sensitive   which paths, variables and hosts matter
      urls        hosts, owners on shared hosts, how a message names a URL
    model       the Action record every analysis produces
    typosquat   lookalikes of popular package names (the kinds and limits: namekinds)
    lookalike   lookalikes of names the conversation uses; Go owner confusion
    grounding   what the conversation names (URLs, hosts, owners, packages), per request
    policy      the TOML policy: trusted hosts, indexes, owners, package lists, rule actions

``relayguard.inspectors.screening`` puts them together and decides.
"""
