"""`python -m crawler` is the `newswatch` command."""

from crawler.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="newswatch")
