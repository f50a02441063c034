"""CDK stacks and constructs. Imports satrec (keys, settings) but is never imported by it."""
