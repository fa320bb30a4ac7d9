"""Dashboard pages, one module per page or area: function views that read through jobs.selectors and
jobs.listing and act through jobs.services.

Every view checks the user's role (dashboard.permissions) and never writes rows itself. Filters live
in the URL, so a page can be shared and reloaded; actions redirect back to the page they came from.
"""
