from satrec.cli import run

run()
