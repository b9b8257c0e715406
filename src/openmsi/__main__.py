from openmsi.cli import app

app()
