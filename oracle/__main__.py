"""`python -m oracle`: the owner's commands (the same as `spartacus hub|dataset|offer`; the owner's withdraw
is `hub withdraw`)."""

from oracle.cli import owner_app

if __name__ == "__main__":
    owner_app(prog_name="python -m oracle")
