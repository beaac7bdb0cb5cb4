"""fincrime serve: the web API and the investigator console (see app.py)."""
