"""The HTTP adapter: a Litestar app (``app.create_app``) over
:class:`~application.service.PatientServices`."""
