"""CLI sub-commands, one module each (discovered by ``satrec.cli``). Thin: parse, call the core, print."""
