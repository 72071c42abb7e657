"""The HTTP kit every resource module uses: authentication, problem details, request context,
command routes and read-side helpers.
"""
