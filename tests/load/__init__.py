"""Load tests run gunicorn against PostgreSQL (``bench/server.py``) and drive it with locust in
a subprocess (never imported here: locust patches the standard library with gevent)."""
